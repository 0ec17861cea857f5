package devbind

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/host"
)

// Storage: a PCI function that carries the host's block devices (a
// virtio-blk root disk, an NVMe or SATA controller) must never be taken from
// its driver while a filesystem, swap area or device-mapper/md device sits
// on it: the filesystem goes away under the running system. This file reads
// which block devices each PCI function provides and what uses them:
//
//   - /sys/block/<disk> links to the disk's sysfs directory, which lies below
//     the PCI function that provides it (…/0000:00:02.0/virtio1/block/vda,
//     …/0000:01:00.0/nvme/nvme0/nvme0n1, …/ata1/host0/…/block/sda);
//   - partitions are the subdirectories of a disk that hold a "partition"
//     file; each block device has "dev" (major:minor), "holders" (dm, md,
//     bcache devices built on it) and "slaves" (the members of a dm or md
//     device); dm devices have dm/name (the /dev/mapper name, vg-lv for LVM);
//   - /proc/self/mountinfo gives the major:minor of every mounted filesystem
//     (so /dev/root and UUID= sources need no resolving), /proc/mounts the
//     source as written (/dev/vda1, /dev/mapper/vg-root, /dev/disk/by-uuid/…,
//     /dev/root) for snapshots without mountinfo and for filesystems such as
//     btrfs whose mountinfo numbers are anonymous;
//   - /proc/swaps lists the swap areas.
//
// Everything is read under the root, so a snapshot or fixture answers like
// the host it was taken from.

// blockDev is a disk, a partition, or a dm/md device.
type blockDev struct {
	name    string // vda, vda1, dm-0, md0
	dev     string // major:minor
	dmName  string // dm/name: vg-root
	dir     string // resolved sysfs directory
	parent  string // the disk of a partition
	holders []string
	slaves  []string
	parts   []string
}

// label is how a message names a block device: "vda1", "dm-0 (vg-root)".
func (b *blockDev) label() string {
	if b.dmName != "" {
		return b.name + " (" + b.dmName + ")"
	}
	return b.name
}

// blockTree is the host's block devices and what uses them.
type blockTree struct {
	devs   map[string]*blockDev
	byDev  map[string]string // major:minor -> name
	mounts []Mount
	swaps  []string
	// cmdlineRoot is root= of /proc/cmdline, for a /dev/root source.
	cmdlineRoot string
	r           *host.Root
}

// Mount is one mounted filesystem.
type Mount struct {
	// Dev is major:minor from mountinfo, "" when read from /proc/mounts.
	Dev    string
	Source string
	Target string
}

// realPath resolves a path under the root to the directory it stands for:
// inside the root on a snapshot (a link never leads out), by the kernel on
// the live host.
func realPath(r *host.Root, p string) (string, error) {
	if r.Live() {
		return filepath.EvalSymlinks(p)
	}
	return r.Resolve(p)
}

// readBlockTree reads /sys/block, the mount table and the swap areas.
func readBlockTree(r *host.Root) *blockTree {
	t := &blockTree{devs: map[string]*blockDev{}, byDev: map[string]string{}, r: r}
	entries, _ := os.ReadDir(r.Sys("block"))
	for _, e := range entries {
		dir, err := realPath(r, r.Sys("block", e.Name()))
		if err != nil {
			continue
		}
		d := t.add(e.Name(), dir)
		subs, _ := os.ReadDir(dir)
		for _, s := range subs {
			// The kernel names a partition after its disk (sda1,
			// nvme0n1p1): the disk's attributes, links and other
			// directories are not looked into.
			if !s.IsDir() || !strings.HasPrefix(s.Name(), e.Name()) || !r.Exists(filepath.Join(dir, s.Name(), "partition")) {
				continue
			}
			p := t.add(s.Name(), filepath.Join(dir, s.Name()))
			p.parent = d.name
			d.parts = append(d.parts, p.name)
		}
	}
	if b, err := r.ReadFile(r.Proc("self/mountinfo")); err == nil {
		t.mounts = ParseMountInfo(strings.NewReader(string(b)))
	} else if b, err := r.ReadFile(r.Proc("mounts")); err == nil {
		t.mounts = ParseMounts(strings.NewReader(string(b)))
	}
	if b, err := r.ReadFile(r.Proc("swaps")); err == nil {
		t.swaps = ParseSwaps(strings.NewReader(string(b)))
	}
	if b, err := r.ReadString(r.Proc("cmdline")); err == nil {
		for _, f := range strings.Fields(b) {
			if v, ok := strings.CutPrefix(f, "root="); ok {
				t.cmdlineRoot = v
			}
		}
	}
	return t
}

