// Package snapshot copies the files nettune reads from a host into a
// directory, so that `nettune --root DIR` can plan and check against the
// host later, offline. Only small text files are copied; binary files,
// write-only attributes and known secrets are skipped. Symlinks (the
// /sys/class/net and PCI driver links) are kept as symlinks.
package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/ethtool"
)

// Source is one part of the host to copy.
type Source struct {
	// Path is an absolute host path (file or directory).
	Path string
	// Depth limits recursion into directories (0: only the entry itself;
	// -1: unlimited).
	Depth int
}

// Sources are what nettune's modules read. Later modules add theirs here.
var Sources = []Source{
	{"/proc/sys", -1},
	{"/proc/cmdline", 0},
	{"/proc/cpuinfo", 0},
	{"/proc/meminfo", 0},
	{"/proc/interrupts", 0},
	{"/proc/net/softnet_stat", 0},
	{"/proc/net/dev", 0},
	{"/proc/mounts", 0},
	{"/proc/irq", 2},
	{"/sys/devices/system/cpu", 4},
	{"/sys/devices/system/node", 4},
	{"/sys/kernel/mm/hugepages", 2},
	{"/sys/kernel/mm/transparent_hugepage", 1},
	{"/sys/class/net", 1},
	{"/sys/bus/pci/devices", 1},
	{"/sys/kernel/iommu_groups", 3},
	{"/etc/sysctl.conf", 0},
	{"/etc/sysctl.d", 1},
	{"/run/sysctl.d", 1},
	{"/usr/lib/sysctl.d", 1},
	{"/etc/default/grub", 0},
	{"/etc/default/grub.d", 1},
	{"/etc/kernel/cmdline", 0},
	{"/etc/fstab", 0},
	{"/etc/default/irqbalance", 0},
	{"/etc/sysconfig/irqbalance", 0},
	{"/etc/os-release", 0},
	{"/usr/lib/systemd/system/irqbalance.service", 0},
	{"/lib/systemd/system/irqbalance.service", 0},
	{"/etc/systemd/system/irqbalance.service", 0},
	{ethtool.StateDir, 1},
	{"/sys/bus/pci/drivers", 2}, {"/sys/class/iommu", 1}, {"/sys/module/vfio/parameters", 1}, {devbind.NetworkFile, 0},
	{"/boot/loader/entries", 1}, {"/efi/loader/entries", 1}, {"/boot/efi/loader/entries", 1}, {"/usr/lib/kernel/cmdline", 0}, {"/boot/grub/grub.cfg", 0}, {"/boot/grub2/grubenv", 0}, {"/dev", 0}, {"/dev/hugepages", 0}, {"/mnt", 0},
}

// skipped are host paths never copied: secrets and per-boot identifiers.
var skipped = []string{
	"/proc/sys/kernel/random",
	"/proc/sys/fs/binfmt_misc",
	"/proc/sys/net/ipv6/conf/all/stable_secret",
}

// maxFile bounds the size of a copied file.
const maxFile = 1 << 20

// Stats reports what a snapshot copied.
type Stats struct {
	Files, Links, Skipped int
}

// Take copies the sources from the host below src ("/" for the live host)
// into dir. It follows /sys/class/net and /sys/bus/pci/devices links one
// level so the device directories they point at are copied too.
func Take(src, dir string) (Stats, error) {
	t := &taker{src: src, dir: dir, done: map[string]int{}}
	if err := os.MkdirAll(filepath.Join(dir, "var/lib"), 0o755); err != nil {
		return t.st, err
	}
	for _, s := range Sources {
		if err := t.copy(s.Path, s.Depth); err != nil {
			return t.st, err
		}
	}
	// Ethtool settings are ioctls, not files: on the live host they are
	// captured into ethtool.StateDir, which offline roots read instead.
	if filepath.Clean(src) == "/" {
		n, err := ethtool.CaptureHost(dir)
		if err != nil {
			return t.st, err
		}
		t.st.Files += n
	}
	// Network state (netlink), the kernel's PCI module aliases and the
	// pci.ids names of the devices present, for devbind.
	n, err := devbind.Capture(context.Background(), src, dir)
	t.st.Files += n
	if err != nil {
		return t.st, err
	}
	return t.st, nil
}

