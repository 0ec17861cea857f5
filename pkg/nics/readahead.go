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
			// One batch per directory: each is read through a
			// descriptor of its directory (/proc/irq, the queues).
			if e.IRQAffinity != nil {
				msi, _ := irqaffinity.MSIIRQs(n.PCIDir)
				p.r.ReadAhead(p.paths(msi, irqaffinity.ListPath))
			}
			rx, _ := p.queueList(n.Name, true)
			tx, _ := p.queueList(n.Name, false)
			queuePaths := func(qs []int, path func(string, int) string) []string {
				return p.paths(qs, func(q int) string { return path(n.Name, q) })
			}
			if e.RPS != nil {
				p.r.ReadAhead(queuePaths(rx, netqueue.RPSPath))
			}
			if e.XPS != nil {
				p.r.ReadAhead(queuePaths(tx, netqueue.XPSPath))
			}
			if e.RFS != nil {
				p.r.ReadAhead(queuePaths(rx, netqueue.FlowCntPath))
			}
		}
	}
}

// paths are the files path names for each of ids, under the root.
func (p *planner) paths(ids []int, path func(int) string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = p.r.Path(path(id))
	}
	return out
}

// itemsEstimate is about the number of items run plans: a few per NIC,
// one per queue for each of RPS, XPS and RFS, one per queue IRQ. With it
// the items (a few hundred bytes each, thousands of them) are not copied
// each time their slice doubles.
func (p *planner) itemsEstimate() int {
	n := 0
	for _, e := range p.spec.NICs {
		nics, _ := p.inv.Select(e.Match, nil)
		for _, nic := range nics {
			rx, _ := p.queueList(nic.Name, true)
			tx, _ := p.queueList(nic.Name, false)
			n += 32
			if e.IRQAffinity != nil {
				n += max(len(rx), len(tx))
			}
			if e.RPS != nil {
				n += len(rx)
			}
			if e.RFS != nil {
				n += len(rx)
			}
			if e.XPS != nil {
				n += len(tx)
			}
		}
	}
	return n
}
