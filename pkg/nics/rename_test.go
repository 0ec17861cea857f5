package nics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

// A NIC renamed by a rebind (no udev: eth0 and eth1 swap when the devices
// come back in another order) is found again by its PCI address.
func TestCurrentFollowsRenamedInterface(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{
		"sys/devices/pci0000:00/0000:00:04.0/net/eth1",
		"sys/devices/pci0000:00/0000:00:05.0",
		"sys/devices/pci0000:00/0000:00:06.0/virtio3/net/ens6",
		"sys/bus/pci/devices",
	} {
		os.MkdirAll(filepath.Join(dir, p), 0o755)
	}
	for _, f := range []string{"0000:00:04.0", "0000:00:05.0", "0000:00:06.0"} {
		os.Symlink("../../../devices/pci0000:00/"+f, filepath.Join(dir, "sys/bus/pci/devices", f))
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := plan.Change{Module: "nics", Object: "eth0/rx-0", Attribute: "rps_cpus", Path: "/sys/class/net/eth0/queues/rx-0/rps_cpus", Device: "0000:00:04.0"}
	got, err := current(r, c)
	if err != nil || got.Object != "eth1/rx-0" || got.Path != "/sys/class/net/eth1/queues/rx-0/rps_cpus" {
		t.Fatalf("renamed: %+v, %v", got, err)
	}
	c = plan.Change{Object: "eth5", Attribute: "coalesce", Device: "0000:00:06.0"}
	if got, err := current(r, c); err != nil || got.Object != "ens6" {
		t.Fatalf("virtio: %+v, %v", got, err)
	}
	c = plan.Change{Object: "eth0", Attribute: "coalesce", Device: "0000:00:05.0"}
	if _, err := current(r, c); err == nil || !strings.Contains(err.Error(), "has no kernel interface now") {
		t.Fatalf("unbound NIC: %v", err)
	}
	c = plan.Change{Object: "veth0", Attribute: "txqueuelen"}
	if got, err := current(r, c); err != nil || got.Object != "veth0" {
		t.Fatalf("virtual NIC: %+v, %v", got, err)
	}
}

// Reverting the affinity of an IRQ the NIC no longer has (its vectors were
// re-created by a rebind) restores nothing, instead of pinning whatever
// device now owns that number.
func TestIRQGone(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sys/devices/pci0000:00/0000:00:04.0/msi_irqs/41"), 0o755)
	os.MkdirAll(filepath.Join(dir, "sys/bus/pci/devices"), 0o755)
	os.Symlink("../../../devices/pci0000:00/0000:00:04.0", filepath.Join(dir, "sys/bus/pci/devices/0000:00:04.0"))
	r, _ := host.New(dir)
	c := plan.Change{Attribute: attrAffinity, Path: "/proc/irq/40/smp_affinity_list", Device: "0000:00:04.0"}
	if !irqGone(r, c) {
		t.Error("IRQ 40 is not the NIC's any more, but irqGone says it is")
	}
	c.Path = "/proc/irq/41/smp_affinity_list"
	if irqGone(r, c) {
		t.Error("IRQ 41 is still the NIC's")
	}
	c.Device = ""
	if irqGone(r, c) {
		t.Error("without a device nothing can be known")
	}
}
