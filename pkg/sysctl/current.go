package sysctl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
)

// Current implements module.Observer: the value of a parameter as the
// kernel prints it, or the content of the persistence file (absent when
// there is none).
func (Module) Current(_ context.Context, env *module.Env, c plan.Change) (string, bool, error) {
	r := env.Root
	p := r.Path(c.Path)
	switch c.Attribute {
	case attrValue:
		v, err := r.ReadString(p)
		if err != nil {
			return "", false, fmt.Errorf("read %s: %w", c.Path, err)
		}
		return v, false, nil
	case attrContent:
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return "", true, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("read %s: %w", c.Path, err)
		}
		return string(b), false, nil
	}
	return "", false, fmt.Errorf("unknown sysctl attribute %q in journal", c.Attribute)
}

// perNamespace reports whether a parameter belongs to the network
// namespace (everything under net. that a non-initial namespace shows;
// the host-wide net.core ones are not visible there at all).
func perNamespace(name string) bool { return strings.HasPrefix(name, "net.") }

// PlansEveryObject implements module.Complete: Plan has an item for every
// parameter of the profile and for the persistence file.
func (Module) PlansEveryObject() bool { return true }
