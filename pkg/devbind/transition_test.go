package devbind_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/devbind/pcisim"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
)

// simHost unpacks a fixture and puts the emulated PCI core in front of it.
func simHost(t *testing.T, name string) (*host.Root, *pcisim.Bus) {
	t.Helper()
	dir := fixture.Unpack(t, "testdata/"+name+".txtar")
	bus, err := pcisim.New(dir, host.OSWriter{})
	if err != nil {
		t.Fatal(err)
	}
	return &host.Root{Prefix: dir, W: bus, Exec: bus}, bus
}

func observe(t *testing.T, r *host.Root, addr string) devbind.State {
	t.Helper()
	st, err := devbind.Observe(r, addr)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func assertIdentical(t *testing.T, before map[string]string, dir string) {
	t.Helper()
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree differs from before:\n%s", strings.Join(diffs, "\n"))
	}
}

func TestTransitionRoundTrip(t *testing.T) {
	r, bus := simHost(t, "pf-siblings")
	before := fixture.Digest(t, r.Prefix)
	ctx := context.Background()
	vfio := devbind.State{Driver: "vfio-pci", Override: "vfio-pci"}
	for _, a := range []string{"0000:03:00.0", "0000:03:00.1"} {
		if err := devbind.Transition(ctx, r, a, vfio); err != nil {
			t.Fatal(err)
		}
		if got := observe(t, r, a); !got.Same(vfio) || len(got.Interfaces) != 0 {
			t.Fatalf("%s after bind: %v", a, got)
		}
	}
	for _, p := range []string{"sys/class/net/eth1", "sys/class/net/eth2"} {
		if _, err := os.Lstat(r.Path("/" + p)); err == nil {
			t.Errorf("%s still exists after the bind", p)
		}
	}
	if _, err := os.Stat(r.Dev("vfio", "12")); err != nil {
		t.Errorf("group node: %v", err)
	}
	for _, w := range bus.Log {
		if strings.Contains(w, "new_id") {
			t.Errorf("wrote new_id: %s", w)
		}
	}
	// Idempotent.
	if err := devbind.Transition(ctx, r, "0000:03:00.0", vfio); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"0000:03:00.1", "0000:03:00.0"} {
		if err := devbind.Transition(ctx, r, a, devbind.State{Driver: "ixgbe"}); err != nil {
			t.Fatal(err)
		}
	}
	assertIdentical(t, before, r.Prefix)
}

// TestTransitionFailures fails every kernel write of a transition in turn
// (EIO): each time the device must end up exactly as it was (driver,
// driver_override, interfaces) and the tree byte-identical.
func TestTransitionFailures(t *testing.T) {
	ctx := context.Background()
	vfio := devbind.State{Driver: "vfio-pci", Override: "vfio-pci"}
	for _, tc := range []struct {
		name  string
		addr  string
		setup []devbind.State // transitions made before the faults
		want  devbind.State
		orig  string
	}{
		{"bind ixgbe to vfio-pci", "0000:03:00.1", nil, vfio, "ixgbe if=eth2"},
		{"bind a driverless device", "0000:08:00.0", nil, vfio, "none"},
		{"back from vfio-pci to ixgbe", "0000:03:00.1", []devbind.State{vfio}, devbind.State{Driver: "ixgbe"}, "vfio-pci override=vfio-pci"},
		{"uio_pci_generic", "0000:07:00.0", nil, devbind.State{Driver: "uio_pci_generic", Override: "uio_pci_generic"}, "igb if=eth6"},
		{"release to no driver", "0000:09:00.0", nil, devbind.State{}, "igb if=eth7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			injected := 0
			for n := 1; ; n++ {
				r, bus := simHost(t, "pf-siblings")
				for _, s := range tc.setup {
					if err := devbind.Transition(ctx, r, tc.addr, s); err != nil {
						t.Fatal(err)
					}
				}
				before := fixture.Digest(t, r.Prefix)
				count := 0
				bus.Fail = func(path, value string) error {
					if strings.HasPrefix(path, "/sys/") {
						count++
						if count == n {
							return syscall.EIO
						}
					}
					return nil
				}
				err := devbind.Transition(ctx, r, tc.addr, tc.want)
				if count < n {
					if err != nil {
						t.Fatalf("no fault injected, yet: %v", err)
					}
					if got := observe(t, r, tc.addr); !got.Same(tc.want) {
						t.Fatalf("after success: %v", got)
					}
					break
				}
				injected++
				if err == nil {
					t.Fatalf("write %d failed but the transition reported success", n)
				}
				if !errors.Is(err, syscall.EIO) {
					t.Errorf("write %d: error does not carry the cause: %v", n, err)
				}
				if !strings.Contains(err.Error(), "is back on "+tc.orig) {
					t.Errorf("write %d: error does not say the device is back on %s: %v", n, tc.orig, err)
				}
				if got := observe(t, r, tc.addr); got.String() != tc.orig {
					t.Errorf("write %d: device left as %v, want %s", n, got, tc.orig)
				}
				bus.Fail = nil
				assertIdentical(t, before, r.Prefix)
			}
			if injected < 2 {
				t.Fatalf("only %d faults injected", injected)
			}
			t.Logf("%d faults injected", injected)
		})
	}
}

