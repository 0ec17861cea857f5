// Package module defines the contract every nettune module implements:
// observe the host and compare it with the profile (Plan, which never
// writes), apply one change, revert one change. The engine (pkg/engine)
// drives modules through this interface; the list of modules lives in one
// place, internal/cli/modules.go (the composition root).
package module

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Env is what a module gets to work with.
type Env struct {
	Root *host.Root
	Log  *slog.Logger
	// Profile is the name of the profile being planned (metadata.name).
	Profile string
	// NetNS is the network namespace nettune runs in (nil for an offline
	// root).
	NetNS *host.NetNS
}

// Result is what a module's Plan returns.
type Result struct {
	// Items are every desired setting with the observed value and status.
	Items []plan.Item
	// Problems are validation errors (stop everything) and warnings.
	Problems []plan.Problem
}

// Module manages one section of the profile.
type Module interface {
	// Name is the module name used in plans, the journal and messages.
	Name() string
	// Configured reports whether the profile uses this module.
	Configured(spec *profile.Spec) bool
	// Plan observes the host, validates the spec against it and compares.
	// It never writes.
	Plan(ctx context.Context, env *Env, spec *profile.Spec) (*Result, error)
	// Apply makes one change and verifies it by reading it back. A value
	// the kernel clamps or refuses is an error.
	Apply(ctx context.Context, env *Env, c plan.Change) error
	// Revert undoes one change made by Apply (writes c.Before back, or
	// removes what Apply created). It must be idempotent: it also runs for
	// a change whose Apply may not have happened.
	Revert(ctx context.Context, env *Env, c plan.Change) error
}

// ErrVerify is wrapped by Apply when a value does not read back as
// written (the kernel clamped or refused it).
var ErrVerify = errors.New("read-back differs from the written value")

// ErrUnsupported is wrapped when the host cannot do what is asked.
var ErrUnsupported = errors.New("not supported on this host")

// ErrSkipped is wrapped by Apply when the host cannot make this one change
// and left the object exactly as it was (a managed IRQ that refuses an
// affinity): the engine reports the change as unsupported, not applied,
// and goes on with the others. The change stays in the journal, so Revert
// must accept it (it finds the object at its prior value).
var ErrSkipped = errors.New("left as it is: the host does not allow this change")

// Observer is implemented by modules that can read the current value of
// one change's object, in the same form as the change's Before and After.
// The engine uses it to skip undoing a change whose write never happened
// (the host already holds the prior value), to show the real value before a
// revert and to notice a value changed by hand since nettune wrote it.
// Absent reports that the object does not exist (a file that was never
// created); value is then "".
type Observer interface {
	Current(ctx context.Context, env *Env, c plan.Change) (value string, absent bool, err error)
}

// Complete is implemented by modules whose Plan names every object they
// manage for a profile, whether it needs a change or not (sysctl: every
// parameter and the persistence file). For them an object an earlier
// generation set and the plan no longer names is an orphan; for other
// modules only a whole section the profile dropped is.
type Complete interface {
	PlansEveryObject() bool
}
