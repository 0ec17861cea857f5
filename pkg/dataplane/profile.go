package dataplane

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

// FromProfile builds the forwarder's Config from a profile's spec and the
// host topology: ports and pairs by name (two by two when pairs are not
// given), worker CPUs from spec.dataplane.lcores or else the isolated CPUs
// on the ports' NUMA nodes, housekeeping CPUs from spec.cpu.housekeeping or
// else every other online CPU.
func FromProfile(r *host.Root, spec *profile.Spec, topo *numa.Topology) (Config, error) {
	dp := spec.Dataplane
	if dp == nil {
		return Config{}, fmt.Errorf("the profile has no spec.dataplane section")
	}
	cfg := Config{
		Mode: dp.Mode, RxDesc: dp.RXDescriptors, TxDesc: dp.TXDescriptors, Burst: dp.Burst,
		NoHuge: dp.NoHuge, MemoryMB: dp.MemoryMB, TxFirst: dp.TxFirst, ExtraEAL: dp.EALArgs,
		MTU: dp.MTU, MbufDataSize: dp.MbufDataSize, RTPriority: dp.RTPriority,
	}
	index := map[string]int{}
	nodes := cpuset.Set{}
	for i, p := range dp.Ports {
		port := Port{Name: p.Name, Vdev: p.Vdev, Socket: -1}
		if p.PCI != "" {
			port.PCI = profile.NormalizePCI(p.PCI)
			port.Socket = pciNode(r, port.PCI)
		}
		if p.PF != "" && p.VF != nil {
			vf, err := vfAddress(r, profile.NormalizePCI(p.PF), *p.VF)
			if err != nil {
				return Config{}, fmt.Errorf("port %s: %w", p.Name, err)
			}
			port.PCI = vf
			port.Socket = pciNode(r, vf)
		}
		if p.PeerMAC != "" {
			mac, err := net.ParseMAC(p.PeerMAC)
			if err != nil {
				return Config{}, fmt.Errorf("port %s: peer MAC %q: %w", p.Name, p.PeerMAC, err)
			}
			port.PeerMAC = mac
		}
		if port.Socket >= 0 {
			nodes = nodes.Union(cpuset.Of(port.Socket))
		}
		index[p.Name] = i
		cfg.Ports = append(cfg.Ports, port)
	}
	if len(dp.Pairs) == 0 {
		for i := 0; i < len(cfg.Ports); i += 2 {
			j := min(i+1, len(cfg.Ports)-1)
			cfg.Pairs = append(cfg.Pairs, [2]int{i, j})
		}
	}
	for _, pr := range dp.Pairs {
		if len(pr) != 2 {
			return Config{}, fmt.Errorf("pair %v: a pair names two ports", pr)
		}
		a, okA := index[pr[0]]
		b, okB := index[pr[1]]
		if !okA || !okB {
			return Config{}, fmt.Errorf("pair %v names an unknown port", pr)
		}
		cfg.Pairs = append(cfg.Pairs, [2]int{a, b})
	}

	lcores := dp.Lcores
	if lcores.IsEmpty() && spec.CPU != nil {
		lcores = spec.CPU.Isolated
		if !nodes.IsEmpty() {
			local := cpuset.Set{}
			for _, n := range nodes.List() {
				local = local.Union(topo.CPUsOfNode(n))
			}
			if l := lcores.Intersect(local); !l.IsEmpty() {
				lcores = l
			}
		}
	}
	if lcores.IsEmpty() {
		return Config{}, fmt.Errorf("no worker CPUs: set spec.dataplane.lcores or spec.cpu.isolated")
	}
	if off := lcores.Difference(topo.Online); !off.IsEmpty() && !topo.Online.IsEmpty() {
		return Config{}, fmt.Errorf("worker CPUs %s are not online (online: %s)", off, topo.Online)
	}
	cfg.Lcores = lcores.List()
	main := topo.Online.Difference(lcores)
	if spec.CPU != nil && !spec.CPU.Housekeeping.IsEmpty() {
		main = spec.CPU.Housekeeping.Difference(lcores)
	}
	if main.IsEmpty() {
		return Config{}, fmt.Errorf("no housekeeping CPU left for the main lcore: the workers take %s of %s", lcores, topo.Online)
	}
	cfg.MainCPUs = main.List()
	if _, err := Layout(cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func pciNode(r *host.Root, pci string) int {
	b, err := os.ReadFile(r.Sys("bus/pci/devices", pci, "numa_node"))
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}

// dpdkDrivers are the kernel drivers a DPDK PMD can use a PCI device
// through; bifurcated drivers keep the kernel driver bound.
var dpdkDrivers = map[string]bool{"vfio-pci": true, "uio_pci_generic": true, "igb_uio": true, "mlx5_core": true, "mlx4_core": true}

// Preflight checks the host before the forwarder starts: PCI ports bound to
// a DPDK-usable driver, enough free hugepage memory on each port's node,
// worker CPUs isolated by the running kernel and without runnable tasks,
// RT throttling off for SCHED_FIFO workers. Problems are hard errors;
// warnings are printed and do not stop the run.
func Preflight(r *host.Root, topo *numa.Topology, cfg Config) (problems, warnings []string) {
	for _, p := range cfg.Ports {
		if p.PCI == "" {
			continue
		}
		dev := r.Sys("bus/pci/devices", p.PCI)
		if _, err := os.Stat(dev); err != nil {
			problems = append(problems, fmt.Sprintf("port %s: no PCI device %s on this host", p.Label(), p.PCI))
			continue
		}
		drv := ""
		if l, err := os.Readlink(filepath.Join(dev, "driver")); err == nil {
			drv = filepath.Base(l)
		}
		if !dpdkDrivers[drv] {
			if drv == "" {
				drv = "no driver"
			}
			problems = append(problems, fmt.Sprintf("port %s: %s is on %s; bind it to vfio-pci first (spec.devices and nettune apply, or nettune bind %s --driver vfio-pci)", p.Label(), p.PCI, drv, p.PCI))
		}
	}
	if !cfg.NoHuge {
		sockets := map[int]bool{}
		for _, p := range cfg.Ports {
			sockets[max(p.Socket, 0)] = true
		}
		for s := range sockets {
			page := hugePageBytes(topo, s)
			est := MemoryEstimate(cfg, s)
			need := roundUp(est, page)
			free := freeHugeBytes(topo, s)
			if need > free {
				problems = append(problems, fmt.Sprintf("node %d: the forwarder needs %s of hugepages (%d mbufs × %d B + %s for the EAL and the rings, in %s pages), %s are free; reserve more (spec.hugepages) or set spec.dataplane.noHuge for vdev-only tests",
					s, mib(need), PoolSize(cfg, s), MbufBytesOf(cfg), mib(est-uint64(PoolSize(cfg, s))*uint64(MbufBytesOf(cfg))), mib(page), mib(free)))
			}
		}
	}
	lc := cpuset.Of(cfg.Lcores...)
	if !lc.IsSubsetOf(topo.Isolated) {
		warnings = append(warnings, fmt.Sprintf("worker CPUs %s are not all isolated by the running kernel (isolated: %q): the scheduler may run other tasks there", lc, topo.Isolated.String()))
	}
	if w := runnableWarning(RunnableOn(r, cfg.Lcores, os.Getpid())); w != "" {
		warnings = append(warnings, w)
	}
	if cfg.RTPriority > 0 {
		if w := RTThrottleWarning(r); w != "" {
			warnings = append(warnings, w)
		}
	}
	return problems, warnings
}

// mib formats a byte count in MiB with two decimals.
func mib(b uint64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }

func roundUp(n, to uint64) uint64 {
	if to == 0 {
		return n
	}
	return (n + to - 1) / to * to
}

// hugePageBytes is the size of the smallest hugepages with free pages on
// the node (the EAL takes memory in pages of that size), else 2 MiB.
func hugePageBytes(topo *numa.Topology, node int) uint64 {
	for _, n := range topo.Nodes {
		if n.ID != node && len(topo.Nodes) > 1 {
			continue
		}
		for _, p := range n.Hugepages { // sorted by size
			if p.Free > 0 {
				return p.SizeKB << 10
			}
		}
	}
	return 2 << 20
}

// freeHugeBytes is the free hugepage memory of a node over all sizes; a
// host without NUMA information counts everything as node 0.
func freeHugeBytes(topo *numa.Topology, node int) uint64 {
	var b uint64
	for _, n := range topo.Nodes {
		if n.ID != node && len(topo.Nodes) > 1 {
			continue
		}
		for _, p := range n.Hugepages {
			b += uint64(p.Free) * p.SizeKB << 10
		}
	}
	return b
}

// vfAddress is the PCI address of VF n of pf: the virtfnN link when the VF
// exists, else the address spec.sriov will create it at (plan runs before
// apply has created it).
func vfAddress(r *host.Root, pf string, n int) (string, error) {
	if a := devbind.VirtFn(r, pf, n); a != "" {
		return a, nil
	}
	if !r.Exists(r.Sys("bus/pci/devices", pf, "sriov_totalvfs")) {
		return "", fmt.Errorf("%s is no SR-IOV physical function on this host (no sriov_totalvfs)", pf)
	}
	return devbind.PredictVF(r, pf, n)
}
