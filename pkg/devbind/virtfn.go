package devbind

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// SR-IOV relations in sysfs: a physical function (PF) has a link virtfnN
// to each of its virtual functions (VFs), and each VF a link physfn back
// to its PF. The links exist only while the VFs do (sriov_numvfs > 0).

// VirtFn returns the PCI address of VF n of pf (the target of
// /sys/bus/pci/devices/PF/virtfnN), or "" when it does not exist.
func VirtFn(r *host.Root, pf string, n int) string {
	return linkBase(r.Sys(pciDevices, pf, "virtfn"+strconv.Itoa(n)))
}

// PhysFn returns the PF of a VF (its physfn link), "" for any other
// device.
func PhysFn(r *host.Root, addr string) string {
	return linkBase(r.Sys(pciDevices, addr, "physfn"))
}

// VirtFns returns the VFs of pf, by index.
func VirtFns(r *host.Root, pf string) []string {
	ents, err := os.ReadDir(r.Sys(pciDevices, pf))
	if err != nil {
		return nil
	}
	type vf struct {
		n    int
		addr string
	}
	var vfs []vf
	for _, e := range ents {
		s, ok := strings.CutPrefix(e.Name(), "virtfn")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			continue
		}
		if a := VirtFn(r, pf, n); a != "" {
			vfs = append(vfs, vf{n, a})
		}
	}
	sort.Slice(vfs, func(i, j int) bool { return vfs[i].n < vfs[j].n })
	out := make([]string, len(vfs))
	for i, v := range vfs {
		out[i] = v.addr
	}
	return out
}

// PredictVF computes the PCI address VF n of pf will have once created,
// as the kernel does (pci_iov_virtfn_bus/devfn): the routing ID of the PF
// plus sriov_offset plus n times sriov_stride, in the PF's domain.
func PredictVF(r *host.Root, pf string, n int) (string, error) {
	num := func(attr string) (int, error) {
		s, err := r.ReadString(r.Sys(pciDevices, pf, attr))
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(strings.TrimSpace(s))
	}
	offset, err := num("sriov_offset")
	if err != nil {
		return "", fmt.Errorf("%s: cannot compute the address of VF %d: %w", pf, n, err)
	}
	stride, err := num("sriov_stride")
	if err != nil {
		return "", fmt.Errorf("%s: cannot compute the address of VF %d: %w", pf, n, err)
	}
	var dom, bus, dev, fn int
	if _, err := fmt.Sscanf(pf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn); err != nil {
		return "", fmt.Errorf("%q is not a PCI address: %w", pf, err)
	}
	if dom < 0 || dom > 0xffff || bus < 0 || bus > 0xff || dev < 0 || dev > 0x1f || fn < 0 || fn > 7 {
		return "", fmt.Errorf("%q is not a PCI address", pf)
	}
	if n < 0 || offset < 0 || stride < 0 || offset > 0xffff || stride > 0xffff || n > 0xffff {
		return "", fmt.Errorf("%s: cannot compute the address of VF %d from sriov_offset %d and sriov_stride %d", pf, n, offset, stride)
	}
	rid := bus<<8 | dev<<3 | fn
	rid += offset + n*stride
	if rid > 0xffff {
		return "", fmt.Errorf("%s: VF %d would be beyond bus 255", pf, n)
	}
	return fmt.Sprintf("%04x:%02x:%02x.%x", dom, rid>>8, (rid>>3)&0x1f, rid&7), nil
}

// resolveVF resolves a spec.devices entry that names a VF by PF and index:
// the existing VF's address, or, when it does not exist yet (spec.sriov
// creates it in the same apply), the address it will get.
func resolveVF(r *host.Root, d profile.Device) (addr string, pending bool, err error) {
	pf := profile.NormalizePCI(d.PF)
	if !r.Exists(r.Sys(pciDevices, pf)) {
		return "", false, fmt.Errorf("physical function %s does not exist", pf)
	}
	if !r.Exists(r.Sys(pciDevices, pf, "sriov_totalvfs")) {
		return "", false, fmt.Errorf("%s is not SR-IOV capable (no sriov_totalvfs)", pf)
	}
	if a := VirtFn(r, pf, *d.VF); a != "" {
		return a, false, nil
	}
	a, err := PredictVF(r, pf, *d.VF)
	return a, true, err
}

