package systemd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nettune/nettune/pkg/host"
)

// PersistentBinary is where make install and the package put nettune.
const PersistentBinary = "/usr/sbin/nettune"

// volatileDirs are emptied at boot (tmpfs, or cleaned by
// systemd-tmpfiles): a unit that runs a binary from them fails at boot.
var volatileDirs = []string{"/tmp", "/var/tmp", "/dev/shm", "/run"}

// memoryFS names the filesystems whose content does not survive a reboot.
var memoryFSTypes = map[int64]string{unix.TMPFS_MAGIC: "tmpfs", unix.RAMFS_MAGIC: "ramfs"}

// checkBinary refuses a nettune path the units could not run at the next
// boot: one under a directory emptied at boot, on a filesystem held in
// memory (checked on the live host, where the path's filesystem is the
// one that boots), missing, or not executable.
func checkBinary(r *host.Root, binary string) error {
	fix := fmt.Sprintf("install nettune under a persistent path such as %s ('make install' or the package) and run it from there, or pass --binary PATH", PersistentBinary)
	if !filepath.IsAbs(binary) {
		return fmt.Errorf("nettune's path %q is not absolute; %s", binary, fix)
	}
	if strings.ContainsAny(binary, " \t\n\"'\\%$") {
		return fmt.Errorf("nettune's path %q contains characters a unit file cannot hold; %s", binary, fix)
	}
	paths := []string{filepath.Clean(binary)}
	if r.Live() {
		if real, err := filepath.EvalSymlinks(binary); err == nil && real != paths[0] {
			paths = append(paths, real)
		}
	}
	for _, p := range paths {
		for _, d := range volatileDirs {
			if p == d || strings.HasPrefix(p, d+"/") {
				return fmt.Errorf("nettune runs from %s, under %s, which does not survive a reboot: the boot units would fail; %s", p, d, fix)
			}
		}
	}
	st, err := os.Stat(r.Path(binary))
	if err != nil {
		return fmt.Errorf("nettune's path: %w; %s", err, fix)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file (mode %v): the boot units could not run it; %s", binary, st.Mode(), fix)
	}
	if r.Live() {
		if fs, ok := memoryFS(binary); ok {
			return fmt.Errorf("%s is on %s, which does not survive a reboot; %s", binary, fs, fix)
		}
	}
	return nil
}

// memoryFS reports whether path is on a filesystem held in memory, and
// which.
func memoryFS(path string) (string, bool) {
	var s unix.Statfs_t
	if err := unix.Statfs(path, &s); err != nil {
		return "", false
	}
	name, ok := memoryFSTypes[int64(s.Type)]
	return name, ok
}
