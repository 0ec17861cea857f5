package devbind

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

// Name is the module name, equal to the profile section it serves.
const Name = "devices"

// Attributes of the changes devbind makes.
const (
	// AttrDriver: a device's binding (State strings in Before/After).
	AttrDriver = "driver"
	// AttrModule: a driver module nettune loaded (Object is the driver).
	AttrModule = "module"
	// AttrNoIOMMU: vfio's enable_unsafe_noiommu_mode.
	AttrNoIOMMU = "enable_unsafe_noiommu_mode"
	// AttrOwner: the owner of the device's /dev/vfio group node.
	AttrOwner = "vfio-owner"
	// AttrMode: the permissions of the group node, so that the group
	// given with the owner can open it (the kernel creates it 0600).
	AttrMode = "vfio-mode"
)

// groupMode lets the owner and the group given with --uid/--gid (or
// uid/gid in a profile) open the VFIO group node.
const groupMode fs.FileMode = 0o660

// Guards that are not about the device's use but about the request.
const (
	GuardUnknownDevice = "unknown-device"
	GuardUnknownDriver = "unknown-driver"
	GuardRequest       = "request"
)

// moduleLoaded is the After of a module change.
const moduleLoaded = "loaded"

// Recorded is a binding change found in the journal.
type Recorded struct {
	Address       string
	Before, After State
}

// RecordedBindings extracts the driver changes of this module from
// journaled changes, oldest first.
func RecordedBindings(changes []plan.Change) []Recorded {
	var out []Recorded
	for _, c := range changes {
		if c.Module != Name || c.Attribute != AttrDriver {
			continue
		}
		b, err1 := ParseState(c.Before)
		a, err2 := ParseState(c.After)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, Recorded{Address: c.Object, Before: b, After: a})
	}
	return out
}

// Planner computes binding changes for a host.
type Planner struct {
	Root *host.Root
	// Network feeds the guards; NetworkFor(Root) by default.
	Network NetworkSource
	// Getenv reads SSH_CONNECTION; os.Getenv on the live host, nil (not
	// read) on an offline root.
	Getenv func(string) string
	// Recorded are the bindings in the journal, oldest first.
	Recorded []Recorded
}

// NewPlanner returns a planner over a root with the journal's changes.
func NewPlanner(r *host.Root, journal []plan.Change) *Planner {
	p := &Planner{Root: r, Network: NetworkFor(r), Recorded: RecordedBindings(journal)}
	if r.Live() {
		p.Getenv = os.Getenv
	}
	return p
}

// Devices scans the PCI devices for 'nettune devices' and marks those in
// use, with the reasons the guards would give. A device whose network
// state cannot be read counts as active.
func (p *Planner) Devices(ctx context.Context, ids *IDs) (*Inventory, error) {
	src := p.Network
	if src == nil {
		src = NetworkFor(p.Root)
	}
	// The addresses, routes and SSH sessions that make an interface
	// active are read while the devices are scanned: /proc/net/tcp alone
	// costs milliseconds of kernel time (it walks the whole connection
	// hash table), as much as the rest of the listing.
	type activeState struct {
		n        *Network
		err      error
		sessions []Session
	}
	active := make(chan activeState, 1)
	go func() {
		var a activeState
		a.n, a.err = src.Network(ctx)
		a.sessions = Sessions(p.Root, p.Getenv)
		active <- a
	}()
	inv, err := Scan(p.Root, ids)
	if err != nil {
		return nil, err
	}
	var (
		a    activeState
		read bool
	)
	for _, d := range inv.Devices {
		for _, use := range d.Storage {
			d.Active = true
			d.Reasons = append(d.Reasons, use)
		}
		d.Notes = append(d.Notes, inv.groupNotes(d)...)
		if len(d.Interfaces) == 0 {
			continue
		}
		if !read {
			read = true
			a = <-active
		}
		for _, r := range activity(d, a.n, a.err, a.sessions) {
			d.Active = true
			d.Reasons = append(d.Reasons, r.Message)
		}
	}
	return inv, nil
}