type taker struct {
	src, dir string
	// done records the depth each path was copied with, so a deeper
	// request later (a device's queues after the device) still recurses.
	done map[string]int
	st   Stats
}

func (t *taker) from(p string) string { return filepath.Join(t.src, p) }
func (t *taker) to(p string) string   { return filepath.Join(t.dir, p) }

func isSkipped(p string) bool {
	for _, s := range skipped {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

func (t *taker) copy(p string, depth int) error {
	if d, ok := t.done[p]; (ok && (d < 0 || (depth >= 0 && d >= depth))) || isSkipped(p) {
		return nil
	}
	_, again := t.done[p]
	t.done[p] = depth
	info, err := os.Lstat(t.from(p))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil
		}
		return err
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(t.from(p))
		if err != nil {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(t.to(p)), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(target, t.to(p)); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if !again {
			t.st.Links++
		}
		// Device links: copy what they point at (attributes, one level,
		// and the queues directory of network devices).
		if strings.HasPrefix(p, "/sys/class/net/") || strings.HasPrefix(p, "/sys/bus/pci/devices/") {
			resolved := filepath.Clean(filepath.Join(filepath.Dir(p), target))
			if err := t.copy(resolved, 1); err != nil {
				return err
			}
			if strings.HasPrefix(p, "/sys/bus/pci/devices/") {
				// MSI vectors: which IRQs belong to the device.
				if err := t.copy(filepath.Join(resolved, "msi_irqs"), 1); err != nil {
					return err
				}
			}
			if strings.HasPrefix(p, "/sys/class/net/") {
				if err := t.copy(filepath.Join(resolved, "queues"), 2); err != nil {
					return err
				}
				if err := t.copy(filepath.Join(resolved, "device"), 0); err != nil {
					return err
				}
				// The driver of a device that is not the PCI function
				// itself (virtio-net's virtioN).
				if err := t.copy(filepath.Join(resolved, "device", "driver"), 0); err != nil {
					return err
				}
			}
		}
		return nil
	case info.IsDir():
		if err := os.MkdirAll(t.to(p), 0o755); err != nil {
			return err
		}
		if depth == 0 {
			return nil
		}
		entries, err := os.ReadDir(t.from(p))
		if err != nil {
			return nil
		}
		for _, e := range entries {
			if err := t.copy(filepath.Join(p, e.Name()), depth-1); err != nil {
				return err
			}
		}
		return nil
	case info.Mode().IsRegular():
		if again {
			return nil
		}
		return t.copyFile(p, info)
	}
	return nil
}

func (t *taker) copyFile(p string, info fs.FileInfo) error {
	if info.Mode().Perm()&0o444 == 0 {
		t.st.Skipped++
		return nil
	}
	f, err := os.Open(t.from(p))
	if err != nil {
		t.st.Skipped++
		return nil
	}
	defer f.Close()
	buf := make([]byte, maxFile+1)
	n, err := readFull(f, buf)
	if err != nil || n > maxFile || bytes.IndexByte(buf[:n], 0) >= 0 {
		t.st.Skipped++
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(t.to(p)), 0o755); err != nil {
		return err
	}
	// A file reached twice (through two listed paths) is copied again;
	// its first copy may carry a read-only mode (0444 in /proc).
	if err := os.Remove(t.to(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot %s: %w", p, err)
	}
	if err := os.WriteFile(t.to(p), buf[:n], info.Mode().Perm()); err != nil {
		return fmt.Errorf("snapshot %s: %w", p, err)
	}
	t.st.Files++
	return nil
}

// readFull reads until EOF or the buffer is full; pseudo-files return their
// content in one or more reads.
func readFull(f *os.File, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		if m == 0 {
			return n, nil
		}
	}
	return n, nil
}
