package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/spf13/cobra"
)

func (a *app) topologyCommand() *cobra.Command {
	return &cobra.Command{
		Use: "topology",
		Example: `  nettune topology
  nettune topology -o json`,
		Short: "Show NUMA nodes, cores, hugepage pools and the NUMA node of each NIC",
		Long: `Print the host's CPU and memory layout as nettune plans with it: NUMA nodes
with their CPUs, memory and hugepage pools per size, physical cores with
their SMT siblings per socket (like DPDK's cpu_layout.py), the NICs with
their PCI address, driver, node and local CPUs, the cpufreq driver and
governors, the hugepage sizes the kernel and CPU support, and what the
running kernel isolates. Reads /sys and /proc under --root; writes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			eng, err := a.engine()
			if err != nil {
				return err
			}
			topo, err := numa.Read(eng.Env.Root)
			if err != nil {
				return err
			}
			topo.FillCPUFreq(eng.Env.Root)
			body := topologyBody{Topology: topo, Cores: topo.Cores()}
			if body.Cores == nil {
				body.Cores = []numa.Core{}
			}
			return a.printer.Print(output.Document{Kind: "topology", Body: body, Table: func(t *output.TableWriter) {
				renderTopology(t, topo, body.Cores)
			}})
		},
	}
}

type topologyBody struct {
	*numa.Topology
	Cores []numa.Core `json:"cores"`
}

func renderTopology(t *output.TableWriter, topo *numa.Topology, cores []numa.Core) {
	model := topo.CPUInfo.Model
	if model == "" {
		model = "unknown model"
	}
	smt := "SMT off"
	if len(cores) < topo.Online.Len() {
		smt = "SMT on"
	}
	t.Line("CPU:       %s; %d of %d CPUs online, %d cores, %s", model, topo.Online.Len(), topo.Possible.Len(), len(cores), smt)
	t.Line("cpufreq:   %s", cpufreqSummary(topo))
	t.Line("isolated:  %s (nohz_full: %s)", orNone(topo.Isolated), orNone(topo.NohzFull))
	var sizes []string
	for _, kb := range topo.HugepageSizesKB {
		s := pageSize(kb)
		if kb == topo.DefaultHugepageKB {
			s += " (default)"
		}
		sizes = append(sizes, s)
	}
	gig := "the CPU cannot map 1G pages (no pdpe1gb)"
	if topo.CPUInfo.GiganticPages() {
		gig = "the CPU can map 1G pages (pdpe1gb)"
	}
	t.Line("hugepages: %s; %s", strings.Join(orDash(sizes), ", "), gig)
	t.Line("")

	header := []string{"NODE", "CPUS", "MEMORY", "FREE"}
	for _, kb := range topo.HugepageSizesKB {
		header = append(header, pageSize(kb)+" TOTAL/FREE")
	}
	header = append(header, "NICS")
	var rows [][]string
	for _, n := range topo.Nodes {
		row := []string{fmt.Sprint(n.ID), orNone(n.CPUs), gib(n.MemoryKB), gib(n.FreeKB)}
		for _, kb := range topo.HugepageSizesKB {
			if p, ok := n.Pool(kb); ok {
				row = append(row, fmt.Sprintf("%d/%d", p.Total, p.Free))
			} else {
				row = append(row, "-")
			}
		}
		var nics []string
		for _, nic := range topo.NICs {
			if nic.Node == n.ID {
				nics = append(nics, nic.Name)
			}
		}
		rows = append(rows, append(row, strings.Join(orDash(nics), ",")))
	}
	t.Rows(header, rows)
	t.Line("")

	// Cores per socket, as cpu_layout.py draws them.
	var pkgs []int
	byCore := map[int]map[int]cpuset.Set{}
	var coreIDs []int
	for _, c := range cores {
		if !containsInt(pkgs, c.Package) {
			pkgs = append(pkgs, c.Package)
		}
		if byCore[c.Core] == nil {
			byCore[c.Core] = map[int]cpuset.Set{}
			coreIDs = append(coreIDs, c.Core)
		}
		byCore[c.Core][c.Package] = byCore[c.Core][c.Package].Union(c.CPUs)
	}
	sort.Ints(pkgs)
	sort.Ints(coreIDs)
	header = []string{"CORE"}
	for _, p := range pkgs {
		header = append(header, fmt.Sprintf("SOCKET %d", p))
	}
	rows = nil
	for _, id := range coreIDs {
		row := []string{fmt.Sprint(id)}
		for _, p := range pkgs {
			row = append(row, orDash1(byCore[id][p].String()))
		}
		rows = append(rows, row)
	}
	t.Rows(header, rows)

	if len(topo.NICs) > 0 {
		t.Line("")
		rows = nil
		for _, n := range topo.NICs {
			node, local := fmt.Sprint(n.Node), topo.LocalCPUs(n).String()
			if n.Node < 0 {
				node, local = "-", local+" (the firmware gives no node)"
			}
			rows = append(rows, []string{n.Name, orDash1(n.PCI), orDash1(n.Driver), node, local})
		}
		t.Rows([]string{"NIC", "PCI", "DRIVER", "NODE", "LOCAL CPUS"}, rows)
	}
}

// cpufreqSummary groups the online CPUs by scaling driver and governor.
func cpufreqSummary(topo *numa.Topology) string {
	groups := map[string][]int{}
	var keys []string
	for _, c := range topo.CPUs {
		if !c.Online {
			continue
		}
		k := "none (no cpufreq: virtual machine or no driver)"
		if c.Driver != "" {
			k = fmt.Sprintf("%s, governor %s", c.Driver, c.Governor)
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], c.ID)
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s on %s", k, cpuset.Of(groups[k]...)))
	}
	return strings.Join(orDash(parts), "; ")
}

func pageSize(kb uint64) string {
	switch {
	case kb%(1<<20) == 0:
		return fmt.Sprintf("%dG", kb>>20)
	case kb%(1<<10) == 0:
		return fmt.Sprintf("%dM", kb>>10)
	}
	return fmt.Sprintf("%dK", kb)
}

func gib(kb uint64) string { return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20)) }

func orNone(s cpuset.Set) string {
	if s.IsEmpty() {
		return "none"
	}
	return s.String()
}

func orDash(s []string) []string {
	if len(s) == 0 {
		return []string{"-"}
	}
	return s
}

func orDash1(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
