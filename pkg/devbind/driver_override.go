package devbind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/profile"
)

// KernelEmulator is implemented by a Writer that emulates the kernel's PCI
// core under an offline root (the pcisim test bus, a VM harness). Binding
// writes only mean something to a kernel: on an offline root without one,
// nettune refuses instead of writing into a copy of /sys.
type KernelEmulator interface {
	EmulatesKernel() bool
}

// CanBind reports (as an error wrapping host.ErrOffline) whether bindings
// can be changed under the root: on the live host, or on an offline root
// whose Writer emulates the kernel.
func CanBind(r *host.Root) error { return requireKernel(r) }

// requireKernel refuses to bind on an offline root without an emulator.
func requireKernel(r *host.Root) error {
	if r.Live() {
		return nil
	}
	if k, ok := r.W.(KernelEmulator); ok && k.EmulatesKernel() {
		return nil
	}
	return fmt.Errorf("binding needs the running kernel and root %s is not the live host: %w", r.Prefix, host.ErrOffline)
}

// Observe reads a device's binding.
func Observe(r *host.Root, addr string) (State, error) {
	dir := r.Sys(pciDevices, addr)
	if _, err := os.Stat(dir); err != nil {
		return State{}, fmt.Errorf("PCI device %s: %w", addr, err)
	}
	ov, err := r.ReadString(filepath.Join(dir, "driver_override"))
	if err != nil {
		return State{}, fmt.Errorf("read driver_override of %s: %w", addr, err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	return State{Driver: linkBase(filepath.Join(dir, "driver")), Override: overrideValue(ov), Interfaces: interfaces(real)}, nil
}

// registered returns the name under which the kernel registered a PCI
// driver (vfio-pci for vfio_pci), or "".
func registered(r *host.Root, name string) string {
	if _, err := os.Stat(r.Sys(pciDrivers, name)); err == nil {
		return name
	}
	for _, alt := range []string{strings.ReplaceAll(name, "_", "-"), strings.ReplaceAll(name, "-", "_")} {
		if _, err := os.Stat(r.Sys(pciDrivers, alt)); err == nil {
			return alt
		}
	}
	return ""
}

// ensureDriver makes sure a PCI driver is registered, loading its module
// with modprobe when it is not, and returns its registered name. It writes
// nothing to the device.
func ensureDriver(ctx context.Context, r *host.Root, name string) (drv string, loaded bool, err error) {
	if n := registered(r, name); n != "" {
		return n, false, nil
	}
	if _, err := r.Exec.Run(ctx, "modprobe", name); err != nil {
		return "", false, fmt.Errorf("load driver %s: %w", name, err)
	}
	if n := registered(r, name); n != "" {
		return n, true, nil
	}
	return "", true, fmt.Errorf("modprobe %s succeeded but no PCI driver %s is registered under /sys/bus/pci/drivers: %w", name, name, module.ErrUnsupported)
}

// boundDevices lists the devices bound to a registered driver.
func boundDevices(r *host.Root, drv string) []string {
	entries, err := os.ReadDir(r.Sys(pciDrivers, drv))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if profile.IsPCIAddress(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// writeOverride sets driver_override ("" clears it) and reads it back.
func writeOverride(r *host.Root, addr, v string) error {
	p := r.Sys(pciDevices, addr, "driver_override")
	if err := r.W.WriteKernel(p, v); err != nil {
		return err
	}
	got, err := r.ReadString(p)
	if err != nil {
		return fmt.Errorf("read back %s: %w", r.HostPath(p), err)
	}
	if overrideValue(got) != v {
		return fmt.Errorf("%s: wrote %q, kernel reads back %q: %w", r.HostPath(p), v, got, module.ErrVerify)
	}
	return nil
}

func writeUnbind(r *host.Root, addr, drv string) error {
	return r.W.WriteKernel(r.Sys(pciDrivers, drv, "unbind"), addr)
}

func writeProbe(r *host.Root, addr string) error {
	return r.W.WriteKernel(r.Sys("bus/pci/drivers_probe"), addr)
}

func currentDriver(r *host.Root, addr string) string {
	return linkBase(r.Sys(pciDevices, addr, "driver"))
}

// Transition moves a device to the binding want (driver and
// driver_override). It loads the driver's module first (before touching
// the device), sets driver_override to the new driver before unbinding the
// old one so that nothing else can take the device in between, asks the
// PCI core to probe (drivers_probe; never new_id), and reads the driver
// link back: drivers_probe reports success even when no driver bound. On
// any failure it puts the device back to the binding it found. It is
// idempotent.
func Transition(ctx context.Context, r *host.Root, addr string, want State) error {
	cur, err := Observe(r, addr)
	if err != nil {
		return err
	}
	if cur.Same(want) {
		return nil
	}
	if err := requireKernel(r); err != nil {
		return err
	}
	drv, loaded := "", false
	if want.Driver != "" {
		if drv, loaded, err = ensureDriver(ctx, r, want.Driver); err != nil {
			return fmt.Errorf("bind %s to %s: %w (the device was not touched)", addr, want.Driver, err)
		}
	}
	err = move(r, addr, cur, drv, want.Override)
	if err == nil {
		return nil
	}
	if rerr := restore(ctx, r, addr, cur); rerr != nil {
		now, _ := Observe(r, addr)
		return fmt.Errorf("%w; putting %s back on %s failed too, it is now %s: %v (restore it with: %s)", err, addr, cur, now, rerr, restoreCommand(addr, now, cur))
	}
	if loaded {
		// The module was loaded for this bind only: take it away again.
		if uerr := unloadModule(ctx, r, want.Driver); uerr != nil {
			return fmt.Errorf("%w (%s is back on %s; %v)", err, addr, cur, uerr)
		}
	}
	return fmt.Errorf("%w (%s is back on %s)", err, addr, cur)
}

// move performs the writes of a transition from cur to driver drv (""
// for none) with the final driver_override override.
func move(r *host.Root, addr string, cur State, drv, override string) error {
	if sameName(cur.Driver, drv) {
		return writeOverride(r, addr, override)
	}
	if drv == "" {
		if err := writeOverride(r, addr, override); err != nil {
			return err
		}
		if err := writeUnbind(r, addr, cur.Driver); err != nil {
			return err
		}
		return verifyState(r, addr, State{Override: override})
	}
	if err := writeOverride(r, addr, drv); err != nil {
		return err
	}
	if cur.Driver != "" {
		if err := writeUnbind(r, addr, cur.Driver); err != nil {
			return err
		}
	}
	if err := writeProbe(r, addr); err != nil {
		return err
	}
	if got := currentDriver(r, addr); !sameName(got, drv) {
		return fmt.Errorf("drivers_probe did not bind %s to %s (its driver is %s; the kernel log says why): %w", addr, drv, nonEmpty(got, noDriver), module.ErrVerify)
	}
	if !sameName(override, drv) {
		if err := writeOverride(r, addr, override); err != nil {
			return err
		}
	}
	return verifyState(r, addr, State{Driver: drv, Override: override})
}

func verifyState(r *host.Root, addr string, want State) error {
	got, err := Observe(r, addr)
	if err != nil {
		return err
	}
	if !got.Same(want) {
		return fmt.Errorf("%s is %s after the change, not %s: %w", addr, got, want, module.ErrVerify)
	}
	return nil
}

// restore puts a device back to orig after a failed transition, trying
// every step even when one fails.
func restore(ctx context.Context, r *host.Root, addr string, orig State) error {
	now, err := Observe(r, addr)
	if err != nil {
		return err
	}
	if now.Same(orig) {
		return nil
	}
	var errs []error
	if now.Driver != "" && !sameName(now.Driver, orig.Driver) {
		if err := writeUnbind(r, addr, now.Driver); err != nil {
			errs = append(errs, err)
		}
	}
	if orig.Driver != "" {
		drv, _, err := ensureDriver(ctx, r, orig.Driver)
		if err != nil {
			errs = append(errs, err)
			drv = orig.Driver
		}
		if err := writeOverride(r, addr, drv); err != nil {
			errs = append(errs, err)
		}
		if currentDriver(r, addr) == "" {
			if err := writeProbe(r, addr); err != nil {
				errs = append(errs, err)
			}
		}
		if currentDriver(r, addr) == "" {
			if err := r.W.WriteKernel(r.Sys(pciDrivers, drv, "bind"), addr); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := writeOverride(r, addr, orig.Override); err != nil {
		errs = append(errs, err)
	}
	if err := verifyState(r, addr, orig); err != nil {
		errs = append(errs, err)
		return errors.Join(errs...)
	}
	return nil
}

// restoreCommand is the shell an operator runs to put a device back by
// hand.
func restoreCommand(addr string, now, orig State) string {
	var cmds []string
	if now.Driver != "" && !sameName(now.Driver, orig.Driver) {
		cmds = append(cmds, fmt.Sprintf("echo %s > /sys/bus/pci/drivers/%s/unbind", addr, now.Driver))
	}
	if orig.Driver != "" {
		cmds = append(cmds, fmt.Sprintf("echo %s > /sys/bus/pci/devices/%s/driver_override", orig.Driver, addr),
			fmt.Sprintf("echo %s > /sys/bus/pci/drivers_probe", addr))
	}
	ov := orig.Override
	if ov == "" {
		ov = "''"
	}
	cmds = append(cmds, fmt.Sprintf("echo %s > /sys/bus/pci/devices/%s/driver_override", ov, addr))
	return strings.Join(cmds, " && ")
}

// bindCommand is the shell equivalent of a transition, for plans.
func bindCommand(addr string, cur, want State) string {
	var cmds []string
	ov := func(v string) string {
		if v == "" {
			v = "''"
		}
		return fmt.Sprintf("echo %s > /sys/bus/pci/devices/%s/driver_override", v, addr)
	}
	switch {
	case sameName(cur.Driver, want.Driver):
		cmds = append(cmds, ov(want.Override))
	case want.Driver == "":
		cmds = append(cmds, ov(want.Override), fmt.Sprintf("echo %s > /sys/bus/pci/drivers/%s/unbind", addr, cur.Driver))
	default:
		cmds = append(cmds, ov(want.Driver))
		if cur.Driver != "" {
			cmds = append(cmds, fmt.Sprintf("echo %s > /sys/bus/pci/drivers/%s/unbind", addr, cur.Driver))
		}
		cmds = append(cmds, fmt.Sprintf("echo %s > /sys/bus/pci/drivers_probe", addr))
		if !sameName(want.Override, want.Driver) {
			cmds = append(cmds, ov(want.Override))
		}
	}
	return strings.Join(cmds, " && ")
}

// loadModule loads a driver module (a "module" change).
func loadModule(ctx context.Context, r *host.Root, name string) error {
	if registered(r, name) != "" {
		return nil
	}
	if err := requireKernel(r); err != nil {
		return err
	}
	_, _, err := ensureDriver(ctx, r, name)
	return err
}

// unloadModule undoes loadModule: the driver was not loaded before, so
// it removes the module again. A device bound to the driver on purpose
// (driver_override names it) keeps it loaded, without error, as something
// still uses it. Devices the driver took by its ID table when it was
// loaded (they had no driver) lose it again with the module, which is how
// they were; if one of them carries traffic by now, the module stays and
// the error names it, so that nothing says "as it was" while it is not.
func unloadModule(ctx context.Context, r *host.Root, name string) error {
	drv := registered(r, name)
	if drv == "" {
		return nil
	}
	var claimed []string
	for _, addr := range boundDevices(r, drv) {
		ov, _ := r.ReadString(r.Sys(pciDevices, addr, "driver_override"))
		if v := overrideValue(ov); v != "" && sameName(v, drv) {
			return nil
		}
		claimed = append(claimed, addr)
	}
	if err := requireKernel(r); err != nil {
		return err
	}
	if busy := busyDevices(ctx, r, claimed); len(busy) > 0 {
		return fmt.Errorf("unload driver %s: left loaded because it drives %s, which it took when nettune loaded it and which %s by now: unload it by hand (modprobe -r %s) once that is no longer needed", name, strings.Join(claimed, ", "), strings.Join(busy, "; "), name)
	}
	if _, err := r.Exec.Run(ctx, "modprobe", "-r", name); err != nil {
		return fmt.Errorf("unload driver %s: %w (it still drives %s)", name, err, nonEmpty(strings.Join(boundDevices(r, drv), ", "), "no device"))
	}
	if n := registered(r, name); n != "" {
		return fmt.Errorf("unload driver %s: modprobe -r succeeded but %s is still registered (devices: %s)", name, n, nonEmpty(strings.Join(boundDevices(r, n), ", "), "none"))
	}
	return nil
}

// busyDevices says which of the devices carry traffic (addresses, routes,
// SSH sessions, upper devices), or that it cannot be told.
func busyDevices(ctx context.Context, r *host.Root, addrs []string) []string {
	var out []string
	var (
		n    *Network
		err  error
		read bool
	)
	for _, addr := range addrs {
		st, oerr := Observe(r, addr)
		if oerr != nil || len(st.Interfaces) == 0 {
			continue
		}
		if !read {
			read = true
			n, err = NetworkFor(r).Network(ctx)
		}
		var getenv func(string) string
		if r.Live() {
			getenv = os.Getenv
		}
		d := &Device{Address: addr, Interfaces: st.Interfaces}
		for _, ref := range activity(d, n, err, Sessions(r, getenv)) {
			out = append(out, addr+": "+ref.Message)
		}
	}
	return out
}
