package dataplane

import (
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

func twoNodeHost(t *testing.T) (*host.Root, *numa.Topology) {
	t.Helper()
	r, err := host.New(fixture.Unpack(t, "../../testdata/hosts/topo-2node-32cpu-smt.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	topo, err := numa.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	return r, topo
}

func spec(t *testing.T, y string) *profile.Spec {
	t.Helper()
	p, err := profile.Parse("t.yaml", []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: t}\nspec:\n"+y))
	if err != nil {
		t.Fatal(err)
	}
	return &p.Spec
}

// Worker CPUs default to the isolated CPUs on the port's NUMA node; the
// main lcore gets the housekeeping CPUs.
func TestFromProfileDefaults(t *testing.T) {
	r, topo := twoNodeHost(t)
	cfg, err := FromProfile(r, spec(t, `  cpu:
    isolated: "2-3,9-10"
    housekeeping: "0-1,8"
  dataplane:
    ports:
      - {name: a, pci: "af:00.0"}
      - {name: b, vdev: net_null0, peerMAC: "02:00:00:00:00:09"}
    mtu: 9000
    mbufDataSize: 9344
`), topo)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Lcores; len(got) != 2 || got[0] != 9 || got[1] != 10 {
		t.Errorf("lcores %v, want the isolated CPUs of node 1: 9,10", got)
	}
	if len(cfg.MainCPUs) != 3 || cfg.Ports[0].PCI != "0000:af:00.0" || cfg.Ports[0].Socket != 1 || cfg.Ports[1].PeerMAC.String() != "02:00:00:00:00:09" {
		t.Errorf("cfg %+v", cfg)
	}
	if len(cfg.Pairs) != 1 || cfg.Pairs[0] != [2]int{0, 1} {
		t.Errorf("pairs %v", cfg.Pairs)
	}
	if cfg.MTU != 9000 || cfg.MbufDataSize != 9344 {
		t.Errorf("mtu %d, mbuf data size %d", cfg.MTU, cfg.MbufDataSize)
	}
}

func TestFromProfileErrors(t *testing.T) {
	r, topo := twoNodeHost(t)
	for _, tc := range []struct{ y, want string }{
		{"  sysctl: {a.b: 1}\n", "no spec.dataplane"},
		{"  dataplane:\n    ports: [{name: a, vdev: net_null0}]\n", "no worker CPUs"},
		{"  dataplane:\n    ports: [{name: a, vdev: net_null0}]\n    lcores: \"40\"\n", "not online"},
		{"  dataplane:\n    ports: [{name: a, vdev: net_null0}]\n    lcores: \"0-31\"\n", "no housekeeping CPU left"},
	} {
		_, err := FromProfile(r, spec(t, tc.y), topo)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.y, err, tc.want)
		}
	}
}

func TestPreflight(t *testing.T) {
	r, topo := twoNodeHost(t)
	cfg, err := FromProfile(r, spec(t, "  dataplane:\n    ports: [{name: a, pci: \"0000:af:00.0\"}]\n    lcores: \"9\"\n"), topo)
	if err != nil {
		t.Fatal(err)
	}
	problems, warnings := Preflight(r, topo, cfg)
	all := strings.Join(problems, "\n")
	if !strings.Contains(all, "0000:af:00.0 is on i40e; bind it to vfio-pci") || !strings.Contains(all, "node 1: the forwarder needs") {
		t.Errorf("problems:\n%s", all)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "not all isolated") {
		t.Errorf("warnings %q", warnings)
	}
}