// Target is one device to bind.
type Target struct {
	// Arg names the device: PCI address (full or short) or interface.
	Arg string
	// Driver is the driver to bind to.
	Driver string
	// Owner, when set, is given the device's /dev/vfio group node.
	Owner *Owner
	// NoIOMMU allows vfio's unsafe no-IOMMU mode on a host without IOMMU.
	NoIOMMU bool
	// Reason is recorded in the change.
	Reason string
}

// Options change how guards apply.
type Options struct {
	// Force turns forceable refusals into warnings.
	Force bool
	// Group adds the other endpoints of a vfio-pci target's IOMMU group
	// that are still on kernel drivers to the bind; to an unbind, the
	// other members of the group on vfio drivers.
	Group bool
	// AnyClass allows binding devices outside the network, crypto,
	// co-processor and accelerator classes. It never lifts the storage
	// guard.
	AnyClass bool
}

// Result is a binding plan.
type Result struct {
	// Items are the desired settings in apply order: driver modules to
	// load, vfio's no-IOMMU switch, device bindings, group node owners.
	Items []plan.Item `json:"items"`
	// Refusals stop the whole operation.
	Refusals []Refusal `json:"refusals"`
	// Warnings are forced refusals and cautions.
	Warnings []Refusal `json:"warnings"`
	// Devices are the devices concerned, as observed.
	Devices []*Device `json:"devices"`
}

// Changes returns the items that differ from the host, in apply order.
func (r *Result) Changes() []plan.Change {
	var out []plan.Change
	for _, it := range r.Items {
		if it.Status == plan.Drift {
			out = append(out, it.Change)
		}
	}
	return out
}

// want is a resolved target.
type want struct {
	dev     *Device
	state   State
	owner   *Owner
	noIOMMU bool
	reason  string
	// checkClass refuses devices outside the classes DPDK drives.
	checkClass bool
}

// Bind plans binding each target to its driver.
func (p *Planner) Bind(ctx context.Context, targets []Target, opts Options) (*Result, error) {
	inv, err := Scan(p.Root, nil)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var wants []want
	seen := map[string]string{}
	for _, t := range targets {
		d, err := inv.Resolve(t.Arg, p.Recorded)
		if err != nil {
			res.Refusals = append(res.Refusals, inv.unknown(t.Arg, err))
			continue
		}
		if prev, dup := seen[d.Address]; dup {
			res.Refusals = append(res.Refusals, Refusal{Device: d.Address, Guard: GuardRequest, Message: fmt.Sprintf("named twice (%s and %s)", prev, t.Arg)})
			continue
		}
		seen[d.Address] = t.Arg
		if t.Driver == "" {
			res.Refusals = append(res.Refusals, Refusal{Device: d.Address, Guard: GuardRequest, Message: "no driver given"})
			continue
		}
		if t.Owner != nil && !SameDriver(t.Driver, "vfio-pci") {
			res.Refusals = append(res.Refusals, Refusal{Device: d.Address, Guard: GuardRequest, Message: fmt.Sprintf("an owner only applies to vfio-pci (/dev/vfio), not to %s", t.Driver)})
			continue
		}
		wants = append(wants, want{dev: d, state: inv.desired(d, t.Driver), owner: t.Owner, noIOMMU: t.NoIOMMU, reason: t.Reason, checkClass: !opts.AnyClass})
	}
	if opts.Group {
		wants = inv.addGroupPeers(wants, seen)
	}
	return p.build(ctx, inv, wants, opts, res)
}

// Unbind plans giving each device back to a kernel driver: driver when
// given, else the driver the journal recorded before nettune bound it,
// else the device's kernel driver by modalias. driver_override is cleared
// (or set back to what the journal recorded).
func (p *Planner) Unbind(ctx context.Context, args []string, driver string, opts Options) (*Result, error) {
	inv, err := Scan(p.Root, nil)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var wants []want
	seen := map[string]bool{}
	for _, arg := range args {
		d, err := inv.Resolve(arg, p.Recorded)
		if err != nil {
			res.Refusals = append(res.Refusals, inv.unknown(arg, err))
			continue
		}
		if seen[d.Address] {
			res.Refusals = append(res.Refusals, Refusal{Device: d.Address, Guard: GuardRequest, Message: "named twice"})
			continue
		}
		seen[d.Address] = true
		st, reason, ref := p.restoreTarget(inv, d, driver)
		if ref != nil {
			res.Refusals = append(res.Refusals, *ref)
			continue
		}
		wants = append(wants, want{dev: d, state: st, reason: reason})
	}
	wants = p.unbindGroups(inv, wants, seen, opts, res)
	return p.build(ctx, inv, wants, opts, res)
}

