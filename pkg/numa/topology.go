// Package numa reads the host's CPU and memory topology from /sys under a
// root: NUMA nodes, online and offline CPUs, SMT siblings, per-node memory
// and hugepage pools, and the NUMA node of each network device. Every other
// module plans with it: CPUs local to a NIC, housekeeping CPUs per node,
// sibling-aware CPU selection.
package numa

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
)

// CPU is one logical CPU.
type CPU struct {
	ID       int        `json:"id"`
	Online   bool       `json:"online"`
	Node     int        `json:"node"`
	Package  int        `json:"package"`
	Core     int        `json:"core"`
	Siblings cpuset.Set `json:"siblings"`
	// Driver and Governor are the cpufreq scaling driver and governor;
	// empty when the CPU has no cpufreq (virtual machines, no driver).
	// Read leaves them empty; FillCPUFreq reads them.
	Driver   string `json:"cpufreqDriver,omitempty"`
	Governor string `json:"governor,omitempty"`
}

// HugepagePool is one page size on one node.
type HugepagePool struct {
	SizeKB  uint64 `json:"sizeKB"`
	Total   int    `json:"total"`
	Free    int    `json:"free"`
	Surplus int    `json:"surplus"`
}

// Node is one NUMA node.
type Node struct {
	ID        int            `json:"id"`
	CPUs      cpuset.Set     `json:"cpus"`
	MemoryKB  uint64         `json:"memoryKB"`
	FreeKB    uint64         `json:"freeKB"`
	Hugepages []HugepagePool `json:"hugepages"`
}

// NIC is a network interface backed by a device (not lo, veth, bridges).
type NIC struct {
	Name   string `json:"name"`
	PCI    string `json:"pci,omitempty"`
	Driver string `json:"driver,omitempty"`
	// Node is the NUMA node of the device; -1 when the firmware does not
	// say (numa_node reads -1), which on a one-node host means node 0.
	Node int `json:"node"`
}

// Topology is the host's layout.
type Topology struct {
	Nodes    []Node     `json:"nodes"`
	CPUs     []CPU      `json:"cpus"`
	Online   cpuset.Set `json:"online"`
	Possible cpuset.Set `json:"possible"`
	// Isolated and NohzFull are what the running kernel has.
	Isolated cpuset.Set `json:"isolated"`
	NohzFull cpuset.Set `json:"nohzFull"`
	// NohzFullSupported is false when the kernel has no NO_HZ_FULL (no
	// /sys/devices/system/cpu/nohz_full) and ignores nohz_full=.
	NohzFullSupported bool  `json:"nohzFullSupported"`
	NICs              []NIC `json:"nics"`
	// CPUInfo is the processor model and its feature flags.
	CPUInfo CPUInfo `json:"cpuInfo"`
	// HugepageSizesKB are the page sizes the kernel offers
	// (/sys/kernel/mm/hugepages), ascending; DefaultHugepageKB is the
	// default size (Hugepagesize in /proc/meminfo).
	HugepageSizesKB   []uint64 `json:"hugepageSizesKB"`
	DefaultHugepageKB uint64   `json:"defaultHugepageKB"`
}

// Read reads the topology under the root.
func Read(r *host.Root) (*Topology, error) {
	t := &Topology{}
	var err error
	cpuDir := r.Sys("devices/system/cpu")
	if t.Online, err = readSet(filepath.Join(cpuDir, "online")); err != nil {
		return nil, fmt.Errorf("read online CPUs: %w", err)
	}
	if t.Possible, err = readSet(filepath.Join(cpuDir, "possible")); err != nil {
		t.Possible = t.Online
	}
	t.Isolated, _ = readSet(filepath.Join(cpuDir, "isolated"))
	// A kernel with NO_HZ_FULL booted without nohz_full= prints "(null)".
	t.NohzFull, _ = readSet(filepath.Join(cpuDir, "nohz_full"))
	_, err = os.Stat(filepath.Join(cpuDir, "nohz_full"))
	t.NohzFullSupported = err == nil
	if err := t.readNodes(r); err != nil {
		return nil, err
	}
	nodeOf := map[int]int{}
	for _, n := range t.Nodes {
		for _, c := range n.CPUs.List() {
			nodeOf[c] = n.ID
		}
	}
	// Three files per CPU, hundreds on a big host: read in parallel,
	// then parsed in order.
	ids := t.Possible.List()
	const perCPU = 3
	paths := make([]string, 0, perCPU*len(ids))
	for _, id := range ids {
		dir := filepath.Join(cpuDir, "cpu"+strconv.Itoa(id))
		paths = append(paths,
			filepath.Join(dir, "topology", "physical_package_id"),
			filepath.Join(dir, "topology", "core_id"),
			filepath.Join(dir, "topology", "thread_siblings_list"))
	}
	reads := r.ReadStrings(paths)
	for i, id := range ids {
		f := reads[perCPU*i : perCPU*(i+1)]
		c := CPU{ID: id, Online: t.Online.Contains(id), Node: nodeOf[id]}
		c.Package = atoiOr(f[0], -1)
		c.Core = atoiOr(f[1], -1)
		c.Siblings = cpuset.Of(id)
		if f[2].Err == nil {
			if s, err := parseSet(f[2].S); err == nil {
				c.Siblings = s
			}
		}
		t.CPUs = append(t.CPUs, c)
	}
	t.NICs = readNICs(r, len(t.Nodes))
	if f, err := os.Open(r.Proc("cpuinfo")); err == nil {
		t.CPUInfo, _ = ParseCPUInfo(f)
		f.Close()
	}
	for _, p := range readPools(r.Sys("kernel/mm/hugepages")) {
		t.HugepageSizesKB = append(t.HugepageSizesKB, p.SizeKB)
	}
	t.DefaultHugepageKB = readMeminfoKey(r.Proc("meminfo"), "Hugepagesize:")
	return t, nil
}

