package hugepages

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

const (
	attrDir   = "directory"
	attrFstab = "fstab"
	attrMount = "mount"
)

// mountOpts are the hugetlbfs options nettune sets and compares.
type mountOpts struct {
	pageKB   uint64
	mode     uint32 // 0755 when not given, as the kernel does
	uid, gid int
}

// options renders the mount options in a fixed order.
func (m mountOpts) options(given profile.HugetlbfsMount) string {
	s := "pagesize=" + (profile.Size(m.pageKB) * profile.KiB).String()
	if given.Mode != "" {
		s += fmt.Sprintf(",mode=%04o", m.mode)
	}
	if given.UID != nil {
		s += ",uid=" + strconv.Itoa(m.uid)
	}
	if given.GID != nil {
		s += ",gid=" + strconv.Itoa(m.gid)
	}
	return s
}

// parseMountOpts reads hugetlbfs options from /proc/mounts or fstab. The
// kernel omits mode=0755, uid=0 and gid=0, and prints the page size with
// a unit.
func parseMountOpts(s string, defaultKB uint64) mountOpts {
	m := mountOpts{pageKB: defaultKB, mode: 0o755}
	for _, o := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "pagesize":
			if sz, err := profile.ParseSize(v); err == nil {
				m.pageKB = sz.KB()
			}
		case "mode":
			if n, err := strconv.ParseUint(v, 8, 32); err == nil {
				m.mode = uint32(n)
			}
		case "uid":
			if n, err := strconv.Atoi(v); err == nil {
				m.uid = n
			}
		case "gid":
			if n, err := strconv.Atoi(v); err == nil {
				m.gid = n
			}
		}
	}
	return m
}

// mounted returns the last mount at path in /proc/mounts under the root
// (the one on top).
func mounted(r *host.Root, path string) (fstabEntry, bool) {
	b, err := os.ReadFile(r.Proc("mounts"))
	if err != nil {
		return fstabEntry{}, false
	}
	var found fstabEntry
	ok := false
	for _, e := range parseFstab(string(b)) {
		if e.file == path {
			found, ok = e, true
		}
	}
	return found, ok
}

// wantMount is a resolved entry of spec.hugepages.mounts.
type wantMount struct {
	spec    profile.HugetlbfsMount
	opts    mountOpts
	options string
}

// mountItems plans a mount point: the directory when missing, the fstab
// line, and the live mount. On a root that is not the live host, nettune
// cannot mount: a mount whose fstab line is in place is pending a reboot.
func mountItems(r *host.Root, w wantMount, defaultKB uint64, fstab string, fstabExists bool) ([]plan.Item, []plan.Problem) {
	var items []plan.Item
	var problems []plan.Problem
	path := w.spec.Path
	fail := func(format string, args ...any) {
		problems = append(problems, plan.Problem{Severity: plan.Error, Module: "hugepages", Object: path, Message: fmt.Sprintf(format, args...)})
	}
	if strings.ContainsAny(path, " \t\n\\") {
		fail("mount point %q has whitespace or a backslash; choose a plain path", path)
		return nil, problems
	}
	st, err := os.Stat(r.Path(path))
	switch {
	case err == nil && !st.IsDir():
		fail("%s exists and is not a directory", path)
		return nil, problems
	case errors.Is(err, fs.ErrNotExist):
		if _, perr := os.Stat(r.Path(filepath.Dir(path))); perr != nil {
			fail("the parent directory %s does not exist", filepath.Dir(path))
			return nil, problems
		}
		items = append(items, plan.Item{Change: plan.Change{
			Module: "hugepages", Object: path, Attribute: attrDir, Action: plan.Create, After: "directory",
			When: plan.Live, Path: path, Reason: "mount point of spec.hugepages.mounts", Command: "mkdir " + host.ShellQuote(r.Path(path)),
		}, Status: plan.Drift})
	case err != nil:
		fail("%v", err)
		return nil, problems
	}
	cur, isMounted := mounted(r, path)
	if isMounted && cur.fstype != "hugetlbfs" {
		fail("%s is already a %s mount point; choose another path", path, cur.fstype)
		return nil, problems
	}

	// fstab
	line := fstabLine(path, w.options)
	fi := plan.Item{Change: plan.Change{
		Module: "hugepages", Object: path, Attribute: attrFstab, Action: plan.Set,
		Before: ownedLine(fstab, path), After: line, When: plan.Boot, Path: fstabPath,
		Reason: "mount the hugetlbfs at boot", Command: fstabCommand(r, fstab, path, line),
	}, Status: plan.OK}
	if !fstabExists {
		fi.Action = plan.Create
	}
	persisted := fi.Before == line
	if f, ok := foreignEntry(fstab, path); ok {
		if f.fstype == "hugetlbfs" && parseMountOpts(f.options, defaultKB) == w.opts {
			fi.Before, persisted = fi.After, true
			fi.Detail = fmt.Sprintf("already in %s line %d (not managed by nettune)", fstabPath, f.index+1)
		} else {
			problems = append(problems, plan.Problem{Severity: plan.Error, Module: "hugepages", Object: path,
				Message: fmt.Sprintf("%s line %d already mounts %s (%s %s), not managed by nettune", fstabPath, f.index+1, path, f.fstype, f.options),
				Remedy:  "remove that line or make it match the profile"})
			return nil, problems
		}
	}
	if !persisted {
		fi.Status = plan.Drift
	}

	// live mount
	mi := plan.Item{Change: plan.Change{
		Module: "hugepages", Object: path, Attribute: attrMount, Action: plan.Create,
		After: w.options, When: plan.Live, Path: path, Reason: "spec.hugepages.mounts",
		Command: fmt.Sprintf("mount -t hugetlbfs -o %s hugetlbfs %s", w.options, host.ShellQuote(path)),
	}, Status: plan.OK}
	if !r.Live() {
		// Apply does not mount under another root: fstab mounts it at
		// the next boot of the host the root describes.
		mi.Command = "# not run under --root (mounted at boot from " + fstabPath + "): " + mi.Command
	}
	if isMounted {
		mi.Action, mi.Before = plan.Set, cur.options
	}
	if !isMounted || parseMountOpts(cur.options, defaultKB) != w.opts {
		mi.Status = plan.Drift
		if _, offline := r.Exec.(host.OfflineRunner); isMounted && !offline {
			// Programs using the old mount keep their pages, new ones
			// see the new options; a busy mount fails the apply, which
			// then rolls back.
			problems = append(problems, plan.Problem{Severity: plan.Warning, Module: "hugepages", Object: path,
				Message: fmt.Sprintf("%s is already a hugetlbfs mount (%s): apply unmounts it and mounts it again with %s", path, cur.options, w.options),
				Remedy:  "stop the programs that use it first (fuser -vm " + path + "): a busy mount fails the apply, which then leaves it as it is"})
		}
		if _, offline := r.Exec.(host.OfflineRunner); offline {
			if persisted {
				mi.Status = plan.PendingReboot
				mi.Detail = "in " + fstabPath + "; the root is not the live host, so nettune does not mount it: mounted at the next boot"
			} else {
				problems = append(problems, plan.Problem{Severity: plan.Warning, Module: "hugepages", Object: path,
					Message: "the root is not the live host: the hugetlbfs is only added to " + fstabPath + " (mounted at the next boot), not mounted now",
					Remedy:  "apply on the live host to mount it now"})
			}
		}
	}
	return append(items, fi, mi), problems
}