// unbindGroups keeps IOMMU groups usable: a device that leaves vfio for a
// kernel driver while another endpoint of its group stays on vfio leaves
// that one in a group vfio can no longer use (and the kernel refuses or
// breaks the binding while DPDK holds the group). The others are unbound
// too with --group; otherwise the unbind is refused.
func (p *Planner) unbindGroups(inv *Inventory, wants []want, seen map[string]bool, opts Options, res *Result) []want {
	out := wants
	for _, w := range wants {
		d := w.dev
		if !onVFIO(d) || !(w.state.Driver != "" && !vfioViable(&Device{Driver: w.state.Driver, class: d.class})) {
			continue
		}
		var stay []string
		for _, peer := range d.GroupPeers {
			pd := inv.Get(peer)
			if pd == nil || seen[peer] || !pd.Endpoint() || !onVFIO(pd) {
				continue
			}
			if opts.Group {
				st, reason, ref := p.restoreTarget(inv, pd, "")
				if ref != nil {
					res.Refusals = append(res.Refusals, *ref)
					continue
				}
				seen[peer] = true
				out = append(out, want{dev: pd, state: st, reason: reason + " (IOMMU group " + d.IOMMUGroup + " of " + d.Address + ")"})
				continue
			}
			stay = append(stay, peer+" ("+pd.Driver+")")
		}
		if len(stay) > 0 {
			res.Refusals = append(res.Refusals, Refusal{
				Device: d.Address, Guard: GuardIOMMUGroup,
				Message: fmt.Sprintf("IOMMU group %s also holds %s: once %s is on %s, vfio can no longer use the group and the DPDK application loses them too", d.IOMMUGroup, strings.Join(stay, ", "), d.Address, w.state.Driver),
				Remedy:  "unbind them together (list them too, or --group)",
			})
		}
	}
	return out
}

// groupNotes explain what the IOMMU group of a device on vfio requires:
// the group is unusable while an endpoint stays on a kernel driver, and
// members on vfio are unbound together.
func (inv *Inventory) groupNotes(d *Device) []string {
	if !onVFIO(d) {
		return nil
	}
	var kernel, vfio []string
	for _, peer := range d.GroupPeers {
		pd := inv.Get(peer)
		if pd == nil || !pd.Endpoint() {
			continue
		}
		switch {
		case onVFIO(pd):
			vfio = append(vfio, peer)
		case !vfioViable(pd):
			kernel = append(kernel, peer+" ("+pd.Driver+")")
		}
	}
	var out []string
	if len(kernel) > 0 {
		out = append(out, fmt.Sprintf("bound to %s but unusable: IOMMU group %s also holds %s on a kernel driver", d.Driver, d.IOMMUGroup, strings.Join(kernel, ", ")))
	}
	if len(vfio) > 0 {
		out = append(out, fmt.Sprintf("shares IOMMU group %s with %s on vfio: unbind them together (nettune unbind --group)", d.IOMMUGroup, strings.Join(vfio, ", ")))
	}
	return out
}

// onVFIO reports whether a device is bound to a vfio driver.
func onVFIO(d *Device) bool { return strings.HasPrefix(d.Driver, "vfio") }

// unknown refuses a name that is no device, listing those that exist.
func (inv *Inventory) unknown(arg string, err error) Refusal {
	var known []string
	for _, d := range inv.Devices {
		if !d.Listed() {
			continue
		}
		s := d.Address
		if len(d.Interfaces) > 0 {
			s += " (" + strings.Join(d.Interfaces, ",") + ")"
		}
		known = append(known, s)
	}
	msg := err.Error()
	if len(known) == 0 {
		msg += "; this host has no PCI network devices"
	} else {
		msg += "; its network devices are " + strings.Join(known, ", ")
	}
	return Refusal{Device: arg, Guard: GuardUnknownDevice, Message: msg, Remedy: "name one of them ('nettune devices --all' lists every PCI device)"}
}

