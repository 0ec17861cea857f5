package hugepages

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
)

const (
	thpObject = "transparent_hugepage"
	thpAttr   = "enabled"
	thpPath   = "/sys/kernel/mm/transparent_hugepage/enabled"
)

// ParseSelector reads a sysfs selector such as "always [madvise] never":
// the choices and the selected one. A file without brackets (a fake root
// after a write) is a single selected word.
func ParseSelector(s string) (choices []string, selected string) {
	for _, w := range strings.Fields(s) {
		if strings.HasPrefix(w, "[") && strings.HasSuffix(w, "]") {
			w = strings.Trim(w, "[]")
			selected = w
		}
		choices = append(choices, w)
	}
	if selected == "" && len(choices) == 1 {
		selected = choices[0]
	}
	return choices, selected
}

// thpItem plans the transparent hugepage mode.
func thpItem(r *host.Root, want string) (*plan.Item, []plan.Problem) {
	raw, err := r.ReadString(r.Path(thpPath))
	if err != nil {
		return &plan.Item{Change: plan.Change{Module: "hugepages", Object: thpObject, Attribute: thpAttr, Action: plan.Set, After: want, When: plan.Live},
				Status: plan.Unsupported, Detail: "the kernel has no transparent hugepages (" + thpPath + " missing)"},
			nil
	}
	choices, cur := ParseSelector(raw)
	it := &plan.Item{Change: plan.Change{
		Module: "hugepages", Object: thpObject, Attribute: thpAttr, Action: plan.Set,
		Before: cur, After: want, When: plan.Live, Path: thpPath, Reason: "spec.hugepages.transparent",
		Command: "echo " + host.ShellQuote(want) + " > " + host.ShellQuote(r.Path(thpPath)),
	}, Status: plan.OK}
	if len(choices) > 1 && !slices.Contains(choices, want) {
		return nil, []plan.Problem{{Severity: plan.Error, Module: "hugepages", Object: "transparent",
			Message: fmt.Sprintf("this kernel offers transparent hugepage modes %s, not %q", strings.Join(choices, ", "), want)}}
	}
	if cur != want {
		it.Status = plan.Drift
	}
	return it, nil
}

// writeTHP selects a mode and reads the selection back.
func writeTHP(r *host.Root, mode string) error {
	p := r.Path(thpPath)
	if err := r.W.WriteKernel(p, mode); err != nil {
		return err
	}
	raw, err := r.ReadString(p)
	if err != nil {
		return fmt.Errorf("read back %s: %w", thpPath, err)
	}
	if _, got := ParseSelector(raw); got != mode {
		return fmt.Errorf("%s: wrote %q, reads back %q: %w", thpPath, mode, raw, module.ErrVerify)
	}
	return nil
}
