package pcisim_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/devbind/pcisim"
	"github.com/nettune/nettune/pkg/host"
)

type sim struct {
	t    *testing.T
	root string
	bus  *pcisim.Bus
}

func newSim(t *testing.T, name string) *sim {
	t.Helper()
	root := fixture.Unpack(t, "../testdata/"+name+".txtar")
	bus, err := pcisim.New(root, host.OSWriter{})
	if err != nil {
		t.Fatal(err)
	}
	return &sim{t, root, bus}
}

func (s *sim) write(p, v string) error { return s.bus.WriteKernel(filepath.Join(s.root, p), v) }

func (s *sim) must(p, v string) {
	s.t.Helper()
	if err := s.write(p, v); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sim) driver(addr string) string {
	l, err := os.Readlink(filepath.Join(s.root, "sys/bus/pci/devices", addr, "driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(l)
}

func (s *sim) exists(p string) bool {
	_, err := os.Lstat(filepath.Join(s.root, p))
	return err == nil
}

func TestKernelErrors(t *testing.T) {
	s := newSim(t, "pf-siblings")
	for _, tc := range []struct {
		path, value string
		want        error
	}{
		{"sys/bus/pci/drivers_probe", "0000:aa:00.0", syscall.ENODEV},
		{"sys/bus/pci/drivers/ixgbe/bind", "0000:03:00.0", syscall.EBUSY},
		{"sys/bus/pci/drivers/i40e/bind", "0000:03:00.0", syscall.ENODEV},
		{"sys/bus/pci/drivers/i40e/unbind", "0000:03:00.0", syscall.ENODEV},
		{"sys/bus/pci/drivers/ixgbe/unbind", "0000:08:00.0", syscall.ENODEV},
		{"sys/bus/pci/drivers/vfio-pci/new_id", "8086", syscall.EINVAL},
		{"sys/bus/pci/devices/0000:03:00.0/remove", "x", syscall.EINVAL},
	} {
		if err := s.write(tc.path, tc.value); !errors.Is(err, tc.want) {
			t.Errorf("echo %s > %s: %v, want %v", tc.value, tc.path, err, tc.want)
		}
	}
	// driver_override set to another driver: the device's own driver no
	// longer matches it.
	s.must("sys/bus/pci/drivers/ixgbe/unbind", "0000:03:00.0")
	s.must("sys/bus/pci/devices/0000:03:00.0/driver_override", "vfio-pci")
	if err := s.write("sys/bus/pci/drivers/ixgbe/bind", "0000:03:00.0"); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("bind against driver_override: %v", err)
	}
}

// TestDriversProbeSucceedsWithoutBinding is the trap raw drivers_probe
// sets: no driver takes the device and the write still succeeds.
func TestDriversProbeSucceedsWithoutBinding(t *testing.T) {
	s := newSim(t, "pf-siblings")
	s.must("sys/bus/pci/drivers/ixgbe/unbind", "0000:03:00.0")
	s.must("sys/bus/pci/devices/0000:03:00.0/driver_override", "uio_pci_generic") // not loaded
	if err := s.write("sys/bus/pci/drivers_probe", "0000:03:00.0"); err != nil {
		t.Fatalf("drivers_probe: %v", err)
	}
	if d := s.driver("0000:03:00.0"); d != "" {
		t.Fatalf("bound to %s", d)
	}
	// The failed probe of vfio-pci is silent too.
	s.bus.FailProbe("0000:03:00.0", "vfio-pci", syscall.EINVAL)
	s.must("sys/bus/pci/devices/0000:03:00.0/driver_override", "vfio-pci")
	if err := s.write("sys/bus/pci/drivers_probe", "0000:03:00.0"); err != nil || s.driver("0000:03:00.0") != "" {
		t.Fatalf("drivers_probe with a failing probe: %v, driver %q", err, s.driver("0000:03:00.0"))
	}
	// An explicit bind reports the probe's error.
	if err := s.write("sys/bus/pci/drivers/vfio-pci/bind", "0000:03:00.0"); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("bind: %v", err)
	}
}

func TestOverrideBindsAndInterfacesComeBack(t *testing.T) {
	s := newSim(t, "pf-siblings")
	before := fixture.Digest(t, s.root)
	s.must("sys/bus/pci/devices/0000:03:00.0/driver_override", "vfio-pci")
	if s.driver("0000:03:00.0") != "ixgbe" {
		t.Fatal("writing driver_override rebound the device")
	}
	s.must("sys/bus/pci/drivers/ixgbe/unbind", "0000:03:00.0")
	if s.exists("sys/class/net/eth1") || s.exists("sys/bus/pci/drivers/ixgbe/0000:03:00.0") {
		t.Fatal("eth1 survived the unbind")
	}
	s.must("sys/bus/pci/drivers_probe", "0000:03:00.0")
	if s.driver("0000:03:00.0") != "vfio-pci" || !s.exists("dev/vfio/12") {
		t.Fatalf("after drivers_probe: %q", s.driver("0000:03:00.0"))
	}
	s.must("sys/bus/pci/devices/0000:03:00.0/driver_override", "")
	s.must("sys/bus/pci/drivers/vfio-pci/unbind", "0000:03:00.0")
	if s.exists("dev/vfio/12") {
		t.Fatal("group node outlived the last vfio device of the group")
	}
	s.must("sys/bus/pci/drivers/ixgbe/bind", "0000:03:00.0")
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, s.root)); len(diffs) > 0 {
		t.Fatalf("not back as before: %v", diffs)
	}
}