// writeFstab sets or removes nettune's line for a mount point.
func writeFstab(r *host.Root, c plan.Change, line string, created bool) error {
	p := r.Path(fstabPath)
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", fstabPath, err)
	}
	perm := fs.FileMode(0o644)
	if st, err := os.Stat(p); err == nil {
		perm = st.Mode().Perm()
	}
	next := setFstab(string(b), c.Object, line)
	if next == string(b) {
		return nil
	}
	if next == "" && created {
		return r.W.Remove(p)
	}
	if err := r.W.WriteFile(p, []byte(next), perm); err != nil {
		return err
	}
	got, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read back %s: %w", fstabPath, err)
	}
	if ownedLine(string(got), c.Object) != line {
		return fmt.Errorf("%s: line for %s reads back %q, want %q: %w", fstabPath, c.Object, ownedLine(string(got), c.Object), line, module.ErrVerify)
	}
	return nil
}

// mount mounts a hugetlbfs through the program runner and reads the mount
// back from /proc/mounts. On a root that is not the live host nothing is
// mounted (the fstab line takes care of the next boot).
func mount(ctx context.Context, env *module.Env, path, options string) error {
	r := env.Root
	_, err := r.Exec.Run(ctx, "mount", "-t", "hugetlbfs", "-o", options, "hugetlbfs", path)
	if errors.Is(err, host.ErrOffline) {
		env.Log.Info("hugetlbfs not mounted: the root is not the live host", "path", path)
		return nil
	}
	if err != nil {
		return fmt.Errorf("mount hugetlbfs on %s: %w", path, err)
	}
	e, ok := mounted(r, path)
	want := parseMountOpts(options, 0)
	if got := parseMountOpts(e.options, 0); !ok || e.fstype != "hugetlbfs" || got.pageKB != want.pageKB || got.mode != want.mode || got.uid != want.uid || got.gid != want.gid {
		return fmt.Errorf("%s: /proc/mounts shows %q %q after mounting with %q: %w", path, e.fstype, e.options, options, module.ErrVerify)
	}
	return nil
}

// umount unmounts a hugetlbfs nettune mounted, if it is mounted.
func umount(ctx context.Context, env *module.Env, path string) error {
	r := env.Root
	if e, ok := mounted(r, path); !ok || e.fstype != "hugetlbfs" {
		return nil
	}
	_, err := r.Exec.Run(ctx, "umount", path)
	if errors.Is(err, host.ErrOffline) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unmount %s (a program may still map its pages): %w", path, err)
	}
	if _, ok := mounted(r, path); ok {
		return fmt.Errorf("%s is still mounted after umount: %w", path, module.ErrVerify)
	}
	return nil
}

// applyMount makes the mount match after, replacing a mount with other
// options (before).
func applyMount(ctx context.Context, env *module.Env, path, before, after string) error {
	if before != "" {
		if err := umount(ctx, env, path); err != nil {
			return err
		}
	}
	if after == "" {
		return nil
	}
	return mount(ctx, env, path, after)
}

// removeDir removes a mount point directory nettune created. It is not an
// error when it is already gone; a directory that is not empty is left
// with an error.
func removeDir(r *host.Root, path string) error {
	p := r.Path(path)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return fmt.Errorf("remove mount point %s: %w", path, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("remove mount point %s: not empty (%d entries); still mounted?", path, len(entries))
	}
	return r.W.Remove(p)
}