func (t *blockTree) add(name, dir string) *blockDev {
	d := &blockDev{name: name, dir: dir}
	read := func(p string) string {
		s, _ := t.r.ReadString(filepath.Join(dir, p))
		return strings.TrimSpace(s)
	}
	d.dev = read("dev")
	d.dmName = read("dm/name")
	d.holders = dirNames(filepath.Join(dir, "holders"))
	d.slaves = dirNames(filepath.Join(dir, "slaves"))
	t.devs[name] = d
	if d.dev != "" {
		t.byDev[d.dev] = name
	}
	return d
}

func dirNames(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// ParseMountInfo reads /proc/self/mountinfo: "36 35 98:0 /mnt1 /mnt2 rw
// shared:1 - ext3 /dev/root rw". Octal escapes (\040 for a space) in the
// mount point are decoded.
func ParseMountInfo(rd io.Reader) []Mount {
	var out []Mount
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i, s := range f {
			if s == "-" && i >= 6 {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			continue
		}
		out = append(out, Mount{Dev: f[2], Target: unescapeMount(f[4]), Source: unescapeMount(f[sep+2])})
	}
	return out
}

// ParseMounts reads /proc/mounts: "/dev/vda1 / ext4 rw,relatime 0 0".
func ParseMounts(rd io.Reader) []Mount {
	var out []Mount
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		out = append(out, Mount{Source: unescapeMount(f[0]), Target: unescapeMount(f[1])})
	}
	return out
}

// ParseSwaps reads /proc/swaps and returns the swap areas' file names.
func ParseSwaps(rd io.Reader) []string {
	var out []string
	sc := bufio.NewScanner(rd)
	first := true
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if first {
			first = false
			if len(f) > 0 && f[0] == "Filename" {
				continue
			}
		}
		if len(f) > 0 {
			out = append(out, unescapeMount(f[0]))
		}
	}
	return out
}

// unescapeMount decodes the kernel's octal escapes (\040, \011, \012, \134).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			v := (s[i+1]-'0')*64 + (s[i+2]-'0')*8 + (s[i+3] - '0')
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 || s[0] > '3' {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}

// sourceDev finds the block device a mount or swap source names:
// /dev/NAME, /dev/mapper/NAME and /dev/VG/LV (dm names), /dev/root (root=
// of the kernel command line), UUID=, LABEL=, PARTUUID= and /dev/disk/by-*
// links (resolved inside the root when /dev was captured). It returns "".
func (t *blockTree) sourceDev(src string, depth int) string {
	if depth > 4 {
		return ""
	}
	for tag, dir := range map[string]string{"UUID=": "by-uuid", "LABEL=": "by-label", "PARTUUID=": "by-partuuid", "PARTLABEL=": "by-partlabel"} {
		if v, ok := strings.CutPrefix(src, tag); ok {
			return t.sourceDev("/dev/disk/"+dir+"/"+v, depth+1)
		}
	}
	if !strings.HasPrefix(src, "/dev/") {
		return ""
	}
	if src == "/dev/root" {
		if t.cmdlineRoot != "" && t.cmdlineRoot != "/dev/root" {
			return t.sourceDev(t.cmdlineRoot, depth+1)
		}
		return ""
	}
	rest := strings.TrimPrefix(src, "/dev/")
	if name, ok := strings.CutPrefix(rest, "mapper/"); ok {
		return t.dmByName(name)
	}
	if _, ok := t.devs[rest]; ok {
		return rest
	}
	// A link (by-uuid, /dev/VG/LV, /dev/root made by udev): resolve it
	// inside the root when /dev was captured.
	if p, err := realPath(t.r, t.r.Path(src)); err == nil {
		if name := filepath.Base(p); t.devs[name] != nil {
			return name
		}
	}
	if vg, lv, ok := strings.Cut(rest, "/"); ok && !strings.Contains(lv, "/") {
		// LVM's /dev/VG/LV is dm name VG-LV with dashes doubled.
		return t.dmByName(strings.ReplaceAll(vg, "-", "--") + "-" + strings.ReplaceAll(lv, "-", "--"))
	}
	return ""
}

