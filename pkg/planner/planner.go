// Package planner writes a profile for this host from a few decisions:
// which NICs the DPDK data plane takes, how many cores it gets, and which
// hugepage size it uses. It chooses data-plane cores on each NIC's NUMA
// node, keeps at least one whole physical core per node (and CPU 0) for
// housekeeping, leaves the SMT siblings of data-plane cores idle unless
// told otherwise, and derives every mask from those two sets so that
// isolation, IRQ affinity, irqbalance and RPS agree. Hugepages are sized
// for the forwarder's mbuf pools.
package planner

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

// Request is what the operator decides.
type Request struct {
	// NICs are interface names or PCI addresses for the data plane.
	NICs []string
	// Cores is the number of data-plane (worker) CPUs in total.
	Cores int
	// PageSize is 2M or 1G; zero picks 1G when the CPU supports it.
	PageSize profile.Size
	// UseSiblings puts workers on SMT siblings too instead of leaving them
	// idle.
	UseSiblings bool
	// Gigantic says whether the CPU has pdpe1gb (1G pages).
	Gigantic bool
	// Name is metadata.name.
	Name string
}

// Plan is the outcome, before rendering.
type Plan struct {
	Name         string
	Ports        []Port
	Workers      cpuset.Set
	Isolated     cpuset.Set
	Housekeeping cpuset.Set
	// Idle are SMT siblings of workers left without work.
	Idle     cpuset.Set
	PageSize profile.Size
	// Pages per NUMA node.
	Pages     map[int]int
	PoolMbufs map[int]uint32
	// KernelNICs are the other NICs, kept on housekeeping CPUs.
	KernelNICs []numa.NIC
	// DefaultSize says whether the profile sets hugepages.defaultSize
	// (default_hugepagesz=, a boot argument): for 1G pages, or when the
	// kernel's default page size is another one. Runtime-only 2M pools on
	// a kernel whose default is 2M need no boot argument, so a host whose
	// boot loader nettune cannot edit can still use them.
	DefaultSize bool
	// Notes are what the plan assumed; they head the generated profile.
	Notes []string
}

// Port is one data-plane NIC.
type Port struct {
	Name string // p0, p1...
	NIC  numa.NIC
}

// Make computes the plan.
func Make(topo *numa.Topology, req Request) (*Plan, error) {
	if req.Cores < 1 {
		return nil, fmt.Errorf("--cores must be at least 1")
	}
	if len(req.NICs) == 0 {
		return nil, fmt.Errorf("name at least one NIC for the data plane (--nic)")
	}
	p := &Plan{Name: req.Name, Pages: map[int]int{}, PoolMbufs: map[int]uint32{}}
	if p.Name == "" {
		p.Name = "dpdk-" + strings.Join(req.NICs, "-")
	}
	// Ports, by name or PCI address.
	used := map[string]bool{}
	for i, ref := range req.NICs {
		nic, err := findNIC(topo, ref)
		if err != nil {
			return nil, err
		}
		if used[nic.PCI] {
			return nil, fmt.Errorf("NIC %s is named twice", ref)
		}
		used[nic.PCI] = true
		if nic.Node < 0 {
			// numa_node reads -1: the firmware does not say. On a
			// one-node host that is node 0; elsewhere it is a guess, and
			// the profile says so.
			if len(topo.Nodes) > 1 {
				p.Notes = append(p.Notes, fmt.Sprintf("the NUMA node of %s (%s) is unknown (its numa_node reads -1): node 0 is assumed for its cores and pages; check the slot with lspci -vv or the board manual, and move lcores and pages to the right node", nic.Name, nic.PCI))
			}
			nic.Node = 0
		}
		p.Ports = append(p.Ports, Port{Name: fmt.Sprintf("p%d", i), NIC: nic})
	}
	for _, n := range topo.NICs {
		if !used[n.PCI] && n.PCI != "" {
			p.KernelNICs = append(p.KernelNICs, n)
		}
	}
	// Cores: split over the NICs' nodes, remainder to the first.
	nodes := portNodes(p.Ports)
	per := map[int]int{}
	for i, n := range nodes {
		per[n] = req.Cores / len(nodes)
		if i < req.Cores%len(nodes) {
			per[n]++
		}
	}
	var workers, isolated cpuset.Set
	for _, n := range nodes {
		local := topo.CPUsOfNode(n)
		keep := housekeepingCore(topo, local)
		candidates := local.Difference(keep)
		picked := topo.PickCores(candidates, per[n], req.UseSiblings)
		if picked.Len() < per[n] {
			return nil, fmt.Errorf("node %d has %d CPUs (%s); keeping %s for housekeeping leaves %d usable for %d data-plane cores%s",
				n, local.Len(), local, keep, picked.Len(), per[n], siblingHint(req))
		}
		workers = workers.Union(picked)
		iso := picked
		for _, c := range picked.List() {
			iso = iso.Union(topo.Siblings(c).Intersect(local))
		}
		isolated = isolated.Union(iso)
	}
	p.Workers = workers
	p.Isolated = isolated
	p.Idle = isolated.Difference(workers)
	p.Housekeeping = topo.Online.Difference(isolated)

	// Hugepages: the forwarder's pool per node plus EAL overhead.
	p.PageSize = req.PageSize
	if p.PageSize == 0 {
		p.PageSize = 2 * profile.MiB
		if req.Gigantic {
			p.PageSize = profile.GiB
		}
	}
	if p.PageSize == profile.GiB && !req.Gigantic {
		return nil, fmt.Errorf("1G pages asked for, but this CPU has no pdpe1gb; use --hugepages 2M")
	}
	if p.PageSize != profile.GiB && p.PageSize != 2*profile.MiB {
		return nil, fmt.Errorf("hugepage size %s: use 2M or 1G", p.PageSize)
	}
	p.DefaultSize = p.PageSize == profile.GiB || (topo.DefaultHugepageKB != 0 && topo.DefaultHugepageKB != p.PageSize.KB())
	cfg := p.dataplaneConfig(topo)
	for _, n := range nodes {
		p.PoolMbufs[n] = dataplane.PoolSize(cfg, n)
		need := dataplane.MemoryNeeded(cfg, n)
		p.Pages[n] = int((need + uint64(p.PageSize) - 1) / uint64(p.PageSize))
	}
	return p, nil
}