// pendingVF plans binding a VF that does not exist yet: spec.sriov creates
// it earlier in the same apply, and Apply binds it then. The item's
// Before is empty (Action create): revert finds the VF gone, or unbinds
// it before spec.sriov removes it.
func pendingVF(inv *Inventory, d profile.Device, addr string) []plan.Item {
	pf := profile.NormalizePCI(d.PF)
	st := inv.desired(&Device{Address: addr}, d.Driver)
	var out []plan.Item
	if _, ok := inv.LoadedDriver(st.Driver); !ok {
		out = append(out, plan.Item{Change: plan.Change{
			Module: Name, Object: st.Driver, Attribute: AttrModule, Action: plan.Create,
			After: moduleLoaded, When: plan.Live, Path: filepath.Join("/sys", pciDrivers, st.Driver),
			Reason: "load the driver before binding VF " + strconv.Itoa(*d.VF) + " of " + pf, Command: "modprobe " + st.Driver,
		}, Status: plan.Drift})
	}
	out = append(out, plan.Item{Change: plan.Change{
		Module: Name, Object: addr, Attribute: AttrDriver, Action: plan.Create,
		After: st.String(), When: plan.Live, Path: filepath.Join("/sys", pciDevices, addr, "driver"),
		Reason:  fmt.Sprintf("profile binds VF %d of %s to %s", *d.VF, pf, d.Driver),
		Command: fmt.Sprintf("echo %s > /sys/bus/pci/devices/%s/driver_override && echo %s > /sys/bus/pci/drivers_probe", st.Driver, addr, addr),
		Device:  fmt.Sprintf("%s/virtfn%d", pf, *d.VF),
	}, Status: plan.Drift, Detail: fmt.Sprintf("pending on creation: VF %d of %s does not exist yet; spec.sriov creates it first (virtfn%d, expected at %s)", *d.VF, pf, *d.VF, addr)})
	return out
}

// bindPendingVF applies a pending VF binding: the VF must exist now, at
// the address the plan computed.
func bindPendingVF(ctx context.Context, r *host.Root, c plan.Change) error {
	pf, idx, _ := strings.Cut(c.Device, "/virtfn")
	n, err := strconv.Atoi(idx)
	if err != nil {
		return fmt.Errorf("bad VF reference %q in journal", c.Device)
	}
	got := VirtFn(r, pf, n)
	if got == "" {
		return fmt.Errorf("VF %d of %s was not created (no %s/virtfn%d): is spec.sriov.numVFs large enough?", n, pf, pf, n)
	}
	if got != c.Object {
		return fmt.Errorf("VF %d of %s was created at %s, not at %s as planned (sriov_offset/sriov_stride changed with numVFs): run apply again", n, pf, got, c.Object)
	}
	st, err := ParseState(c.After)
	if err != nil {
		return err
	}
	return Transition(ctx, r, c.Object, st)
}

// unbindPendingVF reverts a pending VF binding: a VF that is gone needs
// nothing; one that still exists is left without driver and without
// driver_override, as a VF created with drivers_autoprobe off is, before
// spec.sriov's revert removes it.
func unbindPendingVF(ctx context.Context, r *host.Root, c plan.Change) error {
	if !r.Exists(r.Sys(pciDevices, c.Object)) {
		return nil
	}
	if err := vfInUse(r, c.Object); err != nil {
		return err
	}
	return Transition(ctx, r, c.Object, State{})
}

// sriovRelations fills in a device's PF/VF links.
func sriovRelations(r *host.Root, d *Device) {
	if s, err := r.ReadString(r.Sys(pciDevices, d.Address, "sriov_totalvfs")); err == nil {
		d.TotalVFs, _ = strconv.Atoi(strings.TrimSpace(s))
		d.VirtFns = VirtFns(r, d.Address)
	}
	if pf := PhysFn(r, d.Address); pf != "" {
		d.PhysFn = pf
		for n := 0; ; n++ {
			vf := VirtFn(r, pf, n)
			if vf == "" {
				break
			}
			if vf == d.Address {
				d.VFIndex = n
			}
		}
	}
}
