package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Writer performs every mutation nettune makes. Paths are under the root,
// as Root.Path builds them; the Writer resolves them inside the root. The
// production implementation is OSWriter; tests wrap it to fail the Nth
// call.
type Writer interface {
	// WriteKernel writes value to an existing pseudo-file (/proc, /sys) in
	// one write(2), without creating or truncating it.
	WriteKernel(path, value string) error
	// WriteFile replaces a regular file atomically (temp file, fsync,
	// rename), creating parent directories as needed. A symlink is written
	// through: its target is replaced and the link stays.
	WriteFile(path string, data []byte, perm fs.FileMode) error
	// Remove deletes a file or an empty directory. A missing file is not
	// an error. A symlink is removed itself, not its target.
	Remove(path string) error
	// Mkdir creates a directory and its parents.
	Mkdir(path string, perm fs.FileMode) error
}

// OSWriter is the Writer that touches the filesystem.
//
// Root is the directory that stands for "/" (Root.Prefix); "" means the
// live host. Under any other root every path is resolved inside it as after
// chroot(Root): an absolute symlink target starts at Root, ".." stops at
// it, and a symlink leading out of it is refused with ErrOutsideRoot, as is
// a path not under Root at all. Nothing is written outside Root.
type OSWriter struct {
	Root string
}

func (w OSWriter) resolve(path string, follow bool) (string, error) {
	if w.Root == "" {
		return path, nil
	}
	return resolveIn(w.Root, path, follow)
}

func (w OSWriter) live() bool { return w.Root == "" || filepath.Clean(w.Root) == "/" }

// WriteKernel implements Writer. The file must exist: on a fake root a
// missing pseudo-file is an error, never a new regular file. The value is
// written with a trailing newline, as echo(1) does and as the kernel prints
// it back, so that a fake root reads like the real one. O_TRUNC has no
// effect on proc and sysfs attributes and keeps fake files exact.
func (w OSWriter) WriteKernel(path, value string) error {
	root := w.Root
	if root == "" {
		root = "/"
	}
	f, err := openIn(root, nil, path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("set %s to %q: %w", path, value, err)
	}
	data := value
	if !strings.HasSuffix(data, "\n") {
		data += "\n"
	}
	_, werr := f.Write([]byte(data))
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("set %s to %q: write: %w", path, value, unwrapPathError(werr))
	}
	if cerr != nil {
		return fmt.Errorf("set %s to %q: close: %w", path, value, unwrapPathError(cerr))
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// WriteFile implements Writer. When path is a symlink (/etc/resolv.conf,
// a snapshot's /etc/fstab -> fstab.real) the temp file is made beside the
// link's target and renamed onto it, so the link stays a link.
func (w OSWriter) WriteFile(path string, data []byte, perm fs.FileMode) error {
	var target string
	var err error
	if w.live() {
		target, err = finalTarget(path)
	} else {
		target, err = w.resolve(path, true)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	i := strings.LastIndex(target, "/")
	dir, base := target[:i+1], target[i+1:]
	if base == "" || base == "." || base == ".." {
		return fmt.Errorf("write %s: resolves to %s, not a file name", path, target)
	}
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+base+".nettune-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, target); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Remove implements Writer.
func (w OSWriter) Remove(path string) error {
	rp, err := w.resolve(path, false)
	if err == nil {
		err = os.Remove(rp)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// Mkdir implements Writer.
func (w OSWriter) Mkdir(path string, perm fs.FileMode) error {
	rp, err := w.resolve(path, true)
	if err == nil {
		err = os.MkdirAll(rp, perm)
	}
	if err != nil {
		return fmt.Errorf("create directory %s: %w", path, err)
	}
	return nil
}

// Chown changes the owner of path (a /dev/vfio group node), following
// symlinks inside the root. It is not part of Writer; code that needs it
// asks the Writer for it (devbind's Chowner).
func (w OSWriter) Chown(path string, uid, gid int) error {
	rp, err := w.resolve(path, true)
	if err == nil {
		err = os.Chown(rp, uid, gid)
	}
	if err != nil {
		return fmt.Errorf("chown %s to %d:%d: %w", path, uid, gid, err)
	}
	return nil
}

// IsBusy reports whether err is the kernel saying "device or resource busy".
func IsBusy(err error) bool { return errors.Is(err, syscall.EBUSY) }
