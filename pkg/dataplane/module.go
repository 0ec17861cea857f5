package dataplane

import (
	"context"
	"fmt"

	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Module is the engine's view of spec.dataplane. The forwarder is started
// by `nettune run`, not by apply, so the module changes nothing: it
// validates the section against the host (ports, pairs, worker and
// housekeeping CPUs) so that plan, validate and apply refuse a dataplane
// the host cannot run, before anything is touched.
type Module struct{}

// Name implements module.Module.
func (Module) Name() string { return "dataplane" }

// Configured implements module.Module.
func (Module) Configured(s *profile.Spec) bool { return s.Dataplane != nil }

// Plan implements module.Module.
func (m Module) Plan(_ context.Context, env *module.Env, spec *profile.Spec) (*module.Result, error) {
	res := &module.Result{}
	topo, err := numa.Read(env.Root)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	if _, err := FromProfile(env.Root, spec, topo); err != nil {
		res.Problems = append(res.Problems, plan.Problem{Severity: plan.Error, Module: m.Name(), Message: err.Error(), Remedy: "fix spec.dataplane"})
	}
	return res, nil
}

// Apply implements module.Module; the module has no changes.
func (m Module) Apply(context.Context, *module.Env, plan.Change) error {
	return fmt.Errorf("the dataplane module makes no changes")
}

// Revert implements module.Module; the module has no changes.
func (m Module) Revert(context.Context, *module.Env, plan.Change) error { return nil }
