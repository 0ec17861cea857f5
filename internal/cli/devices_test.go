package cli

import (
	"encoding/json"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

const devbindFixtures = "../../pkg/devbind/testdata/"

// TestDevicesGolden lists the devices of fixtures with different IOMMU
// layouts: a PF whose functions share a group, devices behind a PCI
// bridge, and a host without IOMMU.
func TestDevicesGolden(t *testing.T) {
	for _, name := range []string{"pf-siblings", "bridge", "noiommu"} {
		t.Run(name, func(t *testing.T) {
			root := fixture.Unpack(t, devbindFixtures+name+".txtar")
			before := fixture.Digest(t, root)
			r := run(t, "", false, "devices", "--root", root)
			if r.code != ExitOK {
				t.Fatalf("devices: %d %s", r.code, r.stderr)
			}
			golden(t, "devices-"+name, r.stdout)
			r = run(t, "", false, "devices", "--all", "--root", root)
			if r.code != ExitOK {
				t.Fatalf("devices --all: %d %s", r.code, r.stderr)
			}
			golden(t, "devices-all-"+name, r.stdout)
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
				t.Fatalf("devices changed the tree: %v", diffs)
			}
		})
	}
}

func TestDevicesJSON(t *testing.T) {
	root := fixture.Unpack(t, devbindFixtures+"pf-siblings.txtar")
	r := run(t, "", false, "devices", "-o", "json", "--root", root)
	if r.code != ExitOK {
		t.Fatalf("devices -o json: %d %s", r.code, r.stderr)
	}
	golden(t, "devices-pf-siblings-json", r.stdout)
	var doc struct {
		FormatVersion string `json:"format_version"`
		Kind          string `json:"kind"`
		IOMMU         bool   `json:"iommu"`
		Devices       []struct {
			Address    string   `json:"address"`
			Driver     string   `json:"driver"`
			Interfaces []string `json:"interfaces"`
			IOMMUGroup string   `json:"iommuGroup"`
			GroupPeers []string `json:"groupPeers"`
			Drivers    []string `json:"drivers"`
			Active     bool     `json:"active"`
			Reasons    []string `json:"reasons"`
		} `json:"devices"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.FormatVersion != "1" || doc.Kind != "devices" || !doc.IOMMU || len(doc.Devices) != 9 {
		t.Fatalf("document: %+v", doc)
	}
	pf := doc.Devices[1]
	if pf.Address != "0000:03:00.0" || pf.IOMMUGroup != "12" || len(pf.GroupPeers) != 1 || pf.GroupPeers[0] != "0000:03:00.1" || pf.Active {
		t.Errorf("PF: %+v", pf)
	}
	if got := pf.Drivers; len(got) != 3 || got[0] != "ixgbe" || got[1] != "vfio-pci" || got[2] != "uio_pci_generic" {
		t.Errorf("usable drivers of the PF: %v", got)
	}
	if eth0 := doc.Devices[0]; !eth0.Active || len(eth0.Reasons) != 4 {
		t.Errorf("eth0: %+v", eth0)
	}
}
