package nics

import (
	"github.com/nettune/nettune/pkg/irqaffinity"
	"github.com/nettune/nettune/pkg/netqueue"
)

// readAhead queues for reading in the background, NIC by NIC in the
// order run plans them, the per-IRQ and per-queue files the plan of each
// NIC reads: the IRQs' smp_affinity_list, rps_cpus, xps_cpus and
// rps_flow_cnt. On a host with thousands of queues these reads are most of
// a plan's time, and the planner's own work on one NIC then overlaps the
// reads of the next. It is a guess made without side effects (no ethtool
// call: a match by permanent MAC address is not followed); a file it
// misses is read when planned, one it reads and the plan does not need is
// dropped.
func (p *planner) readAhead() {
	seen := map[string]bool{}
	for _, e := range p.spec.NICs {
		if e.IRQAffinity == nil && e.RPS == nil && e.XPS == nil && e.RFS == nil {
			continue
		}
		nics, _ := p.inv.Select(e.Match, nil)
		for _, n := range nics {
			if seen[n.Name] {
				continue
			}
			seen[n.Name] = true
			var paths []string
			if e.IRQAffinity != nil {
				msi, _ := irqaffinity.MSIIRQs(n.PCIDir)
				for _, irq := range msi {
					paths = append(paths, p.r.Path(irqaffinity.ListPath(irq)))
				}
			}
			rx, _ := p.queueList(n.Name, true)
			tx, _ := p.queueList(n.Name, false)
			if e.RPS != nil {
				for _, q := range rx {
					paths = append(paths, p.r.Path(netqueue.RPSPath(n.Name, q)))
				}
			}
			if e.XPS != nil {
				for _, q := range tx {
					paths = append(paths, p.r.Path(netqueue.XPSPath(n.Name, q)))
				}
			}
			if e.RFS != nil {
				for _, q := range rx {
					paths = append(paths, p.r.Path(netqueue.FlowCntPath(n.Name, q)))
				}
			}
			p.r.ReadAhead(paths)
		}
	}
}
