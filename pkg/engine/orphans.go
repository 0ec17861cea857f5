package engine

import (
	"context"
	"fmt"

	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// A profile switch: generation N applied profile A, which set X; profile B
// no longer sets X. Like TuneD switching profiles, nettune returns X to the
// value it had before nettune first changed it (the Before of the oldest
// change of X still recorded), as one more change of the new generation, so
// reverting that generation gives A's value back. apply --keep-orphans keeps
// X as it is instead and records that nettune no longer owns it. Settings
// made by 'nettune bind'/'unbind' belong to no profile and are never
// orphans.

// generationsRead is owned of what Generations returned, or its error.
type generationsRead struct {
	own   map[string]*ownership
	order []string
	err   error
}

// ownership points into the generations' changes (a copy of two changes
// per setting was 6 MB on a host with 16,500 of them).
type ownership struct {
	first, last *plan.Change
	gen         *Generation
}

// owned returns the settings recorded by profile generations, by change
// key, in the order they were first made.
func owned(gens []*Generation) (map[string]*ownership, []string) {
	n := 0
	for _, g := range gens {
		n += len(g.Changes)
	}
	own := make(map[string]*ownership, n)
	order := make([]string, 0, n)
	for _, g := range gens {
		if g.Source == commandSource {
			continue
		}
		for _, k := range g.Released {
			delete(own, k)
		}
		for i := range g.Changes {
			c := &g.Changes[i]
			k := c.Key()
			if o := own[k]; o != nil {
				o.last, o.gen = c, g
				continue
			}
			own[k] = &ownership{first: c, last: c, gen: g}
			order = append(order, k)
		}
	}
	return own, order
}

// addOrphans appends to res a change for every owned setting the plan no
// longer covers.
func (e *Engine) addOrphans(ctx context.Context, spec *profile.Spec, res *PlanResult, journal generationsRead) {
	if err := journal.err; err != nil {
		res.Problems = append(res.Problems, plan.Problem{Severity: plan.Warning, Module: "engine",
			Message: fmt.Sprintf("cannot read the journal to find settings earlier applies made: %v", err)})
		return
	}
	own, order := journal.own, journal.order
	// An object the plan still covers with any attribute is still the
	// profile's: modules leave out items that need no change of state
	// (a mount point directory that exists), so only objects the profile
	// no longer names at all are orphans.
	//
	// Many modules plan only what needs a change of state (devices: the
	// vfio-pci load disappears from the plan once the module is loaded),
	// so an object missing from their plan says nothing. Their objects are
	// orphans only when the profile no longer configures the module at
	// all; modules that plan every object they manage (module.Complete)
	// also orphan single objects the profile dropped.
	planned := make(map[string]bool, len(res.Items))
	for _, it := range res.Items {
		planned[it.Module+"/"+it.Object] = true
	}
	for _, k := range order {
		o := own[k]
		if o == nil || planned[o.last.Module+"/"+o.last.Object] || !e.inScope(o.last.Module) {
			continue
		}
		if m, err := e.module(o.last.Module); err == nil && m.Configured(spec) {
			if c, ok := m.(module.Complete); !ok || !c.PlansEveryObject() {
				continue
			}
		}
		c := *o.last
		who := fmt.Sprintf("set by generation %d (profile %q)", o.gen.Number, o.gen.Profile)
		m, err := e.module(c.Module)
		var (
			cur            string
			absent, canObs bool
		)
		if err == nil {
			cur, absent, canObs, err = observe(ctx, m, e.Env, c)
		}
		if err == nil && !canObs {
			res.Problems = append(res.Problems, plan.Problem{Severity: plan.Warning, Module: c.Module, Object: c.Object,
				Message: fmt.Sprintf("%s %s, %s, is not set by profile %q and nettune cannot return it on its own", c.Object, c.Attribute, who, res.Profile),
				Remedy:  fmt.Sprintf("'nettune revert --to %d' undoes it, or add it to the profile", o.gen.Number)})
			continue
		}
		if err != nil {
			res.Problems = append(res.Problems, plan.Problem{Severity: plan.Warning, Module: c.Module, Object: c.Object,
				Message: fmt.Sprintf("%s %s, %s, is not set by profile %q and cannot be read: %v", c.Object, c.Attribute, who, res.Profile, err)})
			continue
		}
		if atBefore(*o.first, cur, absent) {
			continue // already back where it was before nettune
		}
		// The change that takes the setting back, shown from the current
		// value to the one before nettune; it is made by the module's
		// revert of the original direction (Undo).
		back := c
		back.Before, back.After, back.Undo = cur, o.first.Before, true
		switch {
		case o.first.Action == plan.Create:
			back.Action = plan.Delete
		case absent:
			back.Action = plan.Create
		default:
			back.Action = plan.Set
		}
		back.Command = ""
		back.Reason = fmt.Sprintf("%s; profile %q does not set it: back to its value before nettune", who, res.Profile)
		res.Items = append(res.Items, plan.Item{Change: back, Status: plan.Drift, Orphan: true,
			Detail: fmt.Sprintf("orphaned: %s and no longer in the profile (apply returns it; apply --keep-orphans keeps it)", who)})
	}
}