func (t *blockTree) dmByName(name string) string {
	for _, d := range t.devs {
		if d.dmName == name {
			return d.name
		}
	}
	return ""
}

// mountedDev is the block device of a mount: by major:minor when mountinfo
// gave a real one, else by source.
func (t *blockTree) mountedDev(m Mount) string {
	if m.Dev != "" && !strings.HasPrefix(m.Dev, "0:") {
		if n, ok := t.byDev[m.Dev]; ok {
			return n
		}
	}
	return t.sourceDev(m.Source, 0)
}

// uses lists what the block devices below a PCI function's sysfs directory
// carry, as reasons for 'nettune devices' and the storage guard: "backs /
// (vda1)", "backs swap (vda2)", "backs /home (dm-1 (vg-home) on vda3)",
// "vda3 is a member of dm-1 (vg-home)". Nothing when the function provides
// no block device.
func (t *blockTree) uses(pciDir string) []string {
	if pciDir == "" {
		return nil
	}
	// The disks below the function, their partitions, and every device
	// built on them (holders, and dm/md devices listing them as slaves).
	on := map[string]string{} // block device -> the chain that leads to it
	var queue []string
	for name, d := range t.devs {
		if d.parent == "" && strings.HasPrefix(d.dir, pciDir+"/") {
			on[name] = name
			queue = append(queue, name)
			for _, p := range d.parts {
				on[p] = p
				queue = append(queue, p)
			}
		}
	}
	if len(on) == 0 {
		return nil
	}
	sort.Strings(queue)
	var held []string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		var ups []string
		ups = append(ups, t.devs[cur].holders...)
		for name, d := range t.devs {
			for _, s := range d.slaves {
				if s == cur {
					ups = append(ups, name)
				}
			}
		}
		sort.Strings(ups)
		for _, u := range ups {
			if _, seen := on[u]; seen {
				continue
			}
			label := u
			if d := t.devs[u]; d != nil {
				label = d.label()
			}
			on[u] = label + " on " + on[cur]
			held = append(held, fmt.Sprintf("%s is a member of %s", t.labelOf(cur), label))
			queue = append(queue, u)
		}
	}
	var out []string
	for _, m := range t.mounts {
		if n := t.mountedDev(m); n != "" {
			if chain, ok := on[n]; ok {
				out = append(out, fmt.Sprintf("backs %s (%s)", m.Target, chain))
			}
		}
	}
	for _, s := range t.swaps {
		if n := t.sourceDev(s, 0); n != "" {
			if chain, ok := on[n]; ok {
				out = append(out, fmt.Sprintf("backs swap (%s)", chain))
			}
		}
	}
	out = append(out, held...)
	// A filesystem mounted twice (bind mounts, containers) is one reason.
	seen := map[string]bool{}
	uniq := out[:0]
	for _, o := range out {
		if !seen[o] {
			seen[o] = true
			uniq = append(uniq, o)
		}
	}
	return uniq
}

func (t *blockTree) labelOf(name string) string {
	if d := t.devs[name]; d != nil {
		return d.label()
	}
	return name
}
