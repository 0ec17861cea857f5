package devbind

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Module implements module.Module for spec.devices: each entry is a
// binding checked for drift, applied through Transition and reverted to
// the journaled binding.
type Module struct {
	// Journal returns the changes recorded in the journal, oldest first,
	// so that an interface name of the profile can be resolved after its
	// device was bound away. May be nil.
	Journal func(*host.Root) ([]plan.Change, error)
}

// Name implements module.Module.
func (Module) Name() string { return Name }

// Configured implements module.Module.
func (Module) Configured(s *profile.Spec) bool { return len(s.Devices) > 0 }

func (m Module) planner(r *host.Root) (*Planner, error) {
	var journal []plan.Change
	if m.Journal != nil {
		var err error
		if journal, err = m.Journal(r); err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
	}
	return NewPlanner(r, journal), nil
}

// Plan implements module.Module. Every guard that refuses a device which
// is not bound yet is an error problem: a profile cannot force past a
// guard; the operator fixes the host (or the profile) instead.
func (m Module) Plan(ctx context.Context, env *module.Env, spec *profile.Spec) (*module.Result, error) {
	p, err := m.planner(env.Root)
	if err != nil {
		return nil, err
	}
	var (
		targets []Target
		pending []plan.Item
		vfProbs []plan.Problem
	)
	for i, d := range spec.Devices {
		arg := d.PCI
		if d.PF != "" && d.VF != nil {
			addr, wait, err := resolveVF(env.Root, d)
			if err != nil {
				vfProbs = append(vfProbs, plan.Problem{Severity: plan.Error, Module: Name, Object: fmt.Sprintf("devices[%d]/pf", i),
					Message: err.Error(), Remedy: "name an SR-IOV capable PF ('nettune devices' shows sriov_totalvfs and the PF/VF links)"})
				continue
			}
			if wait {
				inv, err := Scan(env.Root, nil)
				if err != nil {
					return nil, err
				}
				pending = append(pending, pendingVF(inv, d, addr)...)
				continue
			}
			arg = addr
		}
		t := Target{Arg: arg, Driver: d.Driver, NoIOMMU: d.UnsafeNoIOMMU, Reason: "profile binds " + arg + " to " + d.Driver}
		if d.UID != nil || d.GID != nil {
			o := Owner{}
			if d.UID != nil {
				o.UID = *d.UID
			}
			if d.GID != nil {
				o.GID = *d.GID
			}
			t.Owner = &o
		}
		targets = append(targets, t)
	}
	r, err := p.Bind(ctx, targets, Options{})
	if err != nil {
		return nil, err
	}
	res := &module.Result{Items: mergePending(r.Items, pending), Problems: vfProbs}
	for _, ref := range r.Refusals {
		remedy := ref.Remedy
		switch ref.Guard {
		case GuardIOMMUGroup:
			remedy = "list them in spec.devices too"
		case GuardClass:
			remedy = "spec.devices binds network, crypto, co-processor and accelerator devices only; if this one really is meant for user space, bind it with 'nettune bind --any-class'"
		}
		remedy = strings.ReplaceAll(remedy, ", or --force", "")
		remedy = strings.ReplaceAll(remedy, " or --force", "")
		res.Problems = append(res.Problems, plan.Problem{Severity: plan.Error, Module: Name, Object: ref.Device, Message: ref.Message, Remedy: remedy})
	}
	for _, w := range r.Warnings {
		res.Problems = append(res.Problems, plan.Problem{Severity: plan.Warning, Module: Name, Object: w.Device, Message: w.Message, Remedy: w.Remedy})
	}
	return res, nil
}

// Apply implements module.Module.
func (Module) Apply(ctx context.Context, env *module.Env, c plan.Change) error {
	if isPendingVF(c) {
		return bindPendingVF(ctx, env.Root, c)
	}
	return change(ctx, env.Root, c, false)
}

// Revert implements module.Module.
func (Module) Revert(ctx context.Context, env *module.Env, c plan.Change) error {
	if isPendingVF(c) {
		return unbindPendingVF(ctx, env.Root, c)
	}
	if c.Attribute == AttrDriver {
		if err := vfInUse(env.Root, c.Object); err != nil {
			return err
		}
	}
	return change(ctx, env.Root, c, true)
}

