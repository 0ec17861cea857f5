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
	var targets []Target
	for _, d := range spec.Devices {
		t := Target{Arg: d.PCI, Driver: d.Driver, NoIOMMU: d.UnsafeNoIOMMU, Reason: "profile binds " + d.PCI + " to " + d.Driver}
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
	res := &module.Result{Items: r.Items}
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
	return change(ctx, env.Root, c, false)
}

// Revert implements module.Module.
func (Module) Revert(ctx context.Context, env *module.Env, c plan.Change) error {
	return change(ctx, env.Root, c, true)
}

// Current implements module.Observer: the binding of a device (the
// journaled Before or After when the device is bound that way, so that
// the informational interface names do not count), whether a module is
// loaded, vfio's no-IOMMU switch, and the owner and mode of a group node.
func (Module) Current(_ context.Context, env *module.Env, c plan.Change) (string, bool, error) {
	r := env.Root
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
