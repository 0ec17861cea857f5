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
)

// Engine drives the modules over one host.
type Engine struct {
	Env     *module.Env
	Modules []module.Module
	// Version is recorded in journal headers.
	Version string
	// Now is the clock (tests pin it).
	Now func() time.Time
}

// New returns an engine over env with the registered modules.
func New(env *module.Env, version string) *Engine {
	return &Engine{Env: env, Modules: Modules(), Version: version, Now: time.Now}
}

// PlanResult is the outcome of observing the host against a profile.
type PlanResult struct {
	Profile  string         `json:"profile" yaml:"profile"`
	Items    []plan.Item    `json:"items" yaml:"items"`
	Problems []plan.Problem `json:"problems" yaml:"problems"`
}

// Changes returns the items that differ from the profile, in apply order.
func (r *PlanResult) Changes() []plan.Change {
	var out []plan.Change
	for _, it := range r.Items {
		if it.Status == plan.Drift {
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
	e.Env.Profile = p.Metadata.Name
	known := map[string]bool{}
	for _, m := range e.Modules {
		known[m.Name()] = true
		if !m.Configured(&p.Spec) {
			continue
		}
		r, err := m.Plan(ctx, e.Env, &p.Spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name(), err)
		}
		res.Items = append(res.Items, r.Items...)
		res.Problems = append(res.Problems, r.Problems...)
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
	if errs := res.Errors(); len(errs) > 0 {
		return res, &ValidationError{Problems: errs}
	}
	return res, nil
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

// ApplyResult reports what an apply did.
type ApplyResult struct {
	Generation int           `json:"generation" yaml:"generation"`
	Applied    []plan.Change `json:"applied" yaml:"applied"`
	Plan       *PlanResult   `json:"plan" yaml:"plan"`
}

// Confirm is asked before anything is written; returning false aborts.
type Confirm func(*PlanResult) (bool, error)

// Apply brings the host to the profile. It takes the lock, plans, asks
// confirm (which may be nil), and applies each change with a journal entry
// written first. On any failure every change already made is reverted in
// reverse order and the generation is discarded, so the host is left as it
// was.
func (e *Engine) Apply(ctx context.Context, p *profile.Profile, confirm Confirm) (*ApplyResult, error) {
	build := func(ctx context.Context) (*PlanResult, error) { return e.Plan(ctx, p) }
	return e.apply(ctx, record{Profile: p.Metadata.Name, Source: p.Source}, build, confirm)
}

// ApplyChanges applies the changes build computes (called under the lock)
// as a new generation recorded under label, exactly like Apply: confirmed,
// journaled write-ahead, verified, rolled back on failure, undone by
// 'nettune revert'. 'nettune bind' and 'nettune unbind' use it. An error
// from build aborts before anything is written.
func (e *Engine) ApplyChanges(ctx context.Context, label string, build func(context.Context) (*PlanResult, error), confirm Confirm) (*ApplyResult, error) {
	return e.apply(ctx, record{Profile: label}, build, confirm)
}

// JournalChanges returns every change recorded in the journal, oldest
// first. Modules read it to know what nettune did before (the devices
// module finds the interface name of a device it bound away).
func JournalChanges(r *host.Root) ([]plan.Change, error) {
	gens, err := Generations(r)
	if err != nil {
		return nil, err
	}
	var out []plan.Change
	for _, g := range gens {
		out = append(out, g.Changes...)
	}
	return out, nil
}

func (e *Engine) apply(ctx context.Context, hdr record, build func(context.Context) (*PlanResult, error), confirm Confirm) (*ApplyResult, error) {
	r := e.Env.Root
	lk, err := acquire(r)
	if err != nil {
		return nil, err
	}
	defer lk.release(r)

	nums, err := listGenerations(r)
	if err != nil {
		return nil, err
	}
	next := 1
	if len(nums) > 0 {
		last := nums[len(nums)-1]
		g, err := readGeneration(genPath(r, last), last)
		if err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		if !g.Committed {
			return nil, fmt.Errorf("%w (generation %d, profile %q, started %s); run 'nettune revert' to undo its %d recorded change(s) first", ErrUnfinished, last, g.Profile, g.Time, len(g.Changes))
		}
		next = last + 1
	}

	pr, err := build(ctx)
	if err != nil {
		return &ApplyResult{Plan: pr}, err
	}
	res := &ApplyResult{Plan: pr}
	changes := pr.Changes()
	if len(changes) == 0 {
		return res, nil
	}
	if confirm != nil {
		ok, err := confirm(pr)
		if err != nil {
			return res, err
		}
		if !ok {
			return res, ErrAborted
		}
	}

	hdr.Version = e.Version
	hdr.Time = e.Now().UTC().Format(time.RFC3339)
	j, err := openGeneration(r, next, hdr)
	if err != nil {
		return res, err
	}
	defer j.close()

	var begun []plan.Change
	for i, c := range changes {
		if err := ctx.Err(); err != nil {
			return res, e.rollback(ctx, next, begun, fmt.Errorf("interrupted: %w", err))
		}
		c := c
		if err := j.append(record{Op: "begin", Seq: i + 1, Change: &c}); err != nil {
			return res, e.rollback(ctx, next, begun, err)
		}
		begun = append(begun, c)
		m, err := e.module(c.Module)
		if err != nil {
			return res, e.rollback(ctx, next, begun, err)
		}
		e.Env.Log.Debug("apply", "change", c.String())
		if err := m.Apply(ctx, e.Env, c); err != nil {
			return res, e.rollback(ctx, next, begun, fmt.Errorf("%s %s %s: %w", c.Module, c.Object, c.Attribute, err))
		}
		if err := j.append(record{Op: "done", Seq: i + 1}); err != nil {
			return res, e.rollback(ctx, next, begun, err)
		}
		res.Applied = append(res.Applied, c)
	}
	if err := j.append(record{Op: "commit"}); err != nil {
		return res, e.rollback(ctx, next, begun, err)
	}
	res.Generation = next
	return res, nil
}

// RollbackError is returned when apply failed and the rollback itself could
// not restore everything; the generation is kept for 'nettune revert'.
type RollbackError struct {
	Cause      error
	Generation int
	Failed     []error
}

func (e *RollbackError) Error() string {
	s := fmt.Sprintf("%v; rollback failed for %d change(s), the journal is kept as generation %d: run 'nettune revert' to retry:", e.Cause, len(e.Failed), e.Generation)
	for _, f := range e.Failed {
		s += "\n  " + f.Error()
	}
	return s
}

func (e *RollbackError) Unwrap() error { return e.Cause }

// rollback reverts begun changes in reverse order. A background context is
// used so that an interrupted apply still restores the host.
func (e *Engine) rollback(_ context.Context, gen int, begun []plan.Change, cause error) error {
	ctx := context.Background()
	var failed []error
	for i := len(begun) - 1; i >= 0; i-- {
		c := begun[i]
		m, err := e.module(c.Module)
		if err == nil {
			err = m.Revert(ctx, e.Env, c)
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("revert %s %s %s: %w", c.Module, c.Object, c.Attribute, err))
		}
	}
	if len(failed) > 0 {
		return &RollbackError{Cause: cause, Generation: gen, Failed: failed}
	}
	if err := e.Env.Root.W.Remove(genPath(e.Env.Root, gen)); err != nil {
		return fmt.Errorf("%w (host restored; removing the journal failed: %v)", cause, err)
	}
	return fmt.Errorf("%w (all %d change(s) rolled back; the host is as it was)", cause, len(begun))
}

// RevertPlan is what a revert will do.
type RevertPlan struct {
	Generations []int         `json:"generations" yaml:"generations"`
	Changes     []plan.Change `json:"changes" yaml:"changes"`
}

// RevertConfirm is asked before revert writes anything.
type RevertConfirm func(*RevertPlan) (bool, error)

// Revert restores the host to the state before generation to (0 means the
// last one), undoing every later generation, newest first.
func (e *Engine) Revert(ctx context.Context, to int, confirm RevertConfirm) (*RevertPlan, error) {
	r := e.Env.Root
	if !stateExists(r) {
		return nil, fmt.Errorf("%w: no apply is recorded under %s", ErrNothingToRevert, r.HostPath(r.State()))
	}
	lk, err := acquire(r)
	if err != nil {
		return nil, err
	}
	defer lk.release(r)
	gens, err := Generations(r)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	if len(gens) == 0 {
		return nil, fmt.Errorf("%w: no apply is recorded under %s", ErrNothingToRevert, r.HostPath(r.State()))
	}
	if to == 0 {
		to = gens[len(gens)-1].Number
	}
	var todo []*Generation
	for i := len(gens) - 1; i >= 0; i-- {
		if gens[i].Number >= to {
			todo = append(todo, gens[i])
		}
	}
	if len(todo) == 0 || todo[len(todo)-1].Number != to {
		var have []int
		for _, g := range gens {
			have = append(have, g.Number)
		}
		return nil, fmt.Errorf("%w: generation %d does not exist (recorded: %v)", ErrNothingToRevert, to, have)
	}
	rp := &RevertPlan{}
	for _, g := range todo {
		rp.Generations = append(rp.Generations, g.Number)
		for i := len(g.Changes) - 1; i >= 0; i-- {
			rp.Changes = append(rp.Changes, g.Changes[i].Inverse())
		}
	}
	if confirm != nil {
		ok, err := confirm(rp)
		if err != nil {
			return rp, err
		}
		if !ok {
			return rp, ErrAborted
		}
	}
	for _, g := range todo {
		for i := len(g.Changes) - 1; i >= 0; i-- {
			c := g.Changes[i]
			m, err := e.module(c.Module)
			if err != nil {
				return rp, err
			}
			if err := m.Revert(ctx, e.Env, c); err != nil {
				return rp, fmt.Errorf("revert generation %d: %s %s %s: %w (generations not yet reverted are kept; fix the cause and run revert again)", g.Number, c.Module, c.Object, c.Attribute, err)
			}
		}
		if err := r.W.Remove(genPath(r, g.Number)); err != nil {
			return rp, err
		}
	}
	return rp, nil
}

// Check re-observes the host against the profile.
func (e *Engine) Check(ctx context.Context, p *profile.Profile) (*PlanResult, error) {
	return e.Plan(ctx, p)
}
