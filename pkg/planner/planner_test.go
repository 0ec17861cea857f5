package planner

import (
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

func topology(t *testing.T, name string) *numa.Topology {
	t.Helper()
	r, err := host.New(fixture.Unpack(t, "../../testdata/hosts/"+name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	topo, err := numa.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestTwoNodesSMT: the X710 on node 1 gets workers on node 1 only, one per
// physical core, siblings idle and isolated, node 1's first core kept for
// housekeeping, 1G pages on node 1.
func TestTwoNodesSMT(t *testing.T) {
	topo := topology(t, "topo-2node-32cpu-smt")
	p, err := Make(topo, Request{NICs: []string{"ens2f0"}, Cores: 4, Gigantic: true})
	if err != nil {
		t.Fatal(err)
	}
	node1 := topo.CPUsOfNode(1)
	if !p.Workers.IsSubsetOf(node1) || p.Workers.Len() != 4 {
		t.Errorf("workers %s not 4 CPUs of node 1 (%s)", p.Workers, node1)
	}
	for _, c := range p.Workers.List() {
		if sib := topo.Siblings(c).Intersect(p.Workers); sib.Len() != 1 {
			t.Errorf("workers share a core: %s", sib)
		}
		if !topo.Siblings(c).IsSubsetOf(p.Isolated) {
			t.Errorf("sibling of worker %d not isolated", c)
		}
	}
	if got, want := p.Workers.String(), "9-12"; got != want {
		t.Errorf("workers = %s, want %s (8 and 24 stay housekeeping)", got, want)
	}
	if got, want := p.Idle.String(), "25-28"; got != want {
		t.Errorf("idle siblings = %s, want %s", got, want)
	}
	if !p.Housekeeping.Contains(0) || !p.Housekeeping.Contains(8) || !p.Housekeeping.Intersect(p.Isolated).IsEmpty() {
		t.Errorf("housekeeping %s / isolated %s", p.Housekeeping, p.Isolated)
	}
	if p.PageSize != profile.GiB || p.Pages[1] < 1 || len(p.Pages) != 1 {
		t.Errorf("pages %v of %s", p.Pages, p.PageSize)
	}
	out, err := p.Render(topo)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "two-node-smt.yaml", out)
	prof, err := profile.Parse("g.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if !prof.Spec.CPU.Isolated.Equal(p.Isolated) || !prof.Spec.Dataplane.Lcores.Equal(p.Workers) || !prof.Spec.IRQBalance.BannedCPUs.Equal(p.Isolated) {
		t.Errorf("masks in the profile disagree with the plan")
	}
	if len(prof.Spec.Devices) != 1 || prof.Spec.Devices[0].PCI != "0000:af:00.0" || prof.Spec.Devices[0].Driver != "vfio-pci" {
		t.Errorf("devices %+v", prof.Spec.Devices)
	}
	for _, n := range prof.Spec.NICs {
		if n.Match.Name == "ens2f0" {
			t.Error("the data-plane NIC got kernel NIC settings")
		}
		if !n.RPS.CPUs.Intersect(p.Isolated).IsEmpty() {
			t.Errorf("RPS of %s on isolated CPUs: %s", n.Match.Name, n.RPS.CPUs)
		}
	}
}

func TestUseSiblings(t *testing.T) {
	topo := topology(t, "topo-2node-32cpu-smt")
	p, err := Make(topo, Request{NICs: []string{"0000:af:00.0"}, Cores: 4, UseSiblings: true, PageSize: 2 * profile.MiB, Gigantic: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Workers.String(); got != "9-10,25-26" {
		t.Errorf("workers with siblings = %s", got)
	}
	if !p.Idle.IsEmpty() || p.PageSize != 2*profile.MiB {
		t.Errorf("idle %s, page %s", p.Idle, p.PageSize)
	}
}

func TestOneNode(t *testing.T) {
	topo := topology(t, "topo-1node-8cpu")
	if len(topo.NICs) == 0 {
		t.Skip("fixture has no NIC")
	}
	nic := topo.NICs[0]
	p, err := Make(topo, Request{NICs: []string{nic.Name}, Cores: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Workers.Contains(0) || p.Workers.Len() != 2 || p.PageSize != 2*profile.MiB {
		t.Errorf("workers %s page %s", p.Workers, p.PageSize)
	}
	out, err := p.Render(topo)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "one-node.yaml", out)
}

func TestErrors(t *testing.T) {
	topo := topology(t, "topo-2node-32cpu-smt")
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{NICs: []string{"eth9"}, Cores: 1}, `no NIC "eth9" on this host; NICs: `},
		{Request{NICs: []string{"ens2f0"}, Cores: 8}, "leaves 7 usable for 8 data-plane cores; --use-siblings"},
		{Request{NICs: []string{"ens2f0"}, Cores: 0}, "at least 1"},
		{Request{NICs: []string{"ens2f0"}, Cores: 1, PageSize: profile.GiB}, "no pdpe1gb"},
		{Request{NICs: []string{"ens2f0", "0000:af:00.0"}, Cores: 1}, "named twice"},
	} {
		_, err := Make(topo, tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.req, err, tc.want)
		}
	}
}

func TestPairs(t *testing.T) {
	if got := pairs(3); len(got) != 2 || got[1] != [2]int{2, 2} {
		t.Errorf("pairs(3) = %v", got)
	}
	_ = cpuset.Set{}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	fixture.Golden(t, "testdata/"+name, got)
}

// TestUnknownNode: eno1 reports numa_node -1 on a two-node host; the plan
// says that node 0 is a guess instead of assuming it silently.
func TestUnknownNode(t *testing.T) {
	topo := topology(t, "topo-2node-32cpu-smt")
	p, err := Make(topo, Request{NICs: []string{"eno1"}, Cores: 2})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Render(topo)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "# NOTE: the NUMA node of eno1") || !strings.Contains(string(out), "is unknown (its numa_node reads -1): node 0 is assumed") {
		t.Errorf("no note about the unknown node:\n%s", out)
	}
	// A NIC whose node is known gets no note.
	p, _ = Make(topo, Request{NICs: []string{"ens2f0"}, Cores: 2, Gigantic: true})
	if len(p.Notes) != 0 {
		t.Errorf("notes for ens2f0: %q", p.Notes)
	}
}

// TestRuntime2MNeedsNoBootArgument: 2M pages reserved at runtime on a
// kernel whose default page size is 2M do not set defaultSize (a boot
// argument a host without an editable boot loader cannot take); 1G pages,
// reserved at boot, do.
func TestRuntime2MNeedsNoBootArgument(t *testing.T) {
	topo := topology(t, "topo-1node-8cpu")
	p, err := Make(topo, Request{NICs: []string{topo.NICs[0].Name}, Cores: 2})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Render(topo)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Parse("g.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if h := prof.Spec.Hugepages; h.DefaultSize != 0 || h.Pages[0].Boot {
		t.Errorf("runtime 2M pool sets defaultSize %s (boot %v):\n%s", h.DefaultSize, h.Pages[0].Boot, out)
	}
	topo2 := topology(t, "topo-2node-32cpu-smt")
	p, _ = Make(topo2, Request{NICs: []string{"ens2f0"}, Cores: 2, Gigantic: true})
	out, _ = p.Render(topo2)
	if prof, err := profile.Parse("g.yaml", out); err != nil || prof.Spec.Hugepages.DefaultSize != profile.GiB {
		t.Errorf("1G pool: %v\n%s", err, out)
	}
}

// TestAMDHost: on an AMD CPU the generated profile has no intel_iommu=on,
// which only Intel's IOMMU driver reads (nettune would warn about it).
func TestAMDHost(t *testing.T) {
	topo := topology(t, "topo-1node-8cpu")
	if len(topo.NICs) == 0 {
		t.Skip("fixture has no NIC")
	}
	topo.CPUInfo.Vendor = "AuthenticAMD"
	p, err := Make(topo, Request{NICs: []string{topo.NICs[0].Name}, Cores: 2})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Render(topo)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); strings.Contains(s, "- intel_iommu=on") || !strings.Contains(s, "the AMD IOMMU is on by default") || !strings.Contains(s, "workqueues: true") {
		t.Errorf("AMD profile:\n%s", s)
	}
}
