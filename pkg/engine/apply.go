package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// ApplyResult reports what an apply did.
type ApplyResult struct {
	Generation int           `json:"generation" yaml:"generation"`
	Applied    []plan.Change `json:"applied" yaml:"applied"`
	Plan       *PlanResult   `json:"plan" yaml:"plan"`
	// Attempted are the changes apply set out to make, in order (on
	// failure: what was attempted and rolled back).
	Attempted []plan.Change `json:"attempted,omitempty" yaml:"attempted,omitempty"`
	// Unsupported are changes the host did not allow (a managed IRQ): not
	// applied, left as they were, reported.
	Unsupported []Skipped `json:"unsupported,omitempty" yaml:"unsupported,omitempty"`
	// Released are settings of earlier generations that this apply kept
	// as they are instead of returning them (--keep-orphans).
	Released []string `json:"released,omitempty" yaml:"released,omitempty"`
}

// Skipped is a change the host did not allow.
type Skipped struct {
	Change plan.Change `json:"change" yaml:"change"`
	Reason string      `json:"reason" yaml:"reason"`
}

// Confirm is asked before anything is written; returning false aborts.
type Confirm func(*PlanResult) (bool, error)

// ApplyOptions change how Apply treats the settings earlier generations
// own.
type ApplyOptions struct {
	// KeepOrphans keeps settings that an earlier generation made and the
	// profile no longer sets at their current values (and stops tracking
	// them) instead of returning them to the values they had before
	// nettune.
	KeepOrphans bool
}

// Apply brings the host to the profile. It takes the lock, plans, checks
// that it has the rights every change needs, asks confirm (which may be
// nil), records every change with its prior value durably, then makes and
// verifies each change. On any failure every change already made is
// reverted in reverse order and the generation is discarded, so the host is
// left as it was.
func (e *Engine) Apply(ctx context.Context, p *profile.Profile, confirm Confirm) (*ApplyResult, error) {
	return e.ApplyWith(ctx, p, ApplyOptions{}, confirm)
}

// ApplyWith is Apply with options.
func (e *Engine) ApplyWith(ctx context.Context, p *profile.Profile, opts ApplyOptions, confirm Confirm) (*ApplyResult, error) {
	build := func(ctx context.Context) (*PlanResult, error) { return e.Plan(ctx, p) }
	return e.apply(ctx, record{Profile: p.Metadata.Name, Source: p.Source}, opts, build, confirm)
}

// ApplyChanges applies the changes build computes (called under the lock)
// as a new generation recorded under label, exactly like Apply: confirmed,
// journaled write-ahead, verified, rolled back on failure, undone by
// 'nettune revert'. 'nettune bind' and 'nettune unbind' use it. An error
// from build aborts before anything is written. Such generations belong to
// no profile: a later profile apply never treats their changes as orphans.
func (e *Engine) ApplyChanges(ctx context.Context, label string, build func(context.Context) (*PlanResult, error), confirm Confirm) (*ApplyResult, error) {
	return e.apply(ctx, record{Profile: label, Source: commandSource}, ApplyOptions{KeepOrphans: true}, build, confirm)
}

// commandSource marks generations made by a command (bind, unbind) rather
// than by a profile.
const commandSource = "command"

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

// nextGeneration checks that the journal allows a new apply and returns its
// number.
func (e *Engine) nextGeneration() (int, error) {
	r := e.Env.Root
	gens, err := Generations(r)
	if err != nil {
		return 0, fmt.Errorf("read journal: %w", err)
	}
	if len(gens) == 0 {
		return 1, nil
	}
	last := gens[len(gens)-1]
	if !last.Committed {
		return 0, fmt.Errorf("%w (generation %d, profile %q, started %s); run 'nettune revert' to undo its %d recorded change(s) first, or 'nettune revert --abandon %d' to forget it and keep the host as it is", ErrUnfinished, last.Number, last.Profile, last.Time, len(last.Changes), last.Number)
	}
	for i := len(gens) - 1; i >= 0; i-- {
		g := gens[i]
		if g.NetNS != nil && e.Env.NetNS != nil && !g.NetNS.Same(e.Env.NetNS) {
			return 0, fmt.Errorf("%w: generation %d was applied in %s and this nettune runs in %s; one journal cannot mix namespaces: revert it there first (%snettune revert --to %d)", ErrOtherNamespace, g.Number, g.NetNS, e.Env.NetNS, g.NetNS.EnterCommand(), g.Number)
		}
	}
	return last.Number + 1, nil
}