func TestTransitionProbeFailures(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, fixture, addr string
		want                devbind.State
		fail                func(b *pcisim.Bus)
		orig                string
	}{
		{"vfio-pci probe fails", "pf-siblings", "0000:03:00.0", devbind.State{Driver: "vfio-pci", Override: "vfio-pci"},
			func(b *pcisim.Bus) { b.FailProbe("0000:03:00.0", "vfio-pci", syscall.EINVAL) }, "ixgbe"},
		{"uio_pci_generic without INTx masking", "pf-siblings", "0000:06:00.0", devbind.State{Driver: "uio_pci_generic", Override: "uio_pci_generic"},
			func(b *pcisim.Bus) { b.FailProbe("0000:06:00.0", "uio_pci_generic", syscall.ENODEV) }, "igb"},
		{"vfio-pci without IOMMU", "noiommu", "0000:00:05.0", devbind.State{Driver: "vfio-pci", Override: "vfio-pci"},
			func(*pcisim.Bus) {}, "e1000"},
		{"vfio-pci on a bridge", "bridge", "0000:01:00.0", devbind.State{Driver: "vfio-pci", Override: "vfio-pci"},
			func(*pcisim.Bus) {}, "none"},
		{"back to a kernel driver that fails", "pf-siblings", "0000:08:00.0", devbind.State{Driver: "i40e"},
			func(b *pcisim.Bus) { b.FailProbe("0000:08:00.0", "i40e", syscall.EIO) }, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, bus := simHost(t, tc.fixture)
			tc.fail(bus)
			before := fixture.Digest(t, r.Prefix)
			err := devbind.Transition(ctx, r, tc.addr, tc.want)
			if err == nil {
				t.Fatal("bind succeeded")
			}
			if !errors.Is(err, module.ErrVerify) || !strings.Contains(err.Error(), "drivers_probe did not bind") {
				t.Errorf("error: %v", err)
			}
			got := observe(t, r, tc.addr)
			if got.String() != tc.orig && !strings.HasPrefix(got.String(), tc.orig+" ") {
				t.Errorf("device left as %v, want %s", got, tc.orig)
			}
			assertIdentical(t, before, r.Prefix)
		})
	}
}

// TestTransitionRestoreFails: the new driver's probe fails and the
// original driver refuses the device too. nettune cannot do better than
// the kernel lets it; it must say so, with the commands to put it back.
func TestTransitionRestoreFails(t *testing.T) {
	r, bus := simHost(t, "pf-siblings")
	bus.FailProbe("0000:03:00.0", "vfio-pci", syscall.EINVAL)
	bus.FailProbe("0000:03:00.0", "ixgbe", syscall.EIO)
	err := devbind.Transition(context.Background(), r, "0000:03:00.0", devbind.State{Driver: "vfio-pci", Override: "vfio-pci"})
	if err == nil {
		t.Fatal("bind succeeded")
	}
	for _, want := range []string{"failed too", "it is now none", "restore it with: echo ixgbe > /sys/bus/pci/devices/0000:03:00.0/driver_override"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestTransitionLoadsModule(t *testing.T) {
	r, bus := simHost(t, "pf-siblings")
	ctx := context.Background()
	// uio_pci_generic is not loaded: the bind loads it first.
	if err := devbind.Transition(ctx, r, "0000:06:00.0", devbind.State{Driver: "uio_pci_generic", Override: "uio_pci_generic"}); err != nil {
		t.Fatal(err)
	}
	if bus.Log[0] != "modprobe uio_pci_generic" {
		t.Errorf("first action %q, want modprobe before any write", bus.Log[0])
	}
	// A module that does not exist: nothing is touched.
	before := fixture.Digest(t, r.Prefix)
	err := devbind.Transition(ctx, r, "0000:07:00.0", devbind.State{Driver: "igb_uio", Override: "igb_uio"})
	if err == nil || !strings.Contains(err.Error(), "not touched") {
		t.Fatalf("error: %v", err)
	}
	assertIdentical(t, before, r.Prefix)
}

func TestTransitionOfflineRefuses(t *testing.T) {
	dir := fixture.Unpack(t, "testdata/pf-siblings.txtar")
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	before := fixture.Digest(t, dir)
	err = devbind.Transition(context.Background(), r, "0000:03:00.0", devbind.State{Driver: "vfio-pci", Override: "vfio-pci"})
	if !errors.Is(err, host.ErrOffline) {
		t.Fatalf("offline root: %v", err)
	}
	assertIdentical(t, before, dir)
}