// CPUFreq is a CPU's cpufreq scaling driver and governor, empty when
// the CPU has no cpufreq (virtual machines, no driver).
type CPUFreq struct {
	Driver, Governor string
}

// ReadCPUFreq reads the cpufreq driver and governor of each CPU of ids,
// in the order of ids. Read does not: two files per CPU that only the
// topology command needs.
func ReadCPUFreq(r *host.Root, ids []int) []CPUFreq {
	drivers, governors := readCPUFreqFiles(r, ids, "scaling_driver"), ReadGovernors(r, ids)
	out := make([]CPUFreq, len(ids))
	for i := range ids {
		out[i] = CPUFreq{Driver: drivers[i], Governor: governors[i]}
	}
	return out
}

// ReadGovernors reads the cpufreq governor of each CPU of ids, "" for a
// CPU without cpufreq.
func ReadGovernors(r *host.Root, ids []int) []string {
	return readCPUFreqFiles(r, ids, "scaling_governor")
}

func readCPUFreqFiles(r *host.Root, ids []int, name string) []string {
	paths := make([]string, len(ids))
	for i, id := range ids {
		paths[i] = r.Sys("devices/system/cpu", "cpu"+strconv.Itoa(id), "cpufreq", name)
	}
	out := make([]string, len(ids))
	for i, rd := range r.ReadStrings(paths) {
		if rd.Err == nil {
			out[i] = strings.TrimSpace(rd.S)
		}
	}
	return out
}

// FillCPUFreq sets Driver and Governor of every CPU of t (ReadCPUFreq).
// t must not be shared: a topology from ReadOnce is.
func (t *Topology) FillCPUFreq(r *host.Root) {
	ids := make([]int, len(t.CPUs))
	for i, c := range t.CPUs {
		ids[i] = c.ID
	}
	for i, f := range ReadCPUFreq(r, ids) {
		t.CPUs[i].Driver, t.CPUs[i].Governor = f.Driver, f.Governor
	}
}

func (t *Topology) readNodes(r *host.Root) error {
	nodeDir := r.Sys("devices/system/node")
	entries, err := os.ReadDir(nodeDir)
	if err == nil {
		for _, e := range entries {
			idStr, ok := strings.CutPrefix(e.Name(), "node")
			if !ok {
				continue
			}
			id, err := strconv.Atoi(idStr)
			if err != nil {
				continue
			}
			dir := filepath.Join(nodeDir, e.Name())
			n := Node{ID: id}
			if n.CPUs, err = readSet(filepath.Join(dir, "cpulist")); err != nil {
				return fmt.Errorf("read CPUs of node %d: %w", id, err)
			}
			n.MemoryKB, n.FreeKB = readNodeMeminfo(filepath.Join(dir, "meminfo"))
			n.Hugepages = readPools(filepath.Join(dir, "hugepages"))
			t.Nodes = append(t.Nodes, n)
		}
	}
	if len(t.Nodes) == 0 {
		// A kernel without NUMA support: one node with every CPU.
		n := Node{ID: 0, CPUs: t.Online}
		n.MemoryKB, n.FreeKB = readMeminfo(r.Proc("meminfo"))
		n.Hugepages = readPools(r.Sys("kernel/mm/hugepages"))
		t.Nodes = append(t.Nodes, n)
	}
	sort.Slice(t.Nodes, func(i, j int) bool { return t.Nodes[i].ID < t.Nodes[j].ID })
	return nil
}

