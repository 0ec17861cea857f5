package engine

import (
	"context"
	"fmt"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

// RevertOptions select what Revert undoes.
type RevertOptions struct {
	// To is the oldest generation to undo; every later one is undone too.
	// 0 means the newest generation only.
	To int
	// All undoes every recorded generation.
	All bool
	// Force overwrites settings that were changed by someone else since
	// nettune wrote them.
	Force bool
}

// RevertPlan is what a revert will do.
type RevertPlan struct {
	Generations []int `json:"generations" yaml:"generations"`
	// Changes are the writes, newest first. Before is the value the host
	// has now where the module can read it, not the journal's value.
	Changes []plan.Change `json:"changes" yaml:"changes"`
	// Modified lists the settings changed by someone else since nettune
	// wrote them (revert overwrites them only with Force).
	Modified []Modified `json:"modified,omitempty" yaml:"modified,omitempty"`
	// InPlace counts changes whose object already has its prior value
	// (nothing is written for them).
	InPlace int `json:"in_place" yaml:"in_place"`

	skip []bool
}

// Modified is a setting whose current value is neither what nettune wrote
// nor what was there before.
type Modified struct {
	Generation int         `json:"generation" yaml:"generation"`
	Change     plan.Change `json:"change" yaml:"change"`
	Actual     string      `json:"actual" yaml:"actual"`
}

func (m Modified) String() string {
	return fmt.Sprintf("%s %s %s is %q now; generation %d wrote %q over %q", m.Change.Module, m.Change.Object, m.Change.Attribute, m.Actual, m.Generation, m.Change.After, m.Change.Before)
}

// ModifiedError reports out-of-band changes a revert would overwrite.
type ModifiedError struct{ Modified []Modified }

func (e *ModifiedError) Error() string {
	s := fmt.Sprintf("%d setting(s) %v; revert would overwrite them (nothing was changed): pass --force to overwrite, or keep them by running 'nettune revert --abandon N' on the generations instead:", len(e.Modified), ErrModifiedSince)
	for _, m := range e.Modified {
		s += "\n  " + m.String()
	}
	return s
}

// Is reports ErrModifiedSince.
func (e *ModifiedError) Is(target error) bool { return target == ErrModifiedSince }

// RevertConfirm is asked before revert writes anything.
type RevertConfirm func(*RevertPlan) (bool, error)

// selectGenerations returns the generations a revert undoes, newest first.
func selectGenerations(gens []*Generation, opts RevertOptions) ([]*Generation, error) {
	to := opts.To
	switch {
	case opts.All:
		to = gens[0].Number
	case to == 0:
		to = gens[len(gens)-1].Number
	}
	var todo []*Generation
	found := false
	for i := len(gens) - 1; i >= 0; i-- {
		if gens[i].Number >= to {
			todo = append(todo, gens[i])
		}
		found = found || gens[i].Number == to
	}
	if !found {
		return nil, NotRecordedError(to, gens)
	}
	return todo, nil
}

// NotRecordedError is the one error for a generation number that is not in
// the journal (0, negative, or never recorded).
func NotRecordedError(n int, gens []*Generation) error {
	have := []int{}
	for _, g := range gens {
		have = append(have, g.Number)
	}
	return fmt.Errorf("%w: generation %d is not recorded (recorded: %v; --all reverts every one)", ErrNothingToRevert, n, have)
}

// lockRecorded takes the lock for a revert or an abandon, removes leftover
// journal temp files and returns the recorded generations; without any, it
// releases the lock and says there is nothing to revert.
func lockRecorded(r *host.Root) (*lock, []*Generation, error) {
	none := fmt.Errorf("%w: no apply is recorded under %s", ErrNothingToRevert, r.HostPath(r.State()))
	if !stateExists(r) {
		return nil, nil, none
	}
	lk, err := acquire(r)
	if err != nil {
		return nil, nil, err
	}
	gens, err := Generations(r)
	if err == nil {
		err = cleanTemps(r)
	}
	switch {
	case err != nil:
		err = fmt.Errorf("read journal: %w", err)
	case len(gens) == 0:
		err = none
	}
	if err != nil {
		lk.release(r)
		return nil, nil, err
	}
	return lk, gens, nil
}

// Revert restores the host to the state before the selected generations,
// newest first. It refuses, changing nothing, when a generation was made in
// another network namespace, or when a setting was changed by someone else
// since nettune wrote it (unless opts.Force).
func (e *Engine) Revert(ctx context.Context, opts RevertOptions, confirm RevertConfirm) (*RevertPlan, error) {
	r := e.Env.Root
	lk, gens, err := lockRecorded(r)
	if err != nil {
		return nil, err
	}
	defer lk.release(r)
	todo, err := selectGenerations(gens, opts)
	if err != nil {
		return nil, err
	}
	for _, g := range todo {
		if g.NetNS != nil && e.Env.NetNS != nil && !g.NetNS.Same(e.Env.NetNS) {
			return nil, fmt.Errorf("%w: generation %d was applied in %s, and this nettune runs in %s; nothing was changed. Run it there: %snettune revert", ErrOtherNamespace, g.Number, g.NetNS, e.Env.NetNS, g.NetNS.EnterCommand())
		}
	}
	rp, err := e.revertPlan(ctx, todo)
	if err != nil {
		return rp, err
	}
	if len(rp.Modified) > 0 && !opts.Force {
		return rp, &ModifiedError{Modified: rp.Modified}
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
	k := 0
	for _, g := range todo {
		for i := len(g.Changes) - 1; i >= 0; i-- {
			c := g.Changes[i]
			skip := rp.skip[k]
			k++
			if skip {
				continue
			}
			if err := e.undo(ctx, c); err != nil {
				return rp, fmt.Errorf("revert generation %d: %s %s %s: %w (generations not yet reverted are kept; fix the cause and run revert again, or 'nettune revert --abandon %d' to keep the host as it is)", g.Number, c.Module, c.Object, c.Attribute, err, g.Number)
			}
		}
		if err := e.journal().Remove(genPath(r, g.Number)); err != nil {
			return rp, err
		}
	}
	return rp, nil
}

// revertPlan observes every object the generations changed and computes
// the writes, following each object through the generations: the value a
// generation expects to find is what the later one recorded as its prior
// value.
func (e *Engine) revertPlan(ctx context.Context, todo []*Generation) (*RevertPlan, error) {
	rp := &RevertPlan{}
	type state struct {
		value  string
		absent bool
	}
	sim := map[string]state{}
	for _, g := range todo {
		rp.Generations = append(rp.Generations, g.Number)
		for i := len(g.Changes) - 1; i >= 0; i-- {
			c := g.Changes[i]
			inv := c.Inverse()
			skip := false
			m, err := e.module(c.Module)
			if err != nil {
				return rp, err
			}
			st, seen := sim[c.Key()]
			observable := seen
			if !seen {
				v, absent, ok, err := observe(ctx, m, e.Env, c)
				if err != nil {
					return rp, fmt.Errorf("read %s %s %s: %w", c.Module, c.Object, c.Attribute, err)
				}
				st, observable = state{v, absent}, ok
			}
			if observable {
				inv.Before = st.value
				switch {
				case atBefore(c, st.value, st.absent):
					skip = true
					rp.InPlace++
				case !atAfter(c, st.value, st.absent):
					rp.Modified = append(rp.Modified, Modified{Generation: g.Number, Change: c, Actual: st.value})
				}
				sim[c.Key()] = state{c.Before, c.Action == plan.Create}
			}
			rp.skip = append(rp.skip, skip)
			if !skip {
				rp.Changes = append(rp.Changes, inv)
			}
		}
	}
	return rp, nil
}

// Abandoned is what 'revert --abandon' left on the host.
type Abandoned struct {
	Generation *Generation `json:"generation" yaml:"generation"`
	// Left are the generation's changes that are still in effect, with
	// the value the host has now; nettune no longer tracks them.
	Left []plan.Change `json:"left" yaml:"left"`
}

// Abandon forgets the newest generation without reverting anything: the
// escape from a generation that cannot be reverted (a target that refuses
// every write). It reports exactly what stays on the host.
func (e *Engine) Abandon(ctx context.Context, n int) (*Abandoned, error) {
	r := e.Env.Root
	lk, gens, err := lockRecorded(r)
	if err != nil {
		return nil, err
	}
	defer lk.release(r)
	last := gens[len(gens)-1]
	if n != last.Number {
		for _, g := range gens {
			if g.Number == n {
				return nil, fmt.Errorf("generation %d is not the newest (%d): abandon or revert the newer ones first, newest first", n, last.Number)
			}
		}
		return nil, NotRecordedError(n, gens)
	}
	ab := &Abandoned{Generation: last, Left: []plan.Change{}}
	for _, c := range last.Changes {
		left := c
		if m, err := e.module(c.Module); err == nil {
			if v, absent, ok, err := observe(ctx, m, e.Env, c); ok && err == nil {
				if atBefore(c, v, absent) {
					continue // never made, or already undone
				}
				left.After = v
			}
		}
		ab.Left = append(ab.Left, left)
	}
	if err := e.journal().Remove(genPath(r, n)); err != nil {
		return nil, err
	}
	return ab, nil
}
