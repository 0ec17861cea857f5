package diagnose

import (
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
)

// TestOnlyRateRulesReadSamples: check --interval 0 takes no sample, so a
// rule that is not a rate rule must never look at one. Each such rule
// runs here with no samples at all (nil): reading one panics. The fixtures
// give the rules a host with NICs, rings, PCIe and a profile to look at.
func TestOnlyRateRulesReadSamples(t *testing.T) {
	for _, overlay := range []string{"rings.txtar", "pcie.txtar", "managers.txtar", "napi.txtar", "host-caps.txtar"} {
		root := fixture.Unpack(t, "testdata/quiet.txtar")
		if err := fixture.UnpackTo("testdata/"+overlay, root); err != nil {
			t.Fatal(err)
		}
		r, err := host.New(root)
		if err != nil {
			t.Fatal(err)
		}
		topo, err := numa.Read(r)
		if err != nil {
			t.Fatal(err)
		}
		spec := parseSpec(t, "  nics:\n  - match: {name: eth0}\n    coalesce: {rxUsecs: 50}\n    rings: {rx: 512}\n  devices: [{pci: \"0000:00:03.0\", driver: vfio-pci}]\n")
		for _, rule := range Rules() {
			if rule.Rate {
				continue
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s (%s, not a rate rule) read a sample on %s: %v", rule.ID, rule.Name, overlay, p)
					}
				}()
				rule.Run(&Input{Root: r, Topo: topo, Spec: spec})
			}()
		}
	}
}