func (e *Engine) apply(ctx context.Context, hdr record, opts ApplyOptions, build func(context.Context) (*PlanResult, error), confirm Confirm) (*ApplyResult, error) {
	r := e.Env.Root
	lk, err := acquire(r)
	if err != nil {
		return nil, err
	}
	defer lk.release(r)
	if err := cleanTemps(r); err != nil {
		return nil, err
	}
	next, err := e.nextGeneration()
	if err != nil {
		return nil, err
	}

	pr, err := build(ctx)
	res := &ApplyResult{Plan: pr}
	if err != nil {
		return res, err
	}
	var changes []plan.Change
	for _, it := range pr.Items {
		if it.Status != plan.Drift || it.CheckOnly {
			continue
		}
		if it.Orphan && opts.KeepOrphans {
			res.Released = append(res.Released, it.Key())
			continue
		}
		changes = append(changes, it.Change)
	}
	res.Attempted = changes
	if len(changes) == 0 && len(res.Released) == 0 {
		return res, nil
	}
	if missing := e.missingRights(changes); len(missing) > 0 {
		return res, &RightsError{Missing: missing}
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

	hdr.Op = "open"
	hdr.Version = e.Version
	hdr.Time = e.Now().UTC().Format(time.RFC3339)
	hdr.NetNS = e.Env.NetNS
	hdr.Released = res.Released
	path := genPath(r, next)
	if err := e.journal().Create(path, encode(hdr, record{Op: "intent", Changes: changes})); err != nil {
		return res, fmt.Errorf("nothing was changed: %w", err)
	}

	for i, c := range changes {
		if err := ctx.Err(); err != nil {
			return res, e.rollback(next, changes[:i], fmt.Errorf("interrupted: %w", err))
		}
		m, err := e.module(c.Module)
		if err != nil {
			return res, e.rollback(next, changes[:i], err)
		}
		e.Env.Log.Debug("apply", "change", c.String())
		err = applyOne(ctx, m, e.Env, c)
		if errors.Is(err, module.ErrSkipped) {
			e.Env.Log.Warn("not applied: unsupported on this host", "change", c.String(), "error", err)
			res.Unsupported = append(res.Unsupported, Skipped{Change: c, Reason: err.Error()})
			continue
		}
		if err != nil {
			// The failed change is rolled back too: it may have been
			// partly made. Reverting a change that was not made is a
			// no-op (the host already holds the prior value).
			return res, e.rollback(next, changes[:i+1], fmt.Errorf("%s %s %s: %w", c.Module, c.Object, c.Attribute, err))
		}
		res.Applied = append(res.Applied, c)
	}
	if err := e.journal().Append(path, encode(record{Op: "commit"})); err != nil {
		return res, e.rollback(next, changes, err)
	}
	res.Generation = next
	return res, nil
}

func (e *Engine) journal() JournalFS {
	if e.Journal == nil {
		return OSJournal{}
	}
	return e.Journal
}

// RollbackError is returned when apply failed and the rollback itself could
// not restore everything; the generation is kept for 'nettune revert'.
type RollbackError struct {
	Cause      error
	Generation int
	Failed     []error
}

func (e *RollbackError) Error() string {
	s := fmt.Sprintf("%v; rollback failed for %d change(s), the journal is kept as generation %d: fix the cause and run 'nettune revert', or 'nettune revert --abandon %d' to keep the host as it is:", e.Cause, len(e.Failed), e.Generation, e.Generation)
	for _, f := range e.Failed {
		s += "\n  " + f.Error()
	}
	return s
}

func (e *RollbackError) Unwrap() error { return e.Cause }

// rollback undoes changes in reverse order. A background context is used so
// that an interrupted apply still restores the host.
func (e *Engine) rollback(gen int, changes []plan.Change, cause error) error {
	ctx := context.Background()
	var failed []error
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		if err := e.undo(ctx, c); err != nil {
			failed = append(failed, fmt.Errorf("revert %s %s %s: %w", c.Module, c.Object, c.Attribute, err))
		}
	}
	if len(failed) > 0 {
		return &RollbackError{Cause: cause, Generation: gen, Failed: failed}
	}
	if err := e.journal().Remove(genPath(e.Env.Root, gen)); err != nil {
		return fmt.Errorf("%w (host restored; removing the journal failed: %v)", cause, err)
	}
	return fmt.Errorf("%w (rolled back; the host is as it was)", cause)
}

