package systemd

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/profile"
)

// TestDeviceBootRules: a device spec.devices bound to vfio-pci came up on
// its kernel driver at boot until the boot apply rebound it. Each such
// device now gets a driver_override rule on "add" and a hand-over rule on
// "bind", and the driver is loaded by modules-load.d; a device bound to a
// kernel driver gets none, one named by interface gets a warning.
func TestDeviceBootRules(t *testing.T) {
	devs := []profile.Device{
		{PCI: "05:00.0", Driver: "vfio-pci"},
		{PCI: "0000:06:00.0", Driver: "ixgbe"},
		{PCI: "eth3", Driver: "vfio-pci"},
		{PCI: "0000:07:00.1", Driver: "uio_pci_generic"},
	}
	rules, mods, warn, err := deviceRules(devs)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rules, "\n")
	for _, want := range []string{
		`ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:05:00.0", ATTR{driver_override}="vfio-pci"`,
		`ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="0000:05:00.0", DRIVER!="vfio-pci", ATTR{driver_override}=="vfio-pci", RUN+=`,
		`ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:07:00.1", ATTR{driver_override}="uio_pci_generic"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("rules lack %s:\n%s", want, all)
		}
	}
	if strings.Contains(all, "0000:06:00.0") || strings.Contains(all, "eth3") {
		t.Errorf("a rule for a kernel driver or an interface name:\n%s", all)
	}
	if strings.Join(mods, " ") != "uio_pci_generic vfio_pci" {
		t.Errorf("modules %q", mods)
	}
	if len(warn) != 1 || !strings.Contains(warn[0], `"eth3"`) {
		t.Errorf("warnings %q", warn)
	}
}

// TestInstallDeviceFiles: install writes the rule and modules-load.d
// drop-in for a profile that binds a device, a reinstall of a profile that
// binds none removes the drop-in, and uninstall removes them all.
func TestInstallDeviceFiles(t *testing.T) {
	ctx := context.Background()
	root := fixture.Unpack(t, "testdata/host.txtar")
	r, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Install(ctx, r, "/usr/local/sbin/nettune", []byte(testProfile)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(r.Path(ModulesLoad))
	if err != nil || !strings.Contains(string(b), "\nvfio_pci\n") || !strings.Contains(string(b), Marker) {
		t.Fatalf("%s: %v\n%s", ModulesLoad, err, b)
	}
	if rule, _ := os.ReadFile(r.Path(UdevRule)); !strings.Contains(string(rule), `KERNEL=="0000:05:00.0", ATTR{driver_override}="vfio-pci"`) {
		t.Fatalf("rule:\n%s", rule)
	}
	if got := strings.Join(Installed(r), " "); got != strings.Join(Files, " ") {
		t.Errorf("installed %s", got)
	}
	noDev := strings.Replace(testProfile, "  devices:\n    - {pci: \"0000:05:00.0\", driver: vfio-pci}\n", "", 1)
	if _, err := Install(ctx, r, "/usr/local/sbin/nettune", []byte(noDev)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Path(ModulesLoad)); err == nil {
		t.Errorf("%s stayed after installing a profile that binds nothing", ModulesLoad)
	}
	if _, err := Install(ctx, r, "/usr/local/sbin/nettune", []byte(testProfile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Uninstall(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range Files {
		if _, err := os.Stat(r.Path(f)); err == nil {
			t.Errorf("%s left after uninstall", f)
		}
	}
}
