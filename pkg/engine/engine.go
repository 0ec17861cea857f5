// Package engine runs nettune's modules against a host: it validates a
// profile against the host, computes the plan, applies it one change at a
// time under an exclusive lock with a write-ahead journal and read-back
// verification, rolls everything back on failure, keeps numbered
// generations for revert, and re-observes the host for check.
package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Sentinel error classes, tested with errors.Is.
var (
	// ErrBusy: another nettune holds the lock.
	ErrBusy = errors.New("another nettune apply or revert is running")
	// ErrInvalid: the profile does not fit this host.
	ErrInvalid = errors.New("profile does not fit this host")
	// ErrNotImplemented: the profile uses a module that does not exist yet.
	ErrNotImplemented = errors.New("not implemented yet")
	// ErrUnfinished: a previous apply was interrupted.
	ErrUnfinished = errors.New("a previous apply did not finish")
	// ErrNothingToRevert: no generation to revert.
	ErrNothingToRevert = errors.New("nothing to revert")
	// ErrAborted: the operator declined.
	ErrAborted = errors.New("aborted")
	// ErrOtherNamespace: the journal was written in another network
	// namespace than the one nettune runs in.
	ErrOtherNamespace = errors.New("recorded in another network namespace")
	// ErrModifiedSince: a setting was changed by someone else after
	// nettune wrote it.
	ErrModifiedSince = errors.New("changed since nettune wrote it")
	// ErrPermission: the plan needs rights nettune does not have.
	ErrPermission = errors.New("missing rights")
)

// Engine drives the modules over one host.
type Engine struct {
	Env     *module.Env
	Modules []module.Module
	// Version is recorded in journal headers.
	Version string
	// Now is the clock (tests pin it).
	Now func() time.Time
	// Journal performs the journal's durable writes (tests wrap it).
	Journal JournalFS
	// Only, when set, are the spec sections a plan is restricted to (the
	// CLI's --only): settings earlier applies made in other sections are
	// out of scope, not orphans to return.
	Only []string
}

// New returns an engine over env with modules, in apply order (the CLI's
// registry, cli.Modules, lists them all).
func New(env *module.Env, version string, modules []module.Module) *Engine {
	if env.NetNS == nil {
		env.NetNS, _ = host.CurrentNetNS(env.Root)
	}
	return &Engine{Env: env, Modules: modules, Version: version, Now: time.Now, Journal: OSJournal{}}
}

// PlanResult is the outcome of observing the host against a profile.
type PlanResult struct {
	Profile  string         `json:"profile" yaml:"profile"`
	Items    []plan.Item    `json:"items" yaml:"items"`
	Problems []plan.Problem `json:"problems" yaml:"problems"`
}

// Changes returns the items that differ from the profile, in apply order.
func (r *PlanResult) Changes() []plan.Change {
	n := 0
	for _, it := range r.Items {
		if it.Status == plan.Drift && !it.CheckOnly {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]plan.Change, 0, n)
	for _, it := range r.Items {
		if it.Status == plan.Drift && !it.CheckOnly {
			out = append(out, it.Change)
		}
	}
	return out
}

// Errors returns the problems that stop apply.
func (r *PlanResult) Errors() []plan.Problem { return r.filter(plan.Error) }

// Warnings returns the problems that do not stop anything.
func (r *PlanResult) Warnings() []plan.Problem { return r.filter(plan.Warning) }

