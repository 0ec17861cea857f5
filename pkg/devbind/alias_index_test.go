package devbind

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// TestAliasIndexAgrees: matching through the vendor index gives what
// MatchModules gives over every alias, for modaliases of indexed vendors,
// of vendors no alias names, and aliases whose vendor is a pattern.
func TestAliasIndexAgrees(t *testing.T) {
	as := []Alias{
		{"pci:v00008086d000010FBsv*sd*bc*sc*i*", "ixgbe"},
		{"pci:v00008086d000010C9sv*sd*bc*sc*i*", "igb"},
		{"pci:v00008086d*sv*sd*bc02sc00i*", "e1000e"},
		{"pci:v00001AF4d00001000sv*sd*bc*sc*i*", "virtio_pci"},
		{"pci:v*d*sv*sd*bc01sc08i02*", "nvme"},
		{"pci:v0000808?d*sv*sd*bc*sc*i*", "oddball"},
		{"pci:v[0-9]*d*sv*sd*bc0Csc03i30*", "xhci_pci"},
		{"pci:v000015B3d00001017sv*sd*bc*sc*i*", "mlx5_core"},
	}
	ix := indexAliases(as)
	rng := rand.New(rand.NewSource(1))
	vendors := []string{"00008086", "00001AF4", "000015B3", "00008088", "0000ABCD", "10DE"}
	devices := []string{"000010FB", "000010C9", "00001000", "00001017", "0000FFFF"}
	classes := []string{"bc02sc00i00", "bc01sc08i02", "bc0Csc03i30", "bc06sc04i00"}
	for i := 0; i < 500; i++ {
		m := fmt.Sprintf("pci:v%sd%ssv00008086sd00000003%s", vendors[rng.Intn(len(vendors))], devices[rng.Intn(len(devices))], classes[rng.Intn(len(classes))])
		if got, want := ix.match(m), MatchModules(as, m); !slices.Equal(got, want) {
			t.Fatalf("%s: index %v, all aliases %v", m, got, want)
		}
	}
	for _, m := range []string{"", "pci:", "pci:v0000", "usb:v1234p5678"} {
		if got, want := ix.match(m), MatchModules(as, m); !slices.Equal(got, want) {
			t.Fatalf("%q: index %v, all aliases %v", m, got, want)
		}
	}
}
