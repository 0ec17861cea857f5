package hugepages_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/nettune/nettune/pkg/host"
)

// kernelWriter makes a fixture tree answer writes the way sysfs does where
// a plain file would not: a selector file (transparent_hugepage/enabled)
// moves its brackets and refuses unknown words, and a hugepage pool
// adjusts its free count and gives at most limit[path] pages, as a kernel
// with fragmented memory does.
type kernelWriter struct {
	host.Writer
	limit map[string]int
}

func (k *kernelWriter) WriteKernel(path, value string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return k.Writer.WriteKernel(path, value)
	}
	switch {
	case strings.Contains(string(old), "["):
		var out []string
		found := false
		for _, w := range strings.Fields(string(old)) {
			w = strings.Trim(w, "[]")
			if w == value {
				w, found = "["+w+"]", true
			}
			out = append(out, w)
		}
		if !found {
			return fmt.Errorf("set %s to %q: write: %w", path, value, syscall.EINVAL)
		}
		return k.Writer.WriteKernel(path, strings.Join(out, " "))
	case filepath.Base(path) == "nr_hugepages":
		want, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("set %s to %q: write: %w", path, value, syscall.EINVAL)
		}
		if lim, ok := k.limit[path]; ok && want > lim {
			want = lim
		}
		return k.setPool(path, want)
	}
	return k.Writer.WriteKernel(path, value)
}

// setPool does what the kernel's set_max_huge_pages does to one pool
// directory (mm/hugetlb.c): nr_hugepages counts every page of the pool,
// surplus ones included, and the pool's size is its persistent pages
// (nr_hugepages - surplus_hugepages). Growing turns surplus pages back
// into persistent ones before allocating new ones. Shrinking frees free
// pages that are not reserved (resv_hugepages, in the size's global
// directory) and turns the pages programs still use into surplus pages:
// nr_hugepages then still counts them, and they go back to the system
// when the program unmaps them.
func (k *kernelWriter) setPool(path string, want int) error {
	dir := filepath.Dir(path)
	total, free, surplus := readPoolFile(dir, "nr_hugepages"), readPoolFile(dir, "free_hugepages"), readPoolFile(dir, "surplus_hugepages")
	// Reservations are counted per size only, in the global directory.
	global := dir
	if sys, _, ok := strings.Cut(dir, "/devices/system/node/"); ok {
		global = filepath.Join(sys, "kernel/mm/hugepages", filepath.Base(dir))
	}
	resv := readPoolFile(global, "resv_hugepages")
	persistent := total - surplus
	switch {
	case want >= persistent:
		back := min(surplus, want-persistent)
		surplus -= back
		added := want - persistent - back
		total += added
		free += added
	default:
		cut := persistent - want
		freed := min(cut, max(free-resv, 0))
		total -= freed
		free -= freed
		surplus += cut - freed
	}
	if err := k.Writer.WriteKernel(path, strconv.Itoa(total)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "free_hugepages"), []byte(strconv.Itoa(free)+"\n"), 0o644); err != nil {
		return err
	}
	sp := filepath.Join(dir, "surplus_hugepages")
	if _, err := os.Stat(sp); err == nil || surplus != 0 {
		return os.WriteFile(sp, []byte(strconv.Itoa(surplus)+"\n"), 0o644)
	}
	return nil
}

func readPoolFile(dir, name string) int {
	b, _ := os.ReadFile(filepath.Join(dir, name))
	v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return v
}

// mountRunner stands in for mount(8) and umount(8) by editing the
// fixture's /proc/mounts, and records every program nettune runs.
type mountRunner struct {
	root  string
	calls []string
	// fail makes the named program fail.
	fail string
}

func (m *mountRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	m.calls = append(m.calls, host.CommandLine(name, args...))
	if name == m.fail {
		return nil, fmt.Errorf("run %s: exit status 32: target is busy", host.CommandLine(name, args...))
	}
	p := filepath.Join(m.root, "proc/mounts")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	switch name {
	case "mount": // mount -t hugetlbfs -o OPTS SOURCE PATH
		if len(args) != 6 {
			return nil, fmt.Errorf("unexpected mount arguments %q", args)
		}
		opts := []string{"rw", "relatime"}
		for _, o := range strings.Split(args[3], ",") {
			// The kernel prints mode in octal without leading zeros and
			// leaves out the defaults.
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "mode":
				n, _ := strconv.ParseUint(v, 8, 32)
				if n != 0o755 {
					opts = append(opts, fmt.Sprintf("mode=%o", n))
				}
			case "uid", "gid":
				if v != "0" {
					opts = append(opts, o)
				}
			default:
				opts = append(opts, o)
			}
		}
		lines = append(lines, fmt.Sprintf("%s %s hugetlbfs %s 0 0", args[4], args[5], strings.Join(opts, ",")))
	case "umount":
		for i := len(lines) - 1; i >= 0; i-- {
			if f := strings.Fields(lines[i]); len(f) > 1 && f[1] == args[0] {
				lines = append(lines[:i], lines[i+1:]...)
				break
			}
		}
	default:
		return nil, nil
	}
	// /proc/mounts is read-only in the fixture, as on a host.
	if err := os.Chmod(p, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	return nil, os.Chmod(p, fs.FileMode(0o444))
}
