// Package pcisim emulates the Linux PCI core over a fixture sysfs tree so
// that device binding can be tested without hardware. A Bus is a
// host.Writer that reacts to writes to driver_override, bind, unbind,
// drivers_probe, new_id and remove the way the kernel does: it moves the
// driver symlinks, removes and re-creates the device's network interfaces
// (net/<if> and /sys/class/net/<if>), honours driver_override, creates
// /dev/vfio group nodes, and fails like the kernel fails (ENODEV for a
// device or driver that does not match, EBUSY for a bound device, EINVAL
// from vfio-pci without an IOMMU group, and any probe error a test asks
// for). It is also a host.Runner that emulates modprobe and modprobe -r.
//
// drivers_probe behaves like the kernel's: it reports success even when
// no driver took the device, which is why devbind reads the driver link
// back.
package pcisim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/nettune/nettune/pkg/host"
)

// Bus is an emulated PCI core over the tree below Root.
type Bus struct {
	// Root is the directory that stands for "/".
	Root string
	// Under performs the writes that are not the PCI core's (the journal,
	// configuration files) and the plain pseudo-file writes.
	Under host.Writer
	// Native maps a device to the kernel driver whose ID table matches it.
	// New fills it from the drivers the devices are bound to.
	Native map[string]string
	// Modules maps a module (underscored) to the PCI driver it registers.
	// modprobe of any other module fails.
	Modules map[string]string
	// Fail, when set, is asked before every kernel write and every chown
	// (host path and value); a non-nil error fails that write, which then
	// has no effect.
	Fail func(hostPath, value string) error
	// InUse marks modules whose reference count is held (a DPDK process
	// has a vfio group open): modprobe -r fails while a device is bound
	// to them. Other modules unload as the kernel unloads a PCI driver:
	// the devices bound to it are unbound first.
	InUse map[string]bool
	// WithoutNoIOMMU emulates a kernel built without CONFIG_VFIO_NOIOMMU:
	// loading vfio creates no enable_unsafe_noiommu_mode parameter.
	WithoutNoIOMMU bool
	// Log records every kernel write ("path value") and program run, in
	// order.
	Log []string

	probeErr map[string]error
	dynIDs   map[string][]string
	stash    map[string]*stash
	created  map[string][]string
	noiommu  map[string]string
}

// stash holds what a driver created under a device (its network
// interfaces) while the device is unbound, to re-create it identically
// when the same driver binds again, as the kernel re-creates the netdev.
type stash struct {
	driver  string
	entries []entry
}

type entry struct {
	path string // under Root
	mode fs.FileMode
	data []byte
	link string
	dir  bool
}

// New returns a bus over root. Drivers already registered and the devices
// bound to them become the native matches and the loadable modules, with
// vfio-pci and uio_pci_generic besides.
func New(root string, under host.Writer) (*Bus, error) {
	b := &Bus{
		Root: root, Under: under,
		Native:   map[string]string{},
		Modules:  map[string]string{"vfio_pci": "vfio-pci", "uio_pci_generic": "uio_pci_generic"},
		probeErr: map[string]error{}, dynIDs: map[string][]string{},
		stash: map[string]*stash{}, created: map[string][]string{}, noiommu: map[string]string{},
	}
	devs, err := os.ReadDir(b.path("/sys/bus/pci/devices"))
	if err != nil {
		return nil, fmt.Errorf("pcisim: %w", err)
	}
	for _, d := range devs {
		if drv := b.driverOf(d.Name()); drv != "" {
			b.Native[d.Name()] = drv
		}
	}
	drvs, _ := os.ReadDir(b.path("/sys/bus/pci/drivers"))
	for _, d := range drvs {
		mod := d.Name()
		if l, err := os.Readlink(b.path("/sys/bus/pci/drivers", d.Name(), "module")); err == nil {
			mod = filepath.Base(l)
		}
		b.Modules[canon(mod)] = d.Name()
	}
	return b, nil
}

// FailProbe makes drv's probe of the device at addr fail with errno.
func (b *Bus) FailProbe(addr, drv string, errno error) { b.probeErr[addr+" "+drv] = errno }

// EmulatesKernel tells devbind that writes under this offline root reach
// an (emulated) kernel.
func (b *Bus) EmulatesKernel() bool { return true }