func siblingHint(req Request) string {
	if req.UseSiblings {
		return ""
	}
	return "; --use-siblings puts workers on SMT siblings too"
}

func (p *Plan) dataplaneConfig(topo *numa.Topology) dataplane.Config {
	cfg := dataplane.Config{Lcores: p.Workers.List(), MainCPUs: p.Housekeeping.List()}
	for _, port := range p.Ports {
		cfg.Ports = append(cfg.Ports, dataplane.Port{Name: port.Name, PCI: port.NIC.PCI, Socket: port.NIC.Node})
	}
	cfg.Pairs = pairs(len(p.Ports))
	return cfg
}

// pairs pairs ports two by two; an odd last port forwards to itself.
func pairs(n int) [][2]int {
	var out [][2]int
	for i := 0; i+1 < n; i += 2 {
		out = append(out, [2]int{i, i + 1})
	}
	if n%2 == 1 {
		out = append(out, [2]int{n - 1, n - 1})
	}
	return out
}

// housekeepingCore is the first physical core of a node (all its SMT
// siblings), plus CPU 0 wherever it is.
func housekeepingCore(topo *numa.Topology, local cpuset.Set) cpuset.Set {
	keep := cpuset.Set{}
	if !local.IsEmpty() {
		keep = topo.Siblings(local.List()[0]).Intersect(local)
	}
	if local.Contains(0) {
		keep = keep.Union(topo.Siblings(0).Intersect(local))
	}
	return keep
}

func portNodes(ports []Port) []int {
	seen := map[int]bool{}
	var out []int
	for _, p := range ports {
		if !seen[p.NIC.Node] {
			seen[p.NIC.Node] = true
			out = append(out, p.NIC.Node)
		}
	}
	sort.Ints(out)
	return out
}

func findNIC(topo *numa.Topology, ref string) (numa.NIC, error) {
	var names []string
	for _, n := range topo.NICs {
		if n.Name == ref || (n.PCI != "" && profile.IsPCIAddress(ref) && n.PCI == profile.NormalizePCI(ref)) {
			if n.PCI == "" {
				return numa.NIC{}, fmt.Errorf("NIC %s is not a PCI device; DPDK needs a PCI NIC (or use a vdev in spec.dataplane by hand)", ref)
			}
			return n, nil
		}
		names = append(names, fmt.Sprintf("%s (%s, %s, node %d)", n.Name, n.PCI, n.Driver, n.Node))
	}
	return numa.NIC{}, fmt.Errorf("no NIC %q on this host; NICs: %s", ref, strings.Join(names, ", "))
}

