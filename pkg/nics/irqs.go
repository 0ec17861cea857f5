package nics

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/irqaffinity"
	"github.com/nettune/nettune/pkg/numa"
)

// IRQRow is one interrupt of a NIC as `nettune irqs` shows it.
type IRQRow struct {
	NIC    string `json:"nic"`
	Driver string `json:"driver,omitempty"`
	// Node is the NIC's NUMA node (-1 unknown).
	Node  int    `json:"node"`
	Queue string `json:"queue"`
	Kind  string `json:"kind"`
	IRQ   int    `json:"irq"`
	Name  string `json:"name"`
	// Requested is smp_affinity_list, Effective effective_affinity_list.
	Requested cpuset.Set `json:"requested"`
	Effective cpuset.Set `json:"effective"`
	// CPUNodes are the NUMA nodes of the effective CPUs (the requested
	// ones when the kernel does not report an effective affinity).
	CPUNodes []int `json:"cpuNodes"`
	// Count is the number of interrupts taken so far.
	Count uint64 `json:"count"`
	// Managed: the kernel manages the affinity (debugfs says so).
	Managed bool `json:"managed,omitempty"`
}

// Remote reports whether the IRQ runs on CPUs of another NUMA node than
// its NIC's.
func (r IRQRow) Remote() bool {
	if r.Node < 0 {
		return false
	}
	for _, n := range r.CPUNodes {
		if n != r.Node {
			return true
		}
	}
	return false
}

// IRQTable lists the interrupts of the NICs whose name matches pattern
// (a shell glob; "" for every NIC): queue, IRQ, requested and effective
// CPUs, and NUMA nodes.
func IRQTable(r *host.Root, pattern string) ([]IRQRow, error) {
	topo, err := numa.Read(r)
	if err != nil {
		return nil, err
	}
	var eth ethtool.Interface
	if e, err := ethtool.Open(r); err == nil {
		eth = e
		defer e.Close()
	}
	inv, err := ReadInventory(r, topo, eth)
	if err != nil {
		return nil, err
	}
	irqs, err := irqaffinity.ReadInterrupts(r)
	if err != nil {
		return nil, err
	}
	total := make(map[int]uint64, len(irqs))
	for _, q := range irqs {
		total[q.Number] = q.Total()
	}
	var rows []IRQRow
	matched := false
	managed := readManaged(r)
	for _, n := range inv.NICs {
		if pattern != "" {
			if ok, err := path.Match(pattern, n.Name); err != nil {
				return nil, fmt.Errorf("bad NIC pattern %q: %w", pattern, err)
			} else if !ok {
				continue
			}
		}
		matched = true
		msi, err := irqaffinity.MSIIRQs(n.PCIDir)
		if err != nil {
			return nil, err
		}
		qs := irqaffinity.Queues(n.Device(), irqs, msi)
		nums := make([]int, len(qs))
		for i, q := range qs {
			nums[i] = q.IRQ
		}
		affs, errs := irqaffinity.ReadMany(r, nums)
		for i, q := range qs {
			row := IRQRow{NIC: n.Name, Driver: n.Driver, Node: n.Node, Queue: q.Label, Kind: q.Kind, IRQ: q.IRQ, Name: q.Name, Count: total[q.IRQ]}
			if errs[i] == nil {
				row.Requested, row.Effective = affs[i].Requested, affs[i].Effective
			}
			on := row.Effective
			if on.IsEmpty() {
				on = row.Requested
			}
			row.CPUNodes = topo.NodesOf(on)
			row.Managed = managed.has(q.IRQ)
			rows = append(rows, row)
		}
	}
	if pattern != "" && !matched {
		return nil, fmt.Errorf("no NIC matches %q; NICs on this host: %s", pattern, inv.Names())
	}
	return rows, nil
}

// FormatNodes renders node numbers for a table cell.
func FormatNodes(nodes []int) string {
	if len(nodes) == 0 {
		return "-"
	}
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}