// readPools reads hugepages-<N>kB directories.
func readPools(dir string) []HugepagePool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []HugepagePool
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), "hugepages-")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(s, "kB"), 10, 64)
		if err != nil {
			continue
		}
		p := filepath.Join(dir, e.Name())
		out = append(out, HugepagePool{
			SizeKB:  kb,
			Total:   readInt(filepath.Join(p, "nr_hugepages"), 0),
			Free:    readInt(filepath.Join(p, "free_hugepages"), 0),
			Surplus: readInt(filepath.Join(p, "surplus_hugepages"), 0),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SizeKB < out[j].SizeKB })
	return out
}

// readNICs lists network interfaces that have a device, with their PCI
// address, driver and NUMA node.
func readNICs(r *host.Root, nodes int) []NIC {
	netDir := r.Sys("class/net")
	entries, err := os.ReadDir(netDir)
	if err != nil {
		return nil
	}
	var out []NIC
	for _, e := range entries {
		dev := filepath.Join(netDir, e.Name(), "device")
		if _, err := os.Stat(dev); err != nil {
			continue
		}
		nic := NIC{Name: e.Name(), Node: -1}
		if l, err := os.Readlink(filepath.Join(dev, "driver")); err == nil {
			nic.Driver = filepath.Base(l)
		}
		if pci := PCIDevice(dev); pci != "" {
			nic.PCI = filepath.Base(pci)
			nic.Node = readInt(filepath.Join(pci, "numa_node"), -1)
		}
		if nic.Node < 0 && nodes == 1 {
			nic.Node = 0
		}
		out = append(out, nic)
	}
	return out
}

// PCIDevice follows a device link up to the PCI function it belongs to
// (a virtio NIC's device is virtioN under the PCI function) and returns its
// sysfs directory, or "" when the device is not on PCI.
func PCIDevice(dev string) string {
	p, err := filepath.EvalSymlinks(dev)
	if err != nil {
		return ""
	}
	for i := 0; i < 3 && p != "/" && p != "."; i++ {
		if isPCIName(filepath.Base(p)) {
			return p
		}
		p = filepath.Dir(p)
	}
	return ""
}

func isPCIName(s string) bool {
	// dddd:bb:dd.f
	return len(s) == 12 && s[4] == ':' && s[7] == ':' && s[10] == '.'
}

// Node returns the node with the given id.
func (t *Topology) Node(id int) (Node, bool) {
	for _, n := range t.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

// NodeOfCPU returns the node of a CPU, or -1.
func (t *Topology) NodeOfCPU(cpu int) int {
	for _, n := range t.Nodes {
		if n.CPUs.Contains(cpu) {
			return n.ID
		}
	}
	return -1
}

// CPUsOfNode returns the online CPUs of a node; node -1 means every online
// CPU.
func (t *Topology) CPUsOfNode(node int) cpuset.Set {
	if node < 0 {
		return t.Online
	}
	n, ok := t.Node(node)
	if !ok {
		return cpuset.Set{}
	}
	return n.CPUs.Intersect(t.Online)
}

// NodesOf returns the nodes that hold CPUs of s.
func (t *Topology) NodesOf(s cpuset.Set) []int {
	var out []int
	for _, n := range t.Nodes {
		if !n.CPUs.Intersect(s).IsEmpty() {
			out = append(out, n.ID)
		}
	}
	return out
}

// Siblings returns the SMT siblings of a CPU, itself included.
func (t *Topology) Siblings(cpu int) cpuset.Set {
	for _, c := range t.CPUs {
		if c.ID == cpu {
			return c.Siblings
		}
	}
	return cpuset.Of(cpu)
}

// Housekeeping returns the online CPUs of a node that are not in isolated.
func (t *Topology) Housekeeping(node int, isolated cpuset.Set) cpuset.Set {
	return t.CPUsOfNode(node).Difference(isolated)
}

// PickCores chooses n CPUs from the candidates, one per physical core
// first (so no two picks share a core's execution units), lowest numbers
// first; with useSiblings the siblings of picked cores are used too.
func (t *Topology) PickCores(candidates cpuset.Set, n int, useSiblings bool) cpuset.Set {
	var picked []int
	used := cpuset.Set{}
	for _, c := range candidates.List() {
		if len(picked) == n {
			break
		}
		if used.Contains(c) {
			continue
		}
		picked = append(picked, c)
		used = used.Union(t.Siblings(c))
		if useSiblings {
			for _, s := range t.Siblings(c).Intersect(candidates).List() {
				if s != c && len(picked) < n {
					picked = append(picked, s)
				}
			}
		}
	}
	return cpuset.Of(picked...)
}

// NICByName returns the NIC with that interface name.
func (t *Topology) NICByName(name string) (NIC, bool) {
	for _, n := range t.NICs {
		if n.Name == name {
			return n, true
		}
	}
	return NIC{}, false
}

func readSet(p string) (cpuset.Set, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return cpuset.Set{}, err
	}
	return parseSet(string(b))
}