// restoreTarget decides where unbind sends a device. A device already on
// a kernel driver, or left without driver by nettune's own unbind, stays
// where it is (unbind is idempotent). A device on vfio-pci, uio or
// pci-stub goes back along the journal: the newest record that left it in
// its current binding says what it had before, and so on back past other
// user-space bindings, until a kernel driver (or none) is found.
func (p *Planner) restoreTarget(inv *Inventory, d *Device, driver string) (State, string, *Refusal) {
	cur := State{Driver: d.Driver, Override: d.Override}
	if driver != "" {
		if UserspaceDriver(driver) {
			return State{}, "", &Refusal{Device: d.Address, Guard: GuardRequest, Message: fmt.Sprintf("unbind gives a device back to a kernel driver; %s is not one", driver), Remedy: "use 'nettune bind --driver " + driver + "'"}
		}
		return inv.desired(d, driver), "unbind: --driver " + driver, nil
	}
	if d.Driver != "" && !parking(d.Driver) && (d.Override == "" || sameName(d.Override, d.Driver)) {
		return cur, "unbind: already on kernel driver " + d.Driver, nil
	}
	var mine []Recorded
	for _, rec := range p.Recorded {
		if rec.Address == d.Address {
			mine = append(mine, rec)
		}
	}
	if cur.Driver == "" && !parking(cur.Override) && len(mine) > 0 {
		if last := mine[len(mine)-1]; last.After.Same(cur) && parking(last.Before.Driver) {
			return cur, "unbind: already without driver, as nettune's unbind left it", nil
		}
	}
	target, end := cur, len(mine)
	for {
		found := false
		for i := end - 1; i >= 0; i-- {
			if mine[i].After.Same(target) {
				target, end, found = mine[i].Before, i, true
				break
			}
		}
		if !found {
			break
		}
		if !parking(target.Driver) {
			target.Interfaces = nil
			return target, "unbind: the binding recorded before nettune changed it", nil
		}
	}
	if d.Driver != "" && !parking(d.Driver) {
		return State{Driver: d.Driver}, "unbind: already on kernel driver " + d.Driver, nil
	}
	kernel := inv.KernelDrivers(d)
	switch len(kernel) {
	case 1:
		return State{Driver: kernel[0]}, "unbind: kernel driver " + kernel[0] + " by modalias", nil
	case 0:
		why := "no kernel driver matches its modalias"
		if !inv.ModulesKnown() {
			why = "the kernel's modules.alias was not found"
		}
		return State{}, "", &Refusal{Device: d.Address, Guard: GuardUnknownDriver, Message: "the journal has no binding to restore and " + why, Remedy: "name the kernel driver with --driver"}
	}
	return State{}, "", &Refusal{Device: d.Address, Guard: GuardUnknownDriver, Message: fmt.Sprintf("the journal has no binding to restore and several kernel drivers match: %s", strings.Join(kernel, ", ")), Remedy: "name one with --driver"}
}

// parking reports whether a driver holds a device away from its kernel
// driver: the user-space drivers and pci-stub.
func parking(driver string) bool {
	return driver != "" && (UserspaceDriver(driver) || SameDriver(driver, "pci-stub"))
}

// desired is the binding for driver: userspace drivers (and pci-stub)
// are pinned with driver_override so that a rescan or a module load cannot
// hand the device back to its kernel driver; kernel drivers bind by their
// ID table with driver_override cleared.
func (inv *Inventory) desired(d *Device, driver string) State {
	name := inv.driverName(driver)
	st := State{Driver: name}
	if UserspaceDriver(name) || SameDriver(name, "pci-stub") {
		st.Override = name
	}
	return st
}

// addGroupPeers adds, for each vfio-pci target, the other endpoints of its
// IOMMU group that vfio would not accept.
func (inv *Inventory) addGroupPeers(wants []want, seen map[string]string) []want {
	out := wants
	for _, w := range wants {
		if !SameDriver(w.state.Driver, "vfio-pci") {
			continue
		}
		for _, p := range w.dev.GroupPeers {
			pd := inv.Get(p)
			if pd == nil || vfioViable(pd) {
				continue
			}
			if _, dup := seen[p]; dup {
				continue
			}
			seen[p] = "--group"
			out = append(out, want{dev: pd, state: w.state, owner: w.owner, noIOMMU: w.noIOMMU, checkClass: w.checkClass, reason: "IOMMU group " + w.dev.IOMMUGroup + " of " + w.dev.Address})
		}
	}
	return out
}