// undo reverts one change. When the module can observe the object and it
// already holds the prior value (the write never happened, or a revert
// already ran), nothing is written: a target that refuses every write
// cannot block the rollback of a change it refused. A revert that fails
// although the object reads back as the prior value has succeeded.
func (e *Engine) undo(ctx context.Context, c plan.Change) error {
	m, err := e.module(c.Module)
	if err != nil {
		return err
	}
	if cur, absent, ok, err := observe(ctx, m, e.Env, c); ok && err == nil && atBefore(c, cur, absent) {
		return nil
	}
	rerr := revertOne(ctx, m, e.Env, c)
	if rerr != nil {
		if cur, absent, ok, err := observe(ctx, m, e.Env, c); ok && err == nil && atBefore(c, cur, absent) {
			e.Env.Log.Warn("revert reported an error but the prior value is in place", "change", c.String(), "error", rerr)
			return nil
		}
	}
	return rerr
}

// applyOne makes change c; an Undo change is made by the module's revert
// of the change it takes back.
func applyOne(ctx context.Context, m module.Module, env *module.Env, c plan.Change) error {
	if c.Undo {
		return m.Revert(ctx, env, c.Forward())
	}
	return m.Apply(ctx, env, c)
}

// revertOne undoes change c; an Undo change is undone by the module's apply
// of the change it took back.
func revertOne(ctx context.Context, m module.Module, env *module.Env, c plan.Change) error {
	if c.Undo {
		return m.Apply(ctx, env, c.Forward())
	}
	return m.Revert(ctx, env, c)
}

// observer returns m's Observer when it can read c's object.
func observe(ctx context.Context, m module.Module, env *module.Env, c plan.Change) (cur string, absent, ok bool, err error) {
	obs, can := m.(module.Observer)
	if !can {
		return "", false, false, nil
	}
	cur, absent, err = obs.Current(ctx, env, c)
	if errors.Is(err, module.ErrUnsupported) {
		return "", false, false, nil
	}
	return cur, absent, true, err
}

// atBefore reports whether an observed object is in the state it had
// before change c.
func atBefore(c plan.Change, cur string, absent bool) bool {
	if c.Action == plan.Create {
		return absent
	}
	return !absent && sameValue(cur, c.Before)
}

// atAfter reports whether an observed object is in the state change c
// left it in.
func atAfter(c plan.Change, cur string, absent bool) bool {
	if c.Action == plan.Delete {
		return absent
	}
	return !absent && sameValue(cur, c.After)
}

// sameValue compares values as the kernel prints them: runs of blanks (the
// kernel separates fields with tabs, profiles with spaces) are equal.
func sameValue(a, b string) bool {
	if a == b {
		return true
	}
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}