// isPendingVF reports whether c binds a VF that did not exist when it was
// planned.
func isPendingVF(c plan.Change) bool {
	return c.Attribute == AttrDriver && c.Action == plan.Create && strings.Contains(c.Device, "/virtfn")
}

// mergePending puts the pending VF bindings among the planned items:
// module loads first (without duplicates), then every binding.
func mergePending(items, pending []plan.Item) []plan.Item {
	if len(pending) == 0 {
		return items
	}
	loaded := map[string]bool{}
	var mods, rest []plan.Item
	for _, it := range append(append([]plan.Item{}, items...), pending...) {
		if it.Attribute == AttrModule {
			if loaded[it.Object] {
				continue
			}
			loaded[it.Object] = true
			mods = append(mods, it)
			continue
		}
		rest = append(rest, it)
	}
	return append(mods, rest...)
}

// Current implements module.Observer: the binding of a device (the
// journaled Before or After when the device is bound that way, so that
// the informational interface names do not count), whether a module is
// loaded, vfio's no-IOMMU switch, and the owner and mode of a group node.
func (Module) Current(_ context.Context, env *module.Env, c plan.Change) (string, bool, error) {
	r := env.Root
	if isPendingVF(c) && !r.Exists(r.Sys(pciDevices, c.Object)) {
		return "", true, nil
	}
	switch c.Attribute {
	case AttrDriver:
		st, err := Observe(r, c.Object)
		if err != nil {
			return "", false, err
		}
		for _, v := range []string{c.Before, c.After} {
			if want, err := ParseState(v); err == nil && want.Same(st) {
				return v, false, nil
			}
		}
		return st.String(), false, nil
	case AttrModule:
		if registered(r, c.Object) == "" {
			return "", true, nil
		}
		return moduleLoaded, false, nil
	case AttrNoIOMMU:
		v, err := r.ReadString(r.Path(noIOMMUParam))
		if err != nil {
			if host.IsNotExist(err) {
				return "", true, nil
			}
			return "", false, err
		}
		return strings.TrimSpace(v), false, nil
	case AttrOwner, AttrMode:
		node := groupNode(r, c.Object)
		if node == "" || !r.Exists(r.Path(node)) {
			return "", true, nil
		}
		st, err := os.Stat(r.Path(node))
		if err != nil {
			return "", false, err
		}
		if c.Attribute == AttrMode {
			return fmt.Sprintf("%04o", st.Mode().Perm()), false, nil
		}
		o, err := ownerOf(r.Path(node))
		if err != nil {
			return "", false, err
		}
		return o.String(), false, nil
	}
	return "", false, module.ErrUnsupported
}

// change applies (or with revert, undoes) one journaled change.
func change(ctx context.Context, r *host.Root, c plan.Change, revert bool) error {
	value := c.After
	if revert {
		value = c.Before
	}
	switch c.Attribute {
	case AttrDriver:
		st, err := ParseState(value)
		if err != nil {
			return err
		}
		return Transition(ctx, r, c.Object, st)
	case AttrModule:
		if !revert {
			return loadModule(ctx, r, c.Object)
		}
		if c.Before == "" {
			return unloadModule(ctx, r, c.Object)
		}
		return nil
	case AttrNoIOMMU:
		if revert && !r.Exists(r.Path(noIOMMUParam)) {
			// vfio was unloaded: the parameter is gone with it.
			return nil
		}
		return setNoIOMMU(r, value)
	case AttrMode:
		if value == "" {
			return nil
		}
		m, err := strconv.ParseUint(value, 8, 32)
		if err != nil {
			return fmt.Errorf("bad mode %q in journal: %w", value, err)
		}
		if revert && (groupNode(r, c.Object) == "" || !r.Exists(r.Path(groupNode(r, c.Object)))) {
			return nil
		}
		return setMode(r, c.Object, fs.FileMode(m))
	case AttrOwner:
		if value == "" {
			// The node did not exist before the bind; it goes away
			// when the binding is reverted.
			return nil
		}
		o, err := ParseOwner(value)
		if err != nil {
			return err
		}
		if revert && (groupNode(r, c.Object) == "" || !r.Exists(r.Path(groupNode(r, c.Object)))) {
			return nil
		}
		return setOwner(r, c.Object, o)
	}
	return fmt.Errorf("unknown devices attribute %q in journal", c.Attribute)
}
