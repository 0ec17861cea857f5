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

// Writer performs every mutation nettune makes. Paths are already resolved
// under the root. The production implementation is OSWriter; tests wrap it
// to fail the Nth call.
type Writer interface {
	// WriteKernel writes value to an existing pseudo-file (/proc, /sys) in
	// one write(2), without creating or truncating it.
	WriteKernel(path, value string) error
	// WriteFile replaces a regular file atomically (temp file, fsync,
	// rename), creating parent directories as needed.
	WriteFile(path string, data []byte, perm fs.FileMode) error
	// Remove deletes a file or an empty directory. A missing file is not
	// an error.
	Remove(path string) error
	// Mkdir creates a directory and its parents.
	Mkdir(path string, perm fs.FileMode) error
}

// OSWriter is the Writer that touches the filesystem.
type OSWriter struct{}

// WriteKernel implements Writer. The file must exist: on a fake root a
// missing pseudo-file is an error, never a new regular file. The value is
// written with a trailing newline, as echo(1) does and as the kernel prints
// it back, so that a fake root reads like the real one. O_TRUNC has no
// effect on proc and sysfs attributes and keeps fake files exact.
func (OSWriter) WriteKernel(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
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

// WriteFile implements Writer.
func (OSWriter) WriteFile(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".nettune-*")
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
	if err := os.Rename(name, path); err != nil {
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
func (OSWriter) Remove(path string) error {
	err := os.Remove(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// Mkdir implements Writer.
func (OSWriter) Mkdir(path string, perm fs.FileMode) error {
	if err := os.MkdirAll(path, perm); err != nil {
		return fmt.Errorf("create directory %s: %w", path, err)
	}
	return nil
}

// IsBusy reports whether err is the kernel saying "device or resource busy".
func IsBusy(err error) bool { return errors.Is(err, syscall.EBUSY) }
