package devbind

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
)

func TestCaptureFromSnapshot(t *testing.T) {
	src := fixture.Unpack(t, "testdata/pf-siblings.txtar")
	dst := t.TempDir()
	n, err := Capture(context.Background(), src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("%d files captured, want modules.alias, modules.dep, modules.builtin and pci.ids", n)
	}
	if _, err := os.Stat(filepath.Join(dst, NetworkFile)); err == nil {
		t.Error("network state captured from a snapshot source (it is copied as a file instead)")
	}
	alias, _ := os.ReadFile(filepath.Join(dst, "lib/modules/6.1.0-sim/modules.alias"))
	if !strings.Contains(string(alias), "alias pci:v00008086d000010FBsv*sd*bc*sc*i* ixgbe\n") || strings.Contains(string(alias), "vfio_pci:") {
		t.Errorf("modules.alias excerpt:\n%s", alias)
	}
	ids, _ := os.ReadFile(filepath.Join(dst, "usr/share/misc/pci.ids"))
	for _, want := range []string{"8086  Intel Corporation\n", "\t10fb  82599ES", "\t1017  MT27800", "C 02  Network controller\n", "\t00  Ethernet controller\n"} {
		if !strings.Contains(string(ids), want) {
			t.Errorf("pci.ids excerpt lacks %q", want)
		}
	}
	for _, absent := range []string{"244e", "a33c", "8086 0003", "Normal decode"} {
		if strings.Contains(string(ids), absent) {
			t.Errorf("pci.ids excerpt has %q", absent)
		}
	}
	// The excerpt names the same devices as the full file.
	r := &host.Root{Prefix: src}
	full, _ := Scan(r, LoadIDs(r))
	r2 := &host.Root{Prefix: dst}
	short := LoadIDs(r2)
	for _, d := range full.Devices {
		if d.Listed() && short.Device(hex16(d.VendorID), hex16(d.DeviceID)) != d.DeviceName {
			t.Errorf("%s: excerpt names it %q, full file %q", d.Address, short.Device(hex16(d.VendorID), hex16(d.DeviceID)), d.DeviceName)
		}
	}
}

func hex16(s string) uint16 {
	v, _ := strconv.ParseUint(s, 16, 16)
	return uint16(v)
}

// TestCaptureLiveNetwork reads the live host's network state over netlink
// (read-only) into a snapshot directory.
func TestCaptureLiveNetwork(t *testing.T) {
	dst := t.TempDir()
	if _, err := Capture(context.Background(), "/", dst); err != nil {
		t.Skipf("netlink not usable here: %v", err)
	}
	n, err := NetworkFromFile{Path: filepath.Join(dst, NetworkFile)}.Network(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.link("lo"); !ok {
		t.Errorf("no lo in %+v", n.Links)
	}
}