var tmpl = template.Must(template.New("profile").Funcs(template.FuncMap{
	// Replaced in Render, where the topology is known.
	"housekeeping": func(*Plan, int) string { return "" },
	"pairs":        func(*Plan) [][2]string { return nil },
	"vendor":       func() string { return "" },
	"nodes": func(m map[int]int) []int {
		var out []int
		for k := range m {
			out = append(out, k)
		}
		sort.Ints(out)
		return out
	},
}).Parse(`# Generated by 'nettune profile generate' for this host. Review before applying:
#   nettune validate FILE && nettune plan FILE
{{- range .Notes}}
# NOTE: {{.}}
{{- end}}
apiVersion: nettune/v1
kind: Profile
metadata:
  name: {{.Name}}
  description: DPDK forwarder on {{range $i, $p := .Ports}}{{if $i}}, {{end}}{{$p.NIC.Name}} ({{$p.NIC.PCI}}, node {{$p.NIC.Node}}){{end}}
spec:
  cpu:
    # Data-plane workers run on {{.Workers}}{{if not .Idle.IsEmpty}}; their SMT siblings {{.Idle}} stay
    # idle (isolated, no work) so they do not share execution units with a poll loop{{end}}.
    isolated: "{{.Isolated}}"
    # Kernel work, IRQs and the forwarder's control thread: at least one
    # whole core per NUMA node, CPU 0 included.
    housekeeping: "{{.Housekeeping}}"
    nohzFull: true        # no scheduler tick on a CPU running one task
    rcuNocbs: true        # RCU callbacks run on housekeeping CPUs
    isolcpusFlags: [managed_irq, domain]
    irqAffinity: true     # irqaffinity= housekeeping: new IRQs start there
    kernelArgs:
      - skew_tick=1       # spread timer ticks so CPUs do not contend for jiffies_lock
      - iommu=pt          # passthrough for host devices, translation only for vfio
{{- if ne (vendor) "AuthenticAMD"}}
      - intel_iommu=on    # vfio-pci needs the IOMMU, which Intel kernels leave off
{{- else}}
      # (no intel_iommu=on: the AMD IOMMU is on by default and amd_iommu reads no "on")
{{- end}}
    power:
      governor: performance  # no frequency ramps under a poll loop
      maxCState: 1           # wake-up latency of deep C-states is tens of microseconds
      # Held by 'nettune run' while the forwarder runs (PM QoS, /dev/cpu_dma_latency):
      # without a reboot, no CPU enters an idle state slower than 10 us to leave.
      cpuDmaLatency: 10
    # Kernel work that isolcpus= does not move, moved at runtime (module housekeeping):
    runtime:
      workqueues: true       # unbound kworkers and writeback flushers only on housekeeping CPUs
      timerMigration: false  # timers stay on the CPU that armed them (as TuneD cpu-partitioning)
      watchdog: housekeeping # lockup detectors' per-CPU timers and NMIs only on housekeeping CPUs
  hugepages:
{{- if .DefaultSize}}
    defaultSize: {{.PageSize}}
{{- end}}
    pages:
{{- range $n := nodes .Pages}}
      # Node {{$n}}: {{index $.PoolMbufs $n}} mbufs x 2432 B + 64 MB for the EAL.
      - {size: {{$.PageSize}}, count: {{index $.Pages $n}}, node: {{$n}}{{if eq $.PageSize.String "1G"}}, boot: true{{end}}}
{{- end}}
    mounts:
      - {path: /dev/hugepages{{if eq .PageSize.String "1G"}}-1G{{end}}, pageSize: {{.PageSize}}, mode: "1770"}
    transparent: never    # no khugepaged scans or compaction stalls
  irqbalance:
    mode: ban             # irqbalance keeps running for the kernel NICs, off the isolated CPUs
    bannedCPUs: "{{.Isolated}}"
    defaultAffinity: "{{.Housekeeping}}"
{{- if .KernelNICs}}
  nics:
{{- range .KernelNICs}}
    # {{.Name}} stays with the kernel: its IRQs and RPS on housekeeping CPUs{{if ge .Node 0}} of node {{.Node}}{{end}}.
    - match: {name: {{.Name}}}
      irqAffinity: {strategy: local}
      rps: {cpus: "{{housekeeping $ .Node}}"}
{{- end}}
{{- end}}
  devices:
{{- range .Ports}}
    - {pci: "{{.NIC.PCI}}", driver: vfio-pci}   # was {{.NIC.Driver}} ({{.NIC.Name}})
{{- end}}
  dataplane:
    ports:
{{- range .Ports}}
      - {name: {{.Name}}, pci: "{{.NIC.PCI}}"}
{{- end}}
    pairs:
{{- range pairs .}}
      - [{{index . 0}}, {{index . 1}}]
{{- end}}
    mode: io
    lcores: "{{.Workers}}"
    rxDescriptors: 1024
    txDescriptors: 1024
    burst: 32
`))

// Render writes the plan as a commented profile and checks that it parses.
func (p *Plan) Render(topo *numa.Topology) ([]byte, error) {
	t, err := tmpl.Clone()
	if err != nil {
		return nil, err
	}
	t.Funcs(template.FuncMap{
		"vendor": func() string { return topo.CPUInfo.Vendor },
		"housekeeping": func(pl *Plan, node int) string {
			return pl.Housekeeping.Intersect(topo.CPUsOfNode(node)).String()
		},
		"pairs": func(pl *Plan) [][2]string {
			var out [][2]string
			for _, pr := range pairs(len(pl.Ports)) {
				out = append(out, [2]string{pl.Ports[pr[0]].Name, pl.Ports[pr[1]].Name})
			}
			return out
		},
	})
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return nil, err
	}
	if _, err := profile.Parse("generated.yaml", b.Bytes()); err != nil {
		return nil, fmt.Errorf("generated profile does not parse (a nettune bug): %w\n%s", err, b.String())
	}
	return b.Bytes(), nil
}
