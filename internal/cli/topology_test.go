package cli

import (
	"encoding/json"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

func TestTopology(t *testing.T) {
	for _, name := range []string{"topo-2node-32cpu-smt", "topo-1node-8cpu"} {
		root := fixture.Unpack(t, "../../testdata/hosts/"+name+".txtar")
		r := run(t, "", false, "topology", "--root", root)
		if r.code != ExitOK {
			t.Fatalf("%s: exit %d: %s", name, r.code, r.stderr)
		}
		golden(t, "topology-"+name, r.stdout)

		r = run(t, "", false, "topology", "--root", root, "-o", "json")
		var doc struct {
			FormatVersion string `json:"format_version"`
			Kind          string `json:"kind"`
			Nodes         []struct {
				ID        int    `json:"id"`
				CPUs      string `json:"cpus"`
				Hugepages []struct {
					SizeKB uint64 `json:"sizeKB"`
				} `json:"hugepages"`
			} `json:"nodes"`
			NICs []struct {
				Name string `json:"name"`
				Node int    `json:"node"`
			} `json:"nics"`
			Cores []struct {
				CPUs string `json:"cpus"`
			} `json:"cores"`
			HugepageSizesKB []uint64 `json:"hugepageSizesKB"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitOK {
			t.Fatalf("%s: json: %v (exit %d)\n%s", name, err, r.code, r.stdout)
		}
		if doc.FormatVersion != "1" || doc.Kind != "topology" || len(doc.Nodes) == 0 || len(doc.Cores) == 0 || len(doc.HugepageSizesKB) == 0 {
			t.Errorf("%s: json document %+v", name, doc)
		}
		if name == "topo-2node-32cpu-smt" && (doc.Nodes[1].CPUs != "8-15,24-31" || len(doc.Nodes[1].Hugepages) != 2 || doc.Cores[0].CPUs != "0,16") {
			t.Errorf("json nodes %+v cores %+v", doc.Nodes, doc.Cores[:1])
		}
	}
}

// TestTopologyLiveHost reads this machine: whatever it has, the command
// must succeed and print the node table.
func TestTopologyLiveHost(t *testing.T) {
	r := run(t, "", false, "topology")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}
