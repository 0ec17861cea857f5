package numa

import (
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
)

func readFixture(t *testing.T, name string) (*Topology, *host.Root) {
	t.Helper()
	r, err := host.New(fixture.Unpack(t, "../../testdata/hosts/"+name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	topo, err := Read(r)
	if err != nil {
		t.Fatal(err)
	}
	return topo, r
}

func TestTwoNodes(t *testing.T) {
	topo, r := readFixture(t, "topo-2node-32cpu-smt")
	if len(topo.Nodes) != 2 || topo.Online.String() != "0-31" {
		t.Fatalf("nodes %d, online %s", len(topo.Nodes), topo.Online)
	}
	if got := topo.CPUsOfNode(1).String(); got != "8-15,24-31" {
		t.Errorf("node 1 CPUs %s", got)
	}
	if got := topo.Siblings(3).String(); got != "3,19" {
		t.Errorf("siblings of 3: %s", got)
	}
	if topo.NodeOfCPU(24) != 1 || topo.NodeOfCPU(23) != 0 {
		t.Errorf("NodeOfCPU(24)=%d NodeOfCPU(23)=%d", topo.NodeOfCPU(24), topo.NodeOfCPU(23))
	}
	n1, _ := topo.Node(1)
	if n1.MemoryKB != 33292288 || len(n1.Hugepages) != 2 || n1.Hugepages[1].SizeKB != 1048576 {
		t.Errorf("node 1: %+v", n1)
	}
	if !topo.CPUInfo.GiganticPages() || !topo.HasHugepageSize(1048576) || topo.DefaultHugepageKB != 2048 {
		t.Errorf("1G support: flag %v, sizes %v, default %d", topo.CPUInfo.GiganticPages(), topo.HugepageSizesKB, topo.DefaultHugepageKB)
	}
	if topo.CPUInfo.Vendor != "GenuineIntel" || !strings.Contains(topo.CPUInfo.Model, "Silver 4110") {
		t.Errorf("cpu info %+v", topo.CPUInfo)
	}
	if c := topo.CPUs[5]; c.Driver != "" || c.Governor != "" || c.Core != 8 || c.Package != 0 {
		t.Errorf("cpu 5 as Read reads it (no cpufreq): %+v", c)
	}
	topo.FillCPUFreq(r)
	if c := topo.CPUs[5]; c.Driver != "intel_pstate" || c.Governor != "powersave" {
		t.Errorf("cpu 5 with cpufreq: %+v", c)
	}
	// A kernel with NO_HZ_FULL and no nohz_full= prints "(null)".
	if !topo.NohzFull.IsEmpty() || !topo.Isolated.IsEmpty() {
		t.Errorf("nohz_full %s isolated %s", topo.NohzFull, topo.Isolated)
	}
	ens, ok := topo.NICByName("ens2f0")
	if !ok || ens.Node != 1 || ens.PCI != "0000:af:00.0" || ens.Driver != "i40e" {
		t.Errorf("ens2f0: %+v", ens)
	}
	if got := topo.LocalCPUs(ens).String(); got != "8-15,24-31" {
		t.Errorf("CPUs local to ens2f0: %s", got)
	}
	// numa_node -1 on a two-node host stays unknown: every CPU is "local".
	eno, _ := topo.NICByName("eno1")
	if eno.Node != -1 || topo.LocalCPUs(eno).String() != "0-31" {
		t.Errorf("eno1: %+v local %s", eno, topo.LocalCPUs(eno))
	}
	if _, ok := topo.NICByName("lo"); ok {
		t.Error("lo listed as a NIC")
	}
	hk := topo.HousekeepingByNode(cpuset.MustParse("2-7,18-23,10-15"))
	if hk[0].String() != "0-1,16-17" || hk[1].String() != "8-9,24-31" {
		t.Errorf("housekeeping by node: %v", hk)
	}
	cores := topo.Cores()
	if len(cores) != 16 || cores[0].CPUs.String() != "0,16" || cores[8].Node != 1 || cores[8].CPUs.String() != "8,24" {
		t.Errorf("cores: %+v", cores)
	}
	// Sibling-aware selection: one thread per core first.
	if got := topo.PickCores(topo.CPUsOfNode(1), 4, false).String(); got != "8-11" {
		t.Errorf("PickCores = %s", got)
	}
	if got := topo.PickCores(topo.CPUsOfNode(1), 4, true).String(); got != "8-9,24-25" {
		t.Errorf("PickCores with siblings = %s", got)
	}
}

func TestOneNodeVM(t *testing.T) {
	topo, r := readFixture(t, "topo-1node-8cpu")
	if len(topo.Nodes) != 1 || topo.Online.Len() != 8 || len(topo.Cores()) != 8 {
		t.Fatalf("topology %+v", topo)
	}
	if topo.CPUInfo.GiganticPages() || topo.HasHugepageSize(1048576) {
		t.Error("1G pages reported on a host without them")
	}
	topo.FillCPUFreq(r)
	if topo.CPUs[0].Driver != "" || topo.CPUs[0].Governor != "" {
		t.Errorf("cpufreq on a VM: %+v", topo.CPUs[0])
	}
	// virtio: the PCI function is the parent of virtio0; numa_node -1 on
	// one node means node 0.
	ens, ok := topo.NICByName("ens3")
	if !ok || ens.Node != 0 || ens.PCI != "0000:00:03.0" || ens.Driver != "virtio_net" {
		t.Errorf("ens3: %+v", ens)
	}
	if got := topo.NodesWithMemory(); len(got) != 1 || got[0] != 0 {
		t.Errorf("nodes with memory %v", got)
	}
	// An offline CPU is possible but not online, and belongs to no core.
	fixture.Overwrite(t, r.Sys("devices/system/cpu/online"), []byte("0-6\n"))
	topo, _ = Read(r)
	if topo.CPUs[7].Online || topo.CPUsOfNode(0).Contains(7) || len(topo.Cores()) != 7 {
		t.Errorf("offline CPU 7: %+v", topo.CPUs[7])
	}
}

func TestParseCPUInfo(t *testing.T) {
	in := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7313 16-Core Processor\nflags\t\t: fpu pse pdpe1gb lm\n\nprocessor\t: 1\nflags\t\t: fpu\n"
	c, err := ParseCPUInfo(strings.NewReader(in))
	if err != nil || c.Vendor != "AuthenticAMD" || c.Model != "AMD EPYC 7313 16-Core Processor" || !c.GiganticPages() || len(c.Flags) != 4 {
		t.Errorf("%+v %v", c, err)
	}
	arm := "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull\nCPU implementer\t: 0x41\n"
	c, _ = ParseCPUInfo(strings.NewReader(arm))
	if c.Vendor != "0x41" || !c.HasFlag("asimd") || c.GiganticPages() {
		t.Errorf("arm64: %+v", c)
	}
}

func FuzzParseCPUInfo(f *testing.F) {
	f.Add("processor\t: 0\nflags\t\t: a b\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCPUInfo(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, fl := range c.Flags {
			if fl == "" || strings.ContainsAny(fl, " \t\n") {
				t.Fatalf("bad flag %q", fl)
			}
		}
	})
}