// TestNewIDDragsSiblings shows why nettune never uses new_id: every
// unbound device with the same IDs is taken too.
func TestNewIDDragsSiblings(t *testing.T) {
	s := newSim(t, "pf-siblings")
	s.must("sys/bus/pci/drivers/ixgbe/unbind", "0000:03:00.1")
	s.must("sys/bus/pci/drivers/ixgbe/unbind", "0000:03:00.0")
	s.must("sys/bus/pci/drivers/vfio-pci/new_id", "8086 10fb")
	if s.driver("0000:03:00.0") != "vfio-pci" || s.driver("0000:03:00.1") != "vfio-pci" {
		t.Fatalf("new_id: %q %q", s.driver("0000:03:00.0"), s.driver("0000:03:00.1"))
	}
	if err := s.write("sys/bus/pci/drivers/vfio-pci/new_id", "8086 10fb"); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second new_id: %v", err)
	}
}

func TestRemove(t *testing.T) {
	s := newSim(t, "pf-siblings")
	s.must("sys/bus/pci/devices/0000:03:00.1/remove", "1")
	for _, p := range []string{"sys/bus/pci/devices/0000:03:00.1", "sys/class/net/eth2", "sys/kernel/iommu_groups/12/devices/0000:03:00.1", "sys/bus/pci/drivers/ixgbe/0000:03:00.1", "sys/devices/pci0000:00/0000:03:00.1"} {
		if s.exists(p) {
			t.Errorf("%s survived remove", p)
		}
	}
	if err := s.write("sys/bus/pci/drivers_probe", "0000:03:00.1"); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("probe of a removed device: %v", err)
	}
}

func TestModules(t *testing.T) {
	s := newSim(t, "noiommu")
	ctx := context.Background()
	if _, err := s.bus.Run(ctx, "modprobe", "igb_uio"); err == nil {
		t.Error("unknown module loaded")
	}
	s.bus.InUse = map[string]bool{"e1000": true}
	if _, err := s.bus.Run(ctx, "modprobe", "-r", "e1000"); err == nil {
		t.Error("module in use unloaded")
	}
	s.bus.InUse = nil
	before := fixture.Digest(t, s.root)
	// A module load binds the unbound devices whose override names it.
	s.must("sys/bus/pci/devices/0000:00:05.0/driver_override", "uio_pci_generic")
	s.must("sys/bus/pci/drivers/e1000/unbind", "0000:00:05.0")
	if _, err := s.bus.Run(ctx, "modprobe", "uio_pci_generic"); err != nil {
		t.Fatal(err)
	}
	if s.driver("0000:00:05.0") != "uio_pci_generic" {
		t.Fatalf("module load did not probe: %q", s.driver("0000:00:05.0"))
	}
	s.must("sys/bus/pci/drivers/uio_pci_generic/unbind", "0000:00:05.0")
	s.must("sys/bus/pci/devices/0000:00:05.0/driver_override", "")
	if _, err := s.bus.Run(ctx, "modprobe", "-r", "uio_pci_generic"); err != nil {
		t.Fatal(err)
	}
	s.must("sys/bus/pci/drivers_probe", "0000:00:05.0")
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, s.root)); len(diffs) > 0 {
		t.Fatalf("not back as before: %v", diffs)
	}
}

// TestNoIOMMU: vfio-pci refuses a device without IOMMU group unless
// vfio's no-IOMMU mode is on, and then makes a noiommu group.
func TestNoIOMMU(t *testing.T) {
	s := newSim(t, "noiommu")
	before := fixture.Digest(t, s.root)
	s.must("sys/bus/pci/drivers/e1000/unbind", "0000:00:05.0")
	s.must("sys/bus/pci/devices/0000:00:05.0/driver_override", "vfio-pci")
	if err := s.write("sys/bus/pci/drivers/vfio-pci/bind", "0000:00:05.0"); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("vfio-pci without IOMMU: %v", err)
	}
	s.must("sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "1")
	s.must("sys/bus/pci/drivers/vfio-pci/bind", "0000:00:05.0")
	if !s.exists("dev/vfio/noiommu-0") || !s.exists("sys/kernel/iommu_groups/0/devices/0000:00:05.0") {
		t.Fatal("no noiommu group")
	}
	s.must("sys/bus/pci/drivers/vfio-pci/unbind", "0000:00:05.0")
	s.must("sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "N")
	s.must("sys/bus/pci/devices/0000:00:05.0/driver_override", "")
	s.must("sys/bus/pci/drivers_probe", "0000:00:05.0")
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, s.root)); len(diffs) > 0 {
		t.Fatalf("not back as before: %v", diffs)
	}
}