func canon(s string) string { return strings.ReplaceAll(s, "-", "_") }

func (b *Bus) path(elem ...string) string {
	return filepath.Join(append([]string{b.Root}, elem...)...)
}

func (b *Bus) hostPath(p string) string {
	rel, err := filepath.Rel(b.Root, p)
	if err != nil {
		return p
	}
	return "/" + filepath.ToSlash(rel)
}

func isPCIAddress(s string) bool {
	return len(s) == 12 && s[4] == ':' && s[7] == ':' && s[10] == '.'
}

// WriteKernel implements host.Writer.
func (b *Bus) WriteKernel(p, value string) error {
	hp := b.hostPath(p)
	b.Log = append(b.Log, hp+" "+value)
	v := strings.TrimSpace(value)
	fail := func(err error) error {
		return fmt.Errorf("set %s to %q: write: %w", p, value, err)
	}
	if b.Fail != nil {
		if err := b.Fail(hp, value); err != nil {
			return fail(err)
		}
	}
	dir, base := filepath.Split(hp)
	dir = filepath.Clean(dir)
	var err error
	switch {
	case hp == "/sys/bus/pci/drivers_probe":
		err = b.driversProbe(v)
	case filepath.Dir(dir) == "/sys/bus/pci/drivers" && base == "bind":
		err = b.bind(filepath.Base(dir), v)
	case filepath.Dir(dir) == "/sys/bus/pci/drivers" && base == "unbind":
		err = b.unbind(filepath.Base(dir), v)
	case filepath.Dir(dir) == "/sys/bus/pci/drivers" && base == "new_id":
		err = b.newID(filepath.Base(dir), v)
	case base == "driver_override" && isPCIAddress(filepath.Base(dir)):
		err = b.setOverride(filepath.Base(dir), v)
	case base == "remove" && isPCIAddress(filepath.Base(dir)):
		err = b.remove(filepath.Base(dir), v)
	case hp == "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode":
		err = b.setNoIOMMU(p, v)
	default:
		return b.Under.WriteKernel(p, value)
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// WriteFile implements host.Writer.
func (b *Bus) WriteFile(p string, data []byte, perm fs.FileMode) error {
	return b.Under.WriteFile(p, data, perm)
}

// Remove implements host.Writer.
func (b *Bus) Remove(p string) error { return b.Under.Remove(p) }

// Mkdir implements host.Writer.
func (b *Bus) Mkdir(p string, perm fs.FileMode) error { return b.Under.Mkdir(p, perm) }

// Chown changes a file's owner (devbind uses it for /dev/vfio nodes).
func (b *Bus) Chown(p string, uid, gid int) error {
	hp := b.hostPath(p)
	b.Log = append(b.Log, fmt.Sprintf("chown %s %d:%d", hp, uid, gid))
	if b.Fail != nil {
		if err := b.Fail(hp, fmt.Sprintf("%d:%d", uid, gid)); err != nil {
			return fmt.Errorf("chown %s to %d:%d: %w", p, uid, gid, err)
		}
	}
	if err := os.Chown(p, uid, gid); err != nil {
		return fmt.Errorf("chown %s to %d:%d: %w", p, uid, gid, err)
	}
	return nil
}

// Chmod changes a file's mode (devbind uses it for /dev/vfio nodes).
func (b *Bus) Chmod(p string, mode fs.FileMode) error {
	hp := b.hostPath(p)
	b.Log = append(b.Log, fmt.Sprintf("chmod %s %04o", hp, mode))
	if b.Fail != nil {
		if err := b.Fail(hp, fmt.Sprintf("%04o", mode)); err != nil {
			return fmt.Errorf("chmod %s to %04o: %w", p, mode, err)
		}
	}
	if err := os.Chmod(p, mode); err != nil {
		return fmt.Errorf("chmod %s to %04o: %w", p, mode, err)
	}
	return nil
}

// Run implements host.Runner for modprobe NAME and modprobe -r NAME.
func (b *Bus) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	b.Log = append(b.Log, host.CommandLine(name, args...))
	cmd := host.CommandLine(name, args...)
	if b.Fail != nil {
		if err := b.Fail(cmd, ""); err != nil {
			return nil, fmt.Errorf("run %s: %w", cmd, err)
		}
	}
	if name != "modprobe" || len(args) == 0 {
		return nil, fmt.Errorf("run %s: not emulated by pcisim", cmd)
	}
	if args[0] == "-r" && len(args) == 2 {
		return nil, b.unload(cmd, args[1])
	}
	if len(args) == 1 {
		return nil, b.load(cmd, args[0])
	}
	return nil, fmt.Errorf("run %s: not emulated by pcisim", cmd)
}

// --- device state -------------------------------------------------------

func (b *Bus) devDir(addr string) (string, error) {
	d, err := filepath.EvalSymlinks(b.path("/sys/bus/pci/devices", addr))
	if err != nil {
		return "", syscall.ENODEV
	}
	return d, nil
}

func (b *Bus) driverOf(addr string) string {
	l, err := os.Readlink(b.path("/sys/bus/pci/devices", addr, "driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(l)
}

func (b *Bus) override(addr string) string {
	s, err := os.ReadFile(b.path("/sys/bus/pci/devices", addr, "driver_override"))
	if err != nil {
		return ""
	}
	v := strings.TrimSpace(string(s))
	if v == "(null)" {
		return ""
	}
	return v
}

func (b *Bus) attr(addr, name string) string {
	s, _ := os.ReadFile(b.path("/sys/bus/pci/devices", addr, name))
	return strings.TrimSpace(string(s))
}

func (b *Bus) registered(drv string) bool {
	st, err := os.Stat(b.path("/sys/bus/pci/drivers", drv))
	return err == nil && st.IsDir()
}

// matches is the PCI core's pci_match_device: with driver_override set
// only that driver matches; otherwise the driver's ID table (Native) and
// its dynamic IDs (new_id).
func (b *Bus) matches(addr, drv string) bool {
	if ov := b.override(addr); ov != "" {
		return ov == drv
	}
	if b.Native[addr] == drv {
		return true
	}
	id := strings.TrimPrefix(b.attr(addr, "vendor"), "0x") + " " + strings.TrimPrefix(b.attr(addr, "device"), "0x")
	for _, d := range b.dynIDs[drv] {
		if d == id {
			return true
		}
	}
	return false
}

// setOverride is driver_override_store: any string, "" (a lone newline)
// clears it; it never rebinds.
func (b *Bus) setOverride(addr, v string) error {
	if _, err := b.devDir(addr); err != nil {
		return err
	}
	content := v
	if v == "" {
		content = "(null)"
	}
	return os.WriteFile(b.path("/sys/bus/pci/devices", addr, "driver_override"), []byte(content+"\n"), 0)
}

func (b *Bus) setNoIOMMU(p, v string) error {
	switch strings.ToUpper(v) {
	case "Y", "1":
		v = "Y"
	case "N", "0":
		v = "N"
	default:
		return syscall.EINVAL
	}
	if _, err := os.Stat(p); err != nil {
		// A kernel without CONFIG_VFIO_NOIOMMU has no such parameter.
		return syscall.ENOENT
	}
	return os.WriteFile(p, []byte(v+"\n"), 0)
}

// bind is bind_store: ENODEV unless the device exists and the driver
// matches it, EBUSY when it has a driver, else the probe's result.
func (b *Bus) bind(drv, addr string) error {
	if _, err := b.devDir(addr); err != nil {
		return syscall.ENODEV
	}
	if !b.matches(addr, drv) {
		return syscall.ENODEV
	}
	if b.driverOf(addr) != "" {
		return syscall.EBUSY
	}
	return b.probe(addr, drv)
}

// unbind is unbind_store: ENODEV unless the device is bound to drv.
func (b *Bus) unbind(drv, addr string) error {
	if _, err := b.devDir(addr); err != nil {
		return syscall.ENODEV
	}
	if b.driverOf(addr) != drv {
		return syscall.ENODEV
	}
	return b.detach(addr)
}

// driversProbe is drivers_probe_store: ENODEV for an unknown device, and
// success otherwise, whether or not a driver took the device (probe
// errors only reach the kernel log).
func (b *Bus) driversProbe(addr string) error {
	if _, err := b.devDir(addr); err != nil {
		return syscall.ENODEV
	}
	if b.driverOf(addr) != "" {
		return nil
	}
	b.attachAny(addr)
	return nil
}

// attachAny tries every registered driver that matches, in name order.
func (b *Bus) attachAny(addr string) {
	drvs, _ := os.ReadDir(b.path("/sys/bus/pci/drivers"))
	names := make([]string, 0, len(drvs))
	for _, d := range drvs {
		names = append(names, d.Name())
	}
	sort.Strings(names)
	for _, d := range names {
		if b.matches(addr, d) && b.probe(addr, d) == nil {
			return
		}
	}
}

// newID is new_id_store: adds "vvvv dddd" to the driver's dynamic IDs and
// binds every unbound device that now matches, which is how new_id drags
// unrelated devices with the same IDs along.
func (b *Bus) newID(drv, v string) error {
	f := strings.Fields(v)
	if len(f) < 2 {
		return syscall.EINVAL
	}
	id := strings.ToLower(f[0]) + " " + strings.ToLower(f[1])
	for _, d := range b.dynIDs[drv] {
		if d == id {
			return syscall.EEXIST
		}
	}
	b.dynIDs[drv] = append(b.dynIDs[drv], id)
	devs, _ := os.ReadDir(b.path("/sys/bus/pci/devices"))
	for _, d := range devs {
		if b.driverOf(d.Name()) == "" && b.matches(d.Name(), drv) {
			b.probe(d.Name(), drv)
		}
	}
	return nil
}

// remove is remove_store: "1" unbinds and deletes the device.
func (b *Bus) remove(addr, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return syscall.EINVAL
	}
	if n == 0 {
		return nil
	}
	dir, err := b.devDir(addr)
	if err != nil {
		return syscall.ENODEV
	}
	if b.driverOf(addr) != "" {
		if err := b.detach(addr); err != nil {
			return err
		}
	}
	delete(b.stash, addr)
	if g := filepath.Base(linkTarget(filepath.Join(dir, "iommu_group"))); g != "." && g != "" {
		os.Remove(b.path("/sys/kernel/iommu_groups", g, "devices", addr))
	}
	os.Remove(b.path("/sys/bus/pci/devices", addr))
	return os.RemoveAll(dir)
}

func linkTarget(p string) string {
	l, err := os.Readlink(p)
	if err != nil {
		return ""
	}
	return l
}

// probe runs drv's probe of the device and binds it on success.
func (b *Bus) probe(addr, drv string) error {
	if !b.registered(drv) {
		return syscall.ENODEV
	}
	if err, ok := b.probeErr[addr+" "+drv]; ok {
		return err
	}
	dir, err := b.devDir(addr)
	if err != nil {
		return err
	}
	if drv == "vfio-pci" {
		class, _ := strconv.ParseUint(strings.TrimPrefix(b.attr(addr, "class"), "0x"), 16, 32)
		if c := class >> 8; c == 0x0604 || c == 0x0607 || c == 0x0609 {
			return syscall.EINVAL
		}
		if linkTarget(filepath.Join(dir, "iommu_group")) == "" {
			mode, _ := os.ReadFile(b.path("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"))
			if strings.TrimSpace(string(mode)) != "Y" {
				return syscall.EINVAL
			}
			if err := b.noIOMMUGroup(addr, dir); err != nil {
				return err
			}
		}
	}
	return b.attach(addr, dir, drv)
}

// noIOMMUGroup creates the fake group vfio makes in no-IOMMU mode.
func (b *Bus) noIOMMUGroup(addr, dir string) error {
	groups, _ := os.ReadDir(b.path("/sys/kernel/iommu_groups"))
	n := 0
	for _, g := range groups {
		if v, err := strconv.Atoi(g.Name()); err == nil && v >= n {
			n = v + 1
		}
	}
	g := strconv.Itoa(n)
	gdir := b.path("/sys/kernel/iommu_groups", g)
	if err := os.MkdirAll(filepath.Join(gdir, "devices"), 0o755); err != nil {
		return err
	}
	if err := relLink(dir, filepath.Join(gdir, "devices", addr)); err != nil {
		return err
	}
	if err := relLink(gdir, filepath.Join(dir, "iommu_group")); err != nil {
		return err
	}
	b.noiommu[addr] = g
	return nil
}

// relLink makes link point at target with a relative path, as sysfs does.
func relLink(target, link string) error {
	rel, err := filepath.Rel(filepath.Dir(link), target)
	if err != nil {
		return err
	}
	return os.Symlink(rel, link)
}

// attach binds: the driver links, the stashed network interfaces when the
// same driver comes back, the /dev/vfio node for vfio-pci.
func (b *Bus) attach(addr, dir, drv string) error {
	ddir := b.path("/sys/bus/pci/drivers", drv)
	if err := relLink(ddir, filepath.Join(dir, "driver")); err != nil {
		return err
	}
	if err := relLink(dir, filepath.Join(ddir, addr)); err != nil {
		return err
	}
	if s := b.stash[addr]; s != nil && s.driver == drv {
		for _, e := range s.entries {
			var err error
			switch {
			case e.dir:
				if err = os.Mkdir(e.path, e.mode); err == nil {
					err = os.Chmod(e.path, e.mode)
				}
			case e.link != "":
				err = os.Symlink(e.link, e.path)
			default:
				if err = os.WriteFile(e.path, e.data, e.mode); err == nil {
					err = os.Chmod(e.path, e.mode)
				}
			}
			if err != nil {
				return fmt.Errorf("pcisim: re-create %s: %w", e.path, err)
			}
		}
		delete(b.stash, addr)
	}
	if drv == "vfio-pci" {
		node := b.vfioNode(addr, dir)
		if _, err := os.Stat(node); err != nil {
			if err := os.MkdirAll(filepath.Dir(node), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(node, nil, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *Bus) vfioNode(addr, dir string) string {
	g := filepath.Base(linkTarget(filepath.Join(dir, "iommu_group")))
	if _, ok := b.noiommu[addr]; ok {
		return b.path("/dev/vfio", "noiommu-"+g)
	}
	return b.path("/dev/vfio", g)
}

// detach unbinds: the driver's network interfaces go away (stashed), the
// driver links are removed, and vfio-pci drops the group node when no
// other device of the group is on vfio-pci.
func (b *Bus) detach(addr string) error {
	dir, err := b.devDir(addr)
	if err != nil {
		return err
	}
	drv := b.driverOf(addr)
	s := &stash{driver: drv}
	// Class links first, so that re-creation finds their targets.
	links, _ := os.ReadDir(b.path("/sys/class/net"))
	var classLinks []entry
	for _, l := range links {
		lp := b.path("/sys/class/net", l.Name())
		t := linkTarget(lp)
		if t == "" {
			continue
		}
		abs := filepath.Clean(filepath.Join(filepath.Dir(lp), t))
		if strings.HasPrefix(abs, dir+"/") {
			classLinks = append(classLinks, entry{path: lp, link: t})
		}
	}
	children, _ := os.ReadDir(dir)
	for _, c := range children {
		if c.Name() != "net" && !strings.HasPrefix(c.Name(), "virtio") {
			continue
		}
		p := filepath.Join(dir, c.Name())
		err := filepath.WalkDir(p, func(q string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := os.Lstat(q)
			if err != nil {
				return err
			}
			e := entry{path: q, mode: info.Mode().Perm()}
			switch {
			case info.Mode()&fs.ModeSymlink != 0:
				e.link = linkTarget(q)
			case info.IsDir():
				e.dir = true
			default:
				if e.data, err = os.ReadFile(q); err != nil {
					return err
				}
			}
			s.entries = append(s.entries, e)
			return nil
		})
		if err != nil {
			return err
		}
	}
	s.entries = append(s.entries, classLinks...)
	for _, e := range classLinks {
		os.Remove(e.path)
	}
	for _, c := range children {
		if c.Name() == "net" || strings.HasPrefix(c.Name(), "virtio") {
			os.RemoveAll(filepath.Join(dir, c.Name()))
		}
	}
	if len(s.entries) > 0 {
		b.stash[addr] = s
	}
	if err := os.Remove(filepath.Join(dir, "driver")); err != nil {
		return err
	}
	os.Remove(b.path("/sys/bus/pci/drivers", drv, addr))
	if drv == "vfio-pci" {
		node := b.vfioNode(addr, dir)
		if g, ok := b.noiommu[addr]; ok {
			os.Remove(node)
			os.Remove(filepath.Join(dir, "iommu_group"))
			os.RemoveAll(b.path("/sys/kernel/iommu_groups", g))
			delete(b.noiommu, addr)
		} else if !b.groupOnVFIO(dir, addr) {
			os.Remove(node)
		}
	}
	return nil
}

// groupOnVFIO reports whether another device of addr's group is bound to
// vfio-pci.
func (b *Bus) groupOnVFIO(dir, addr string) bool {
	g := filepath.Base(linkTarget(filepath.Join(dir, "iommu_group")))
	members, _ := os.ReadDir(b.path("/sys/kernel/iommu_groups", g, "devices"))
	for _, m := range members {
		if m.Name() != addr && b.driverOf(m.Name()) == "vfio-pci" {
			return true
		}
	}
	return false
}

// --- modules ------------------------------------------------------------

func (b *Bus) load(cmd, mod string) error {
	drv, ok := b.Modules[canon(mod)]
	if !ok {
		return fmt.Errorf("run %s: exit status 1: modprobe: FATAL: Module %s not found in directory /lib/modules/pcisim", cmd, mod)
	}
	if b.registered(drv) {
		return nil
	}
	type node struct {
		p    string
		dir  bool
		data string
	}
	nodes := []node{{b.path("/sys/bus/pci/drivers", drv), true, ""}}
	for _, f := range []string{"bind", "unbind", "new_id", "remove_id", "uevent"} {
		nodes = append(nodes, node{b.path("/sys/bus/pci/drivers", drv, f), false, ""})
	}
	if drv == "vfio-pci" {
		// vfio itself: its no-IOMMU switch and the container device.
		nodes = append(nodes,
			node{b.path("/sys/module/vfio"), true, ""},
			node{b.path("/sys/module/vfio/parameters"), true, ""},
			node{b.path("/dev/vfio"), true, ""},
			node{b.path("/dev/vfio/vfio"), false, ""})
		if !b.WithoutNoIOMMU {
			nodes = append(nodes, node{b.path("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"), false, "N\n"})
		}
	}
	var made []string
	for _, n := range nodes {
		if _, err := os.Lstat(n.p); err == nil {
			continue
		}
		var err error
		if n.dir {
			err = os.Mkdir(n.p, 0o755)
		} else {
			err = os.WriteFile(n.p, []byte(n.data), 0o644)
		}
		if err != nil {
			return fmt.Errorf("pcisim: load %s: %w", mod, err)
		}
		made = append(made, n.p)
	}
	b.created[drv] = made
	// driver_attach: the new driver probes every unbound device it matches.
	devs, _ := os.ReadDir(b.path("/sys/bus/pci/devices"))
	for _, d := range devs {
		if b.driverOf(d.Name()) == "" && b.matches(d.Name(), drv) {
			b.probe(d.Name(), drv)
		}
	}
	return nil
}

func (b *Bus) unload(cmd, mod string) error {
	drv, ok := b.Modules[canon(mod)]
	if !ok {
		return fmt.Errorf("run %s: exit status 1: modprobe: FATAL: Module %s not found in directory /lib/modules/pcisim", cmd, mod)
	}
	if !b.registered(drv) {
		return nil
	}
	entries, _ := os.ReadDir(b.path("/sys/bus/pci/drivers", drv))
	for _, e := range entries {
		if isPCIAddress(e.Name()) && b.InUse[canon(mod)] {
			return fmt.Errorf("run %s: exit status 1: modprobe: FATAL: Module %s is in use", cmd, canon(mod))
		}
	}
	for _, e := range entries {
		if isPCIAddress(e.Name()) {
			if err := b.detach(e.Name()); err != nil {
				return fmt.Errorf("pcisim: unload %s: unbind %s: %w", mod, e.Name(), err)
			}
		}
	}
	made := b.created[drv]
	if made == nil {
		return os.RemoveAll(b.path("/sys/bus/pci/drivers", drv))
	}
	var errs []error
	for i := len(made) - 1; i >= 0; i-- {
		if err := os.Remove(made[i]); err != nil {
			errs = append(errs, err)
		}
	}
	delete(b.created, drv)
	return errors.Join(errs...)
}
