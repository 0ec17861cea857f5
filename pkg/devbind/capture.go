package devbind

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Capture writes into the snapshot directory dir what devbind reads that
// is not a plain file of the host below src: the network state (netlink,
// only when src is the live host; a snapshot's NetworkFile is copied as a
// file), the PCI part of the running kernel's module index, and the
// pci.ids names of the devices present (the full files are larger than a
// snapshot copies). 'nettune snapshot' calls it. It returns the number of
// files written.
func Capture(ctx context.Context, src, dir string) (int, error) {
	files := 0
	write := func(p string, data []byte) error {
		dst := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return fmt.Errorf("snapshot %s: %w", p, err)
		}
		files++
		return nil
	}
	if filepath.Clean(src) == "/" {
		n, err := Netlink{}.Network(ctx)
		if err != nil {
			return files, fmt.Errorf("capture network state: %w", err)
		}
		data, err := n.Marshal()
		if err != nil {
			return files, err
		}
		if err := write(NetworkFile, data); err != nil {
			return files, err
		}
	}
	if rel, err := os.ReadFile(filepath.Join(src, "proc/sys/kernel/osrelease")); err == nil {
		mods := filepath.Join("/lib/modules", strings.TrimSpace(string(rel)))
		for _, name := range []string{"modules.alias", "modules.dep", "modules.builtin"} {
			data, err := os.ReadFile(filepath.Join(src, mods, name))
			if err != nil {
				continue
			}
			if err := write(filepath.Join(mods, name), moduleIndexExcerpt(name, data)); err != nil {
				return files, err
			}
		}
	}
	n, err := captureBlock(src, dir)
	files += n
	if err != nil {
		return files, err
	}
	for _, p := range IDPaths {
		data, err := os.ReadFile(filepath.Join(src, p))
		if err != nil {
			continue
		}
		if err := write(p, idsExcerpt(data, presentIDs(src))); err != nil {
			return files, err
		}
		break
	}
	return files, nil
}

// captureBlock copies what the storage guard reads (block.go): the mount
// table with device numbers (/proc/self/mountinfo, written as a file), the
// swap areas, the /sys/block links and, for every block device and
// partition, its dev, partition and dm/name files and its holders and
// slaves links. The device directories lie below the PCI functions, deeper
// than a snapshot copies them.
func captureBlock(src, dir string) (int, error) {
	files := 0
	copyFile := func(rel string) error {
		data, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			return nil
		}
		dst := filepath.Join(dir, rel)
		if _, err := os.Lstat(dst); err == nil {
			return nil // the snapshot has it already (read-only, as /proc/cmdline)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return fmt.Errorf("snapshot %s: %w", rel, err)
		}
		files++
		return nil
	}
	copyLink := func(rel string) (string, error) {
		target, err := os.Readlink(filepath.Join(src, rel))
		if err != nil {
			return "", nil
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.Symlink(target, dst); err != nil && !os.IsExist(err) {
			return "", fmt.Errorf("snapshot %s: %w", rel, err)
		}
		return target, nil
	}
	for _, p := range []string{"proc/self/mountinfo", "proc/swaps", "proc/mounts", "proc/cmdline"} {
		if err := copyFile(p); err != nil {
			return files, err
		}
	}
	blockDir := func(rel string) error {
		for _, f := range []string{"dev", "partition", "dm/name", "dm/uuid"} {
			if err := copyFile(filepath.Join(rel, f)); err != nil {
				return err
			}
		}
		for _, sub := range []string{"holders", "slaves"} {
			entries, _ := os.ReadDir(filepath.Join(src, rel, sub))
			if err := os.MkdirAll(filepath.Join(dir, rel, sub), 0o755); err != nil {
				return err
			}
			for _, e := range entries {
				if _, err := copyLink(filepath.Join(rel, sub, e.Name())); err != nil {
					return err
				}
			}
		}
		return nil
	}
	disks, _ := os.ReadDir(filepath.Join(src, "sys/block"))
	for _, e := range disks {
		link := filepath.Join("sys/block", e.Name())
		target, err := copyLink(link)
		if err != nil {
			return files, err
		}
		if target == "" || filepath.IsAbs(target) {
			continue
		}
		rel := filepath.Clean(filepath.Join("sys/block", target))
		if strings.HasPrefix(rel, "..") {
			continue
		}
		if err := blockDir(rel); err != nil {
			return files, err
		}
		subs, _ := os.ReadDir(filepath.Join(src, rel))
		for _, s := range subs {
			if _, err := os.Stat(filepath.Join(src, rel, s.Name(), "partition")); err == nil {
				if err := blockDir(filepath.Join(rel, s.Name())); err != nil {
					return files, err
				}
			}
		}
	}
	return files, nil
}

// moduleIndexExcerpt keeps what devbind reads of a module index: the PCI
// aliases of modules.alias, the module paths of modules.dep.
func moduleIndexExcerpt(name string, data []byte) []byte {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	switch name {
	case "modules.alias":
		b.WriteString("# PCI aliases of modules.alias, captured by nettune snapshot.\n")
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "alias pci:") {
				b.WriteString(sc.Text() + "\n")
			}
		}
	case "modules.dep":
		for sc.Scan() {
			if mod, _, ok := strings.Cut(sc.Text(), ":"); ok {
				b.WriteString(mod + ":\n")
			}
		}
	default:
		return data
	}
	return b.Bytes()
}

// presentIDs lists the vendor and vendor:device IDs of the PCI devices
// below src, as pci.ids spells them.
func presentIDs(src string) map[string]bool {
	out := map[string]bool{}
	entries, _ := os.ReadDir(filepath.Join(src, "sys/bus/pci/devices"))
	for _, e := range entries {
		dir := filepath.Join(src, "sys/bus/pci/devices", e.Name())
		v, err1 := os.ReadFile(filepath.Join(dir, "vendor"))
		d, err2 := os.ReadFile(filepath.Join(dir, "device"))
		if err1 != nil || err2 != nil {
			continue
		}
		vendor := strings.TrimPrefix(strings.TrimSpace(string(v)), "0x")
		device := strings.TrimPrefix(strings.TrimSpace(string(d)), "0x")
		out[vendor] = true
		out[vendor+":"+device] = true
	}
	return out
}

// idsExcerpt keeps the vendor and device lines of pci.ids for the IDs
// present and every class line.
func idsExcerpt(data []byte, present map[string]bool) []byte {
	var b bytes.Buffer
	b.WriteString("# Excerpt of pci.ids for the devices of this host, captured by nettune snapshot.\n")
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	vendor, inClasses := "", false
	var keep []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || line[0] == '#':
			continue
		case strings.HasPrefix(line, "C "):
			inClasses = true
			keep = append(keep, line)
		case inClasses:
			if !strings.HasPrefix(line, "\t\t") {
				keep = append(keep, line)
			}
		case line[0] != '\t':
			vendor = lowerID(line)
			if present[vendor] {
				keep = append(keep, line)
			}
		case !strings.HasPrefix(line, "\t\t"):
			if present[vendor+":"+lowerID(line[1:])] {
				keep = append(keep, line)
			}
		}
	}
	for _, l := range keep {
		b.WriteString(l + "\n")
	}
	return b.Bytes()
}

// lowerID is the id of a pci.ids line ("8086  Intel Corporation"), in
// lower case, "" when the line has no name after it.
func lowerID(s string) string {
	id, _, ok := idField([]byte(s))
	if !ok {
		return ""
	}
	return strings.ToLower(string(id))
}
