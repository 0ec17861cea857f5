package forwarder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// removeRuntimeDir removes an EAL runtime directory of an instance that is
// gone: its telemetry sockets (which DPDK unlinks only from an atexit
// handler, and Go's os.Exit runs none) and then the directory, which must
// then be empty. A missing directory is not an error.
func removeRuntimeDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove dpdk runtime dir: %w", err)
	}
	for _, e := range ents {
		if e.Type()&fs.ModeSocket != 0 && (strings.HasPrefix(e.Name(), "dpdk_telemetry") || e.Name() == "telemetry") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove dpdk runtime dir: %w", err)
			}
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove dpdk runtime dir: %w", err)
	}
	return nil
}

// sweepRuntimeDirs removes the runtime directories under base left by
// nettune instances with the default prefix (nettune-<pid>) whose process
// no longer exists, as after kill -9. Directories holding anything but
// telemetry sockets are kept.
func sweepRuntimeDirs(base string, alive func(pid int) bool) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "nettune-")
		pid, err := strconv.Atoi(rest)
		if !ok || err != nil || !e.IsDir() || alive(pid) {
			continue
		}
		removeRuntimeDir(filepath.Join(base, e.Name()))
	}
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