// build turns resolved targets into items, refusals and warnings.
func (p *Planner) build(ctx context.Context, inv *Inventory, wants []want, opts Options, res *Result) (*Result, error) {
	var (
		netState *Network
		netErr   error
		netRead  bool
		sessions []Session
	)
	network := func() (*Network, error) {
		if !netRead {
			netRead = true
			src := p.Network
			if src == nil {
				src = NetworkFor(p.Root)
			}
			netState, netErr = src.Network(ctx)
			sessions = Sessions(p.Root, p.Getenv)
		}
		return netState, netErr
	}
	together := map[string]bool{}
	for _, w := range wants {
		if SameDriver(w.state.Driver, "vfio-pci") {
			together[w.dev.Address] = true
		}
	}
	var (
		modules  []plan.Item
		noIOMMU  []plan.Item
		drivers  []plan.Item
		owners   []plan.Item
		loading  = map[string]bool{}
		needNoIO bool
	)
	for _, w := range wants {
		d := w.dev
		res.Devices = append(res.Devices, d)
		cur := State{Driver: d.Driver, Override: d.Override, Interfaces: d.Interfaces}
		item := plan.Item{Change: plan.Change{
			Module: Name, Object: d.Address, Attribute: AttrDriver, Action: plan.Set,
			Before: cur.String(), After: w.state.String(), When: plan.Live,
			Path:   filepath.Join("/sys", pciDevices, d.Address, "driver"),
			Reason: w.reason, Command: bindCommand(d.Address, cur, w.state),
		}, Status: plan.OK}
		if !cur.Same(w.state) {
			item.Status = plan.Drift
			item.Detail = fmt.Sprintf("bound to %s, want %s", nonEmpty(cur.Driver, noDriver), nonEmpty(w.state.Driver, noDriver))
			var refusals []Refusal
			if len(d.Storage) > 0 {
				refusals = append(refusals, storageRefusal(d))
			}
			if w.checkClass && d.Endpoint() && !d.Listed() {
				refusals = append(refusals, classRefusal(d))
			}
			if w.state.Driver != "" {
				refusals = append(refusals, inv.bindGuards(d, w.state.Driver, together, w.noIOMMU)...)
			}
			if len(d.Interfaces) > 0 {
				n, err := network()
				refusals = append(refusals, activity(d, n, err, sessions)...)
			}
			for _, r := range refusals {
				if r.Forceable && opts.Force {
					r.Message = "forced: " + r.Message
					res.Warnings = append(res.Warnings, r)
				} else {
					res.Refusals = append(res.Refusals, r)
				}
			}
			if w.state.Driver != "" {
				if _, ok := inv.LoadedDriver(w.state.Driver); !ok && !loading[ModuleName(w.state.Driver)] {
					loading[ModuleName(w.state.Driver)] = true
					modules = append(modules, plan.Item{Change: plan.Change{
						Module: Name, Object: w.state.Driver, Attribute: AttrModule, Action: plan.Create,
						After: moduleLoaded, When: plan.Live, Path: filepath.Join("/sys", pciDrivers, w.state.Driver),
						Reason: "load the driver before touching " + d.Address, Command: "modprobe " + w.state.Driver,
					}, Status: plan.Drift})
				}
			}
		}
		vfio := SameDriver(w.state.Driver, "vfio-pci")
		if vfio && item.Status == plan.OK {
			// Bound already, but vfio cannot use the group while a
			// member stays on a kernel driver.
			for _, r := range inv.bindGuards(d, w.state.Driver, together, w.noIOMMU) {
				if r.Guard == GuardIOMMUGroup {
					r.Message = "bound, but unusable: " + r.Message
					res.Warnings = append(res.Warnings, r)
				}
			}
		}
		if vfio && !inv.IOMMU && w.noIOMMU {
			needNoIO = true
		}
		drivers = append(drivers, item)
		if w.owner != nil && vfio {
			owners = append(owners, p.ownerItem(d, *w.owner, item.Status == plan.Drift), p.modeItem(d, item.Status == plan.Drift))
		}
	}
	if needNoIO {
		cur := inv.NoIOMMUMode
		it := plan.Item{Change: plan.Change{
			Module: Name, Object: "vfio", Attribute: AttrNoIOMMU, Action: plan.Set,
			Before: nonEmpty(cur, "N"), After: "Y", When: plan.Live, Path: noIOMMUParam,
			Reason:  "the host has no IOMMU and no-IOMMU mode was asked for",
			Command: "echo Y > " + noIOMMUParam,
		}, Status: plan.OK}
		if cur != "Y" {
			it.Status = plan.Drift
		}
		noIOMMU = append(noIOMMU, it)
		res.Warnings = append(res.Warnings, Refusal{Device: "vfio", Guard: GuardNoIOMMU,
			Message: "vfio runs in unsafe no-IOMMU mode: the bound devices can DMA to any memory and the kernel is tainted",
			Remedy:  "use it only on hosts (or VMs) where that is acceptable; enable an IOMMU to get isolation"})
	}
	res.Items = append(append(append(append(res.Items, modules...), noIOMMU...), drivers...), owners...)
	if !p.Root.Live() {
		// Binding needs the running kernel: writes to driver_override or
		// drivers_probe under a root bind nothing, and apply refuses
		// there (unless the root's writer emulates the kernel).
		for i := range res.Items {
			if c := res.Items[i].Command; c != "" {
				res.Items[i].Command = "# live host only, not run under --root: " + c
			}
		}
	}
	return res, nil
}

