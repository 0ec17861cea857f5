// Package host is nettune's single view of the machine it tunes.
//
// A Root is built from one prefix ("/" in production, a fixture tree or a
// captured snapshot in tests and offline use). Every module receives a Root
// and resolves /proc, /sys, /etc, /run, /dev and the state directory through
// it; no package in nettune uses an absolute host path of its own. All
// mutations go through the Root's Writer, so tests can inject faults, and all
// external programs run through its Runner.
package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// StateDir is where nettune keeps its journal and generations, relative to
// the root.
const StateDir = "/var/lib/nettune"

// Root is the host nettune operates on.
type Root struct {
	// Prefix is the directory that stands for "/". It is "/" for the live
	// host.
	Prefix string
	// W performs every write. It is the place where tests inject faults.
	W Writer
	// Exec runs external programs. On an offline root it refuses to run
	// anything unless a test replaced it.
	Exec Runner
	// dir is Prefix opened with O_PATH, which reads resolve beneath (nil
	// on the live root, and for a Root not made by New: each read then
	// opens the prefix). The descriptor is closed when the Root is
	// garbage (os.File's cleanup).
	dir *os.File
	// ahead is the read-ahead of a Root made by WithReadAhead.
	ahead *readAhead
}

// New returns a Root for prefix with the real writer and, for the live host,
// the real program runner. An offline root (prefix other than "/") gets a
// runner that refuses, so nettune never touches the live host through it.
func New(prefix string) (*Root, error) {
	if prefix == "" {
		prefix = "/"
	}
	abs, err := filepath.Abs(prefix)
	if err != nil {
		return nil, fmt.Errorf("resolve root %q: %w", prefix, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("root %q: %w", prefix, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("root %q is not a directory", prefix)
	}
	// The prefix itself may be reached through symlinks (a snapshot
	// directory linked elsewhere): those are the operator's, and resolved
	// once here, so that paths the modules resolve stay under it.
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("resolve root %q: %w", prefix, err)
	}
	r := &Root{Prefix: abs, W: OSWriter{Root: abs}}
	if r.Live() {
		r.Exec = OSRunner{}
	} else {
		r.Exec = OfflineRunner{Root: abs}
		if d, err := os.OpenFile(abs, unix.O_PATH|unix.O_DIRECTORY, 0); err == nil {
			r.dir = d
		}
	}
	return r, nil
}

// Live reports whether the root is the running host.
func (r *Root) Live() bool { return r.Prefix == "/" }

// Path maps an absolute host path to the path under the root.
func (r *Root) Path(abs string) string {
	if isCleanAbs(abs) && abs != "/" && (r.Prefix == "/" || isCleanAbs(r.Prefix)) {
		// The common case, tens of thousands of times a plan on a big
		// host: nothing to clean, the joined path is the concatenation.
		if r.Prefix == "/" {
			return abs
		}
		return r.Prefix + abs
	}
	if r.Prefix == "/" {
		return filepath.Clean("/" + abs)
	}
	return filepath.Join(r.Prefix, filepath.Clean("/"+abs))
}

// isCleanAbs reports whether p is absolute and filepath.Clean leaves it
// as it is: no empty, "." or ".." element, no trailing slash.
func isCleanAbs(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	start := 1 // of the current element
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		switch p[start:i] {
		case "", ".", "..":
			return p == "/"
		}
		start = i + 1
	}
	return true
}

// HostPath maps a path under the root back to the host path it stands for,
// for messages and journal entries.
func (r *Root) HostPath(p string) string {
	if r.Prefix == "/" {
		return p
	}
	rel, err := filepath.Rel(r.Prefix, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	return "/" + rel
}

func (r *Root) join(base string, elem []string) string {
	return r.Path(filepath.Join(append([]string{base}, elem...)...))
}

// Proc returns a path under /proc.
func (r *Root) Proc(elem ...string) string { return r.join("/proc", elem) }

// Sys returns a path under /sys.
func (r *Root) Sys(elem ...string) string { return r.join("/sys", elem) }

// Etc returns a path under /etc.
func (r *Root) Etc(elem ...string) string { return r.join("/etc", elem) }

// Run returns a path under /run.
func (r *Root) Run(elem ...string) string { return r.join("/run", elem) }

// Dev returns a path under /dev.
func (r *Root) Dev(elem ...string) string { return r.join("/dev", elem) }

// State returns a path under nettune's state directory.
func (r *Root) State(elem ...string) string { return r.join(StateDir, elem) }

// ReadString reads a small file under the root (a path as Path builds
// it, resolved inside the root like every path) and returns its content
// without the trailing newline.
func (r *Root) ReadString(p string) (string, error) {
	b, err := r.ReadFile(p)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// ReadFile reads a whole file under the root (a path as Path builds it).
// Symlinks are followed inside the root; one leading out is refused with
// ErrOutsideRoot.
func (r *Root) ReadFile(p string) ([]byte, error) { return readIn(r.Prefix, r.dir, p) }

// Exists reports whether p exists (without following a final symlink).
func (r *Root) Exists(p string) bool {
	rp, err := r.ResolveNoFollow(p)
	if err != nil {
		return false
	}
	_, err = os.Lstat(rp)
	return err == nil
}

// IsNotExist reports whether err says a file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
