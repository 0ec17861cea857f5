package numa

import (
	"testing"

	"github.com/nettune/nettune/pkg/host"
)

// TestReadLiveHost reads this machine's topology: every online CPU must
// belong to a node, and the nodes' CPUs must cover the online set.
func TestReadLiveHost(t *testing.T) {
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	topo, err := Read(r)
	if err != nil {
		t.Fatal(err)
	}
	if topo.Online.IsEmpty() || len(topo.Nodes) == 0 {
		t.Fatalf("empty topology: %+v", topo)
	}
	for _, c := range topo.Online.List() {
		if topo.NodeOfCPU(c) < 0 {
			t.Errorf("online CPU %d on no node", c)
		}
		if !topo.Siblings(c).Contains(c) {
			t.Errorf("CPU %d is not its own sibling", c)
		}
	}
	for _, n := range topo.NICs {
		if n.Node < -1 {
			t.Errorf("NIC %s node %d", n.Name, n.Node)
		}
	}
}