// parseSet parses a CPU list file; "(null)" is the empty set.
func parseSet(s string) (cpuset.Set, error) {
	if strings.TrimSpace(s) == "(null)" {
		return cpuset.Set{}, nil
	}
	return cpuset.Parse(s)
}

// atoiOr is the number a file read holds, def when it failed or holds none.
func atoiOr(rd host.Read, def int) int {
	if rd.Err != nil {
		return def
	}
	v, err := strconv.Atoi(strings.TrimSpace(rd.S))
	if err != nil {
		return def
	}
	return v
}

// readMeminfoKey returns one "Key: value kB" number of a meminfo file.
func readMeminfoKey(p, key string) uint64 {
	f, err := os.Open(p)
	if err != nil {
		return 0
	}
	defer f.Close()
	return parseMeminfoKey(f, key)
}

// parseMeminfoKey returns the number on the first "Key: value kB" line of
// a meminfo file, 0 when there is none.
func parseMeminfoKey(rd io.Reader, key string) uint64 {
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == key {
			v, _ := strconv.ParseUint(fs[1], 10, 64)
			return v
		}
	}
	return 0
}

func readInt(p string, def int) int {
	b, err := os.ReadFile(p)
	if err != nil {
		return def
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return def
	}
	return v
}

// readNodeMeminfo reads "Node 0 MemTotal:  123 kB" lines.
func readNodeMeminfo(p string) (total, free uint64) {
	f, err := os.Open(p)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	return parseMeminfo(f, 2)
}

// readMeminfo reads /proc/meminfo.
func readMeminfo(p string) (total, free uint64) {
	f, err := os.Open(p)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	return parseMeminfo(f, 0)
}

// parseMeminfo reads MemTotal and MemFree; skip is the number of leading
// fields before the key ("Node 0").
func parseMeminfo(rd io.Reader, skip int) (total, free uint64) {
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < skip+2 {
			continue
		}
		v, err := strconv.ParseUint(f[skip+1], 10, 64)
		if err != nil {
			continue
		}
		switch f[skip] {
		case "MemTotal:":
			total = v
		case "MemFree:":
			free = v
		}
	}
	return total, free
}

// LocalCPUs returns the online CPUs on a NIC's node; every online CPU when
// the firmware does not say (numa_node -1).
func (t *Topology) LocalCPUs(n NIC) cpuset.Set { return t.CPUsOfNode(n.Node) }

// HousekeepingByNode returns, for every node that has CPUs, its online CPUs
// outside isolated.
func (t *Topology) HousekeepingByNode(isolated cpuset.Set) map[int]cpuset.Set {
	out := map[int]cpuset.Set{}
	for _, n := range t.Nodes {
		if !n.CPUs.IsEmpty() {
			out[n.ID] = t.Housekeeping(n.ID, isolated)
		}
	}
	return out
}

// NodesWithMemory returns the nodes that have memory, where hugepages can
// be reserved (a CPU-only node has none).
func (t *Topology) NodesWithMemory() []int {
	var out []int
	for _, n := range t.Nodes {
		if n.MemoryKB > 0 {
			out = append(out, n.ID)
		}
	}
	return out
}

// Pool returns a node's pool of one page size.
func (n Node) Pool(sizeKB uint64) (HugepagePool, bool) {
	for _, p := range n.Hugepages {
		if p.SizeKB == sizeKB {
			return p, true
		}
	}
	return HugepagePool{}, false
}

// HasHugepageSize reports whether the kernel offers a page size.
func (t *Topology) HasHugepageSize(kb uint64) bool {
	for _, s := range t.HugepageSizesKB {
		if s == kb {
			return true
		}
	}
	return false
}

// Cores groups the online CPUs by physical core: package, core id and the
// CPUs (SMT threads) of the core, ordered by node, package and core.
func (t *Topology) Cores() []Core {
	byKey := map[[2]int]*Core{}
	var keys [][2]int
	for _, c := range t.CPUs {
		if !c.Online {
			continue
		}
		k := [2]int{c.Package, c.Core}
		if c.Core < 0 {
			k = [2]int{c.Package, -1 - c.ID} // unknown core: one per CPU
		}
		co, ok := byKey[k]
		if !ok {
			co = &Core{Node: c.Node, Package: c.Package, Core: c.Core}
			byKey[k] = co
			keys = append(keys, k)
		}
		co.CPUs = co.CPUs.Union(cpuset.Of(c.ID))
	}
	out := make([]Core, 0, len(keys))
	for _, k := range keys {
		out = append(out, *byKey[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.CPUs.List()[0] < b.CPUs.List()[0]
	})
	return out
}

// Core is one physical core.
type Core struct {
	Node    int        `json:"node"`
	Package int        `json:"package"`
	Core    int        `json:"core"`
	CPUs    cpuset.Set `json:"cpus"`
}
