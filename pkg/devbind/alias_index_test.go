package devbind

import (
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestAliasIndexAgrees: matching through the lazy vendor index gives what
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
	var file strings.Builder
	for _, a := range as {
		fmt.Fprintf(&file, "alias %s %s\n", a.Pattern, a.Module)
	}
	file.WriteString("alias usb:v1234p5678d*dc*dsc*dp*ic*isc*ip*in* notpci\n")
	ix := newLazyAliases([]byte(file.String()))
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

// FuzzLazyAliases: the lazy index of a modules.alias file answers what
// MatchModules over ParseAliases's reading of the whole file answers.
func FuzzLazyAliases(f *testing.F) {
	f.Add("alias pci:v00008086d000010FBsv*sd*bc*sc*i* ixgbe\nalias pci:v*d*sv*sd*bc01sc08i02* nvme\n", "pci:v00008086d000010FBsv00008086sd00000003bc02sc00i00")
	f.Add("alias pci:v0000808?d* odd\r\n  alias\tpci:v00008086d* e1000e \nx pci:v00008086 y\nalias pci:v0000 short\n", "pci:v00008086d000010FB")
	f.Add("alias usb:v* x pci:v00008086d* \nalias pci:v00008086d*\u00a0m\n", "pci:v00008086d0000")
	f.Add("alias pci:[ x\n", "pci:")
	if b, err := os.ReadFile("testdata/modules.alias"); err == nil {
		f.Add(string(b), "pci:v00008086d000010C9sv00008086sd0000A03Cbc02sc00i00")
	}
	f.Fuzz(func(t *testing.T, in, modalias string) {
		as, err := ParseAliases(strings.NewReader(in))
		if err != nil {
			return // a line over the scanner's limit
		}
		la := newLazyAliases([]byte(in))
		// Twice: the second answer comes from what the first parsed.
		for i := 0; i < 2; i++ {
			if got, want := la.match(modalias), MatchModules(as, modalias); !slices.Equal(got, want) {
				t.Fatalf("%q in %q: lazy %v, whole file %v", modalias, in, got, want)
			}
		}
	})
}

// FuzzModulesAvailable: a module name is available by the raw-bytes
// search exactly when ParseModuleList's reading of the files lists it.
func FuzzModulesAvailable(f *testing.F) {
	f.Add("kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/vfio.ko.xz\nkernel/drivers/uio/uio_pci_generic.ko\n", "vfio_pci")
	f.Add("kernel/drivers/vfio/pci/vfio_pci.ko.xz:\r\n  x/vfio-pci.ko \n", "vfio-pci")
	f.Add("a/b.ko: c/vfio-pci.ko\n", "vfio-pci")
	f.Add("vfio-pci.ko\nvfio-pci.kox\n.ko\n/.ko", "uio_pci_generic")
	f.Fuzz(func(t *testing.T, in, name string) {
		set, err := ParseModuleList(strings.NewReader(in))
		if err != nil {
			return
		}
		km := kernelModules{raw: [][]byte{[]byte(in)}, lists: [][]byte{[]byte(strings.ReplaceAll(in, "-", "_"))}}
		if got, want := km.Available(name), set[ModuleName(name)]; got != want {
			t.Fatalf("%q in %q: available %v, list %v", name, in, got, want)
		}
	})
}