// modeItem plans the mode of a device's /dev/vfio group node: the kernel
// creates it 0600, so a chown alone gives the group nothing.
func (p *Planner) modeItem(d *Device, binding bool) plan.Item {
	r := p.Root
	node, before := "", ""
	if !binding {
		node = groupNode(r, d.Address)
		if node != "" {
			if st, err := os.Stat(r.Path(node)); err == nil {
				before = fmt.Sprintf("%04o", st.Mode().Perm())
			}
		}
	} else if d.IOMMUGroup != "" {
		node = "/dev/vfio/" + d.IOMMUGroup
	}
	after := fmt.Sprintf("%04o", groupMode)
	it := plan.Item{Change: plan.Change{
		Module: Name, Object: d.Address, Attribute: AttrMode, Action: plan.Set,
		Before: before, After: after, When: plan.Live, Path: node,
		Reason:  "let the group of the non-root DPDK process open the VFIO group too",
		Command: fmt.Sprintf("chmod %s %s", after, nonEmpty(node, "/dev/vfio/$(basename $(readlink /sys/bus/pci/devices/"+d.Address+"/iommu_group))")),
	}, Status: plan.OK}
	if before != after {
		it.Status = plan.Drift
	}
	return it
}

// ownerItem plans the owner of a device's /dev/vfio group node. The node
// exists only while a device of the group is bound to vfio-pci, so before
// the bind its current owner is unknown ("").
func (p *Planner) ownerItem(d *Device, o Owner, binding bool) plan.Item {
	r := p.Root
	node := ""
	before := ""
	if !binding {
		node = groupNode(r, d.Address)
		if node != "" {
			if cur, err := ownerOf(r.Path(node)); err == nil {
				before = cur.String()
			}
		}
	} else if d.IOMMUGroup != "" {
		node = "/dev/vfio/" + d.IOMMUGroup
	}
	it := plan.Item{Change: plan.Change{
		Module: Name, Object: d.Address, Attribute: AttrOwner, Action: plan.Set,
		Before: before, After: o.String(), When: plan.Live, Path: node,
		Reason:  "let a non-root DPDK process open the VFIO group",
		Command: fmt.Sprintf("chown %s %s", o, nonEmpty(node, "/dev/vfio/$(basename $(readlink /sys/bus/pci/devices/"+d.Address+"/iommu_group))")),
	}, Status: plan.OK}
	if before != o.String() {
		it.Status = plan.Drift
	}
	return it
}