func (r *PlanResult) filter(s plan.Severity) []plan.Problem {
	var out []plan.Problem
	for _, p := range r.Problems {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// Count returns how many items have status s.
func (r *PlanResult) Count(s plan.Status) int {
	n := 0
	for _, it := range r.Items {
		if it.Status == s {
			n++
		}
	}
	return n
}

// ValidationError carries the problems that make a profile unfit for the
// host. errors.Is(err, ErrInvalid) is true.
type ValidationError struct{ Problems []plan.Problem }

func (e *ValidationError) Error() string {
	s := fmt.Sprintf("%d problem(s) with the profile on this host:", len(e.Problems))
	for _, p := range e.Problems {
		s += "\n  " + p.String()
	}
	return s
}

// Is reports ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Plan observes the host and compares it with the profile. It never writes.
// Problems with severity error are returned in the result and as a
// *ValidationError.
func (e *Engine) Plan(ctx context.Context, p *profile.Profile) (*PlanResult, error) {
	res := &PlanResult{Profile: p.Metadata.Name}
	ctx = module.WithMemo(ctx)
	// The journal, for orphans, is read while the modules plan: on a
	// host that applied thousands of changes it is megabytes of JSON.
	journal := make(chan generationsRead, 1)
	go func() {
		var j generationsRead
		var gens []*Generation
		if gens, j.err = Generations(e.Env.Root); j.err == nil {
			j.own, j.order = owned(gens)
		}
		journal <- j
	}()
	e.Env.Profile = p.Metadata.Name
	known := map[string]bool{}
	// The modules' items are gathered, then copied once into a slice of
	// the right size: 16,500 items of a large host are 3.6 MB, and
	// appending a module's few items after them copied them all again.
	var planned [][]plan.Item
	for _, m := range e.Modules {
		known[m.Name()] = true
		// --only chooses the modules that plan; each still sees the whole
		// profile (irqbalance's ban list is made from spec.nics, the NIC
		// plan from spec.cpu's isolated CPUs).
		if !m.Configured(&p.Spec) || !e.inScope(m.Name()) {
			continue
		}
		r, err := m.Plan(ctx, e.Env, &p.Spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name(), err)
		}
		planned = append(planned, r.Items)
		for _, pb := range r.Problems {
			if pos, ok := p.Where(m.Name(), pb.Object); ok && pb.Where == "" {
				pb.Where = pos.String()
			}
			// A module that plans part of another module's section
			// (housekeeping plans spec.cpu.runtime) points into it.
			if s, ok := m.(interface{ Section() string }); ok && pb.Where == "" {
				if pos, ok := p.Where(s.Section(), pb.Object); ok {
					pb.Where = pos.String()
				}
			}
			res.Problems = append(res.Problems, pb)
		}
	}
	n := 0
	for _, items := range planned {
		n += len(items)
	}
	if n > 0 {
		res.Items = make([]plan.Item, 0, n)
		for _, items := range planned {
			res.Items = append(res.Items, items...)
		}
	}
	for _, s := range UsedSections(&p.Spec) {
		if !known[s] {
			res.Problems = append(res.Problems, plan.Problem{
				Severity: plan.Error, Module: s,
				Message: fmt.Sprintf("module %s %v: this nettune cannot plan spec.%s", s, ErrNotImplemented, s),
				Remedy:  fmt.Sprintf("remove spec.%s from the profile or use a nettune that implements it", s),
			})
		}
	}
	e.addOrphans(ctx, &p.Spec, res, <-journal)
	if errs := res.Errors(); len(errs) > 0 {
		return res, &ValidationError{Problems: errs}
	}
	return res, nil
}

// inScope reports whether the module handles one of the sections in
// e.Only (every module when Only is empty).
func (e *Engine) inScope(module string) bool {
	if len(e.Only) == 0 {
		return true
	}
	s := &profile.Spec{}
	for _, sec := range e.Only {
		switch sec {
		case "sysctl":
			s.Sysctl = map[string]profile.SysctlValue{"": ""}
		case "cpu":
			s.CPU = &profile.CPU{}
		case "hugepages":
			s.Hugepages = &profile.Hugepages{}
		case "nics":
			s.NICs = []profile.NIC{{}}
		case "irqbalance":
			s.IRQBalance = &profile.IRQBalance{}
		case "devices":
			s.Devices = []profile.Device{{}}
		case "dataplane":
			s.Dataplane = &profile.Dataplane{}
		case "sriov":
			s.SRIOV = []profile.SRIOV{{}}
		}
	}
	for _, m := range e.Modules {
		if m.Name() == module {
			return m.Configured(s)
		}
	}
	return false
}

// UsedSections lists the spec sections a profile sets, in the order of the
// profile reference.
func UsedSections(s *profile.Spec) []string {
	var out []string
	add := func(used bool, name string) {
		if used {
			out = append(out, name)
		}
	}
	add(len(s.Sysctl) > 0, "sysctl")
	add(s.CPU != nil, "cpu")
	add(s.Hugepages != nil, "hugepages")
	add(len(s.NICs) > 0, "nics")
	add(s.IRQBalance != nil, "irqbalance")
	add(len(s.Devices) > 0, "devices")
	add(s.Dataplane != nil, "dataplane")
	add(len(s.SRIOV) > 0, "sriov")
	return out
}

func (e *Engine) module(name string) (module.Module, error) {
	for _, m := range e.Modules {
		if m.Name() == name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("journal names module %q, which this nettune does not have", name)
}

// Check re-observes the host against the profile.
func (e *Engine) Check(ctx context.Context, p *profile.Profile) (*PlanResult, error) {
	return e.Plan(ctx, p)
}
