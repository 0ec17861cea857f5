package hugepages

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/nettune/nettune/pkg/bootloader"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
)

// Current implements module.Observer for the pool sizes, the transparent
// hugepage mode, the mount point directory, nettune's fstab line and the
// live hugetlbfs mount, each in the form plan records. The kernel command
// line (bootloader) is not observed here: its changes are undone by the
// bootloader's own backup.
func (Module) Current(_ context.Context, env *module.Env, c plan.Change) (string, bool, error) {
	r := env.Root
	switch {
	case c.Object == bootloader.Object:
		return "", false, fmt.Errorf("the boot configuration is not observed per change: %w", module.ErrUnsupported)
	case c.Attribute == attrPages:
		// The pool's size is its persistent pages: surplus pages (mapped
		// by programs after a shrink) are counted by nr_hugepages too.
		p := r.Path(c.Path)
		v, err := r.ReadString(p)
		if err != nil {
			return "", false, err
		}
		if _, err := strconv.Atoi(v); err != nil {
			return "", false, fmt.Errorf("%s: %q is not a page count", c.Path, v)
		}
		return strconv.Itoa(readPool(r, filepath.Dir(p), poolOf(c.Object)).persistent()), false, nil
	case c.Object == thpObject:
		raw, err := r.ReadString(r.Path(thpPath))
		if err != nil {
			return "", false, err
		}
		_, sel := ParseSelector(raw)
		return sel, false, nil
	case c.Attribute == attrDir:
		st, err := os.Stat(r.Path(c.Path))
		if errors.Is(err, fs.ErrNotExist) {
			return "", true, nil
		}
		if err != nil {
			return "", false, err
		}
		if !st.IsDir() {
			return "not a directory", false, nil
		}
		return "directory", false, nil
	case c.Attribute == attrFstab:
		b, err := os.ReadFile(r.Path(fstabPath))
		if errors.Is(err, fs.ErrNotExist) {
			return "", c.Action == plan.Create, nil
		}
		if err != nil {
			return "", false, err
		}
		return ownedLine(string(b), c.Object), false, nil
	case c.Attribute == attrMount:
		cur, ok := mounted(r, c.Object)
		if !ok {
			return "", true, nil
		}
		// The kernel prints its own option list (rw,relatime,...,
		// defaults left out); report the change's own spelling when the
		// mount means the same.
		got := parseMountOpts(cur.options, 0)
		for _, v := range []string{c.After, c.Before} {
			if v != "" && parseMountOpts(v, 0) == got {
				return v, false, nil
			}
		}
		return cur.options, false, nil
	}
	return "", false, fmt.Errorf("unknown hugepages change %s %s in journal", c.Object, c.Attribute)
}
