package devbind

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/profile"
)

// Device is one PCI function as nettune sees it.
type Device struct {
	// Address is the full PCI address (0000:03:00.0).
	Address string `json:"address"`
	// Class is the 24-bit class code as sysfs prints it (0x020000).
	Class      string `json:"class"`
	ClassName  string `json:"className"`
	VendorID   string `json:"vendor"`
	DeviceID   string `json:"device"`
	VendorName string `json:"vendorName"`
	DeviceName string `json:"deviceName"`
	// Driver is the bound driver, "" for none.
	Driver string `json:"driver"`
	// Override is driver_override, "" when unset.
	Override string `json:"driverOverride"`
	// Interfaces are the kernel network interfaces of the device.
	Interfaces []string `json:"interfaces"`
	// NUMANode is -1 when the firmware does not say.
	NUMANode int `json:"numaNode"`
	// IOMMUGroup is "" when the device is in no IOMMU group.
	IOMMUGroup string `json:"iommuGroup"`
	// GroupPeers are the other devices of the IOMMU group.
	GroupPeers []string `json:"groupPeers"`
	// Drivers are the drivers that can take the device: its kernel
	// driver(s) by modalias, and vfio-pci and uio_pci_generic when this
	// kernel has them.
	Drivers []string `json:"drivers"`
	// Active is true when a guard says the device is in use; Reasons say
	// why.
	Active  bool     `json:"active"`
	Reasons []string `json:"reasons"`
	// Storage says what the device's block devices carry ("backs /
	// (vda1)"): such a device is never bound away.
	Storage []string `json:"storage"`
	// Notes are constraints that are not a use: an IOMMU group that
	// must be bound or unbound together.
	Notes    []string `json:"notes"`
	Modalias string   `json:"modalias"`
	// SR-IOV: a PF's VFs by index (virtfnN links) and sriov_totalvfs
	// (0 when not SR-IOV capable); a VF's PF (physfn link) and index.
	VirtFns  []string `json:"virtfns,omitempty"`
	TotalVFs int      `json:"totalVFs,omitempty"`
	PhysFn   string   `json:"physfn,omitempty"`
	VFIndex  int      `json:"vfIndex,omitempty"`

	dir   string
	class uint32
}

// Bridge reports whether the device is a PCI-to-PCI or CardBus bridge
// (a non-normal header type: vfio-pci cannot take it, and vfio accepts it in
// a group it uses).
func (d *Device) Bridge() bool {
	sub := d.class >> 8
	return sub == 0x0604 || sub == 0x0607 || sub == 0x0609
}

// Endpoint reports whether the device is a function a driver can be bound
// to for I/O (not a bridge of any kind).
func (d *Device) Endpoint() bool { return d.class>>16 != 0x06 }

// Listed reports whether 'nettune devices' shows the device without --all:
// network controllers and the classes DPDK drives besides NICs
// (encryption, co-processors such as QAT, processing accelerators).
func (d *Device) Listed() bool {
	switch d.class >> 16 {
	case 0x02, 0x10, 0x12:
		return true
	}
	return d.class>>8 == 0x0b40
}

// Inventory is every PCI device under a root.
type Inventory struct {
	Devices []*Device `json:"devices"`
	// IOMMU is true when the host has an IOMMU (/sys/class/iommu lists a
	// unit, or IOMMU groups exist).
	IOMMU bool `json:"iommu"`
	// NoIOMMUMode is vfio's enable_unsafe_noiommu_mode ("Y" or "N"), ""
	// when vfio is not loaded.
	NoIOMMUMode string `json:"noIOMMUMode"`
	// NoIOMMUKernel says whether this kernel's vfio has a no-IOMMU mode
	// (CONFIG_VFIO_NOIOMMU).
	NoIOMMUKernel Support `json:"-"`
	// Loaded maps the PCI drivers the kernel has registered to their
	// module ("" for built-in drivers).
	Loaded map[string]string `json:"-"`

	modules *kernelModules
	byAddr  map[string]*Device
}

// Paths of the PCI core under /sys.
const (
	pciDevices = "bus/pci/devices"
	pciDrivers = "bus/pci/drivers"
	// noIOMMUParam is vfio's switch for devices without an IOMMU.
	noIOMMUParam = "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"
)

// Scan reads every PCI device under the root.
func Scan(r *host.Root, ids *IDs) (*Inventory, error) {
	inv := &Inventory{Loaded: map[string]string{}, byAddr: map[string]*Device{}}
	entries, err := os.ReadDir(r.Sys(pciDevices))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return inv, nil
		}
		return nil, fmt.Errorf("list PCI devices: %w", err)
	}
	if drv, err := os.ReadDir(r.Sys(pciDrivers)); err == nil {
		for _, e := range drv {
			mod := ""
			if l, err := os.Readlink(r.Sys(pciDrivers, e.Name(), "module")); err == nil {
				mod = filepath.Base(l)
			}
			inv.Loaded[e.Name()] = mod
		}
	}
	inv.modules = readKernelModules(r)
	if units, err := os.ReadDir(r.Sys("class/iommu")); err == nil && len(units) > 0 {
		inv.IOMMU = true
	}
	if v, err := r.ReadString(r.Path(noIOMMUParam)); err == nil {
		inv.NoIOMMUMode = strings.TrimSpace(v)
	}
	inv.NoIOMMUKernel = noIOMMUSupport(r)
	blocks := readBlockTree(r)
	for _, e := range entries {
		d, err := readDevice(r, e.Name(), ids)
		if err != nil {
			return nil, err
		}
		if d.Endpoint() {
			d.Storage = nonNilStrings(blocks.uses(d.dir))
		}
		inv.Devices = append(inv.Devices, d)
		inv.byAddr[d.Address] = d
	}
	sort.Slice(inv.Devices, func(i, j int) bool { return inv.Devices[i].Address < inv.Devices[j].Address })
	groups := map[string][]string{}
	for _, d := range inv.Devices {
		if d.IOMMUGroup != "" {
			groups[d.IOMMUGroup] = append(groups[d.IOMMUGroup], d.Address)
			// A group made by vfio's no-IOMMU mode is no IOMMU.
			if !inv.IOMMU && !strings.HasPrefix(d.Driver, "vfio") {
				inv.IOMMU = true
			}
		}
	}
	for _, d := range inv.Devices {
		d.GroupPeers = []string{}
		if d.IOMMUGroup == "" {
			continue
		}
		members := groupMembers(r, d.IOMMUGroup)
		if len(members) == 0 {
			members = groups[d.IOMMUGroup]
		}
		for _, m := range members {
			if m != d.Address {
				d.GroupPeers = append(d.GroupPeers, m)
			}
		}
		sort.Strings(d.GroupPeers)
	}
	for _, d := range inv.Devices {
		d.Drivers = inv.usableDrivers(d)
		sriovRelations(r, d)
	}
	return inv, nil
}

// Get returns the device at a full address.
func (inv *Inventory) Get(addr string) *Device { return inv.byAddr[addr] }

// readDevice reads one device's attributes.
func readDevice(r *host.Root, addr string, ids *IDs) (*Device, error) {
	dir, err := realPath(r, r.Sys(pciDevices, addr))
	if err != nil {
		return nil, fmt.Errorf("PCI device %s: %w", addr, err)
	}
	d := &Device{Address: addr, dir: dir, NUMANode: -1, Interfaces: []string{}, Reasons: []string{}, Storage: []string{}, Notes: []string{}}
	read := func(name string) string {
		s, _ := r.ReadString(filepath.Join(dir, name))
		return strings.TrimSpace(s)
	}
	d.Class = read("class")
	if c, err := strconv.ParseUint(strings.TrimPrefix(d.Class, "0x"), 16, 32); err == nil {
		d.class = uint32(c)
	}
	vendor, _ := strconv.ParseUint(strings.TrimPrefix(read("vendor"), "0x"), 16, 16)
	device, _ := strconv.ParseUint(strings.TrimPrefix(read("device"), "0x"), 16, 16)
	d.VendorID = fmt.Sprintf("%04x", vendor)
	d.DeviceID = fmt.Sprintf("%04x", device)
	d.VendorName = ids.Vendor(uint16(vendor))
	d.DeviceName = ids.Device(uint16(vendor), uint16(device))
	d.ClassName = ids.Class(d.class)
	d.Modalias = read("modalias")
	if n, err := strconv.Atoi(read("numa_node")); err == nil {
		d.NUMANode = n
	}
	d.Driver = linkBase(filepath.Join(dir, "driver"))
	d.Override = overrideValue(read("driver_override"))
	d.IOMMUGroup = linkBase(filepath.Join(dir, "iommu_group"))
	d.Interfaces = interfaces(dir)
	return d, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// overrideValue turns driver_override's "(null)" into "".
func overrideValue(s string) string {
	s = strings.TrimSpace(s)
	if s == "(null)" {
		return ""
	}
	return s
}

func linkBase(p string) string {
	l, err := os.Readlink(p)
	if err != nil {
		return ""
	}
	return filepath.Base(l)
}

// interfaces lists the network interfaces of a device: net/<name>, and
// virtio*/net/<name> for virtio devices whose net device hangs below the
// virtio bus device.
func interfaces(dir string) []string {
	out := []string{}
	add := func(netDir string) {
		entries, err := os.ReadDir(netDir)
		if err != nil {
			return
		}
		for _, e := range entries {
			out = append(out, e.Name())
		}
	}
	add(filepath.Join(dir, "net"))
	if subs, err := filepath.Glob(filepath.Join(dir, "virtio*")); err == nil {
		for _, s := range subs {
			add(filepath.Join(s, "net"))
		}
	}
	sort.Strings(out)
	return out
}

// groupMembers lists /sys/kernel/iommu_groups/<g>/devices.
func groupMembers(r *host.Root, group string) []string {
	entries, err := os.ReadDir(r.Sys("kernel/iommu_groups", group, "devices"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// Userspace I/O drivers nettune binds for DPDK, by canonical module name.
var userspaceDrivers = map[string]string{
	"vfio_pci":        "vfio-pci",
	"uio_pci_generic": "uio_pci_generic",
	"igb_uio":         "igb_uio",
}

// UserspaceDriver reports whether a driver hands the device to user space
// (DPDK) rather than to a kernel network stack.
func UserspaceDriver(name string) bool {
	_, ok := userspaceDrivers[ModuleName(name)]
	return ok
}

// driverName maps a module to the name of the PCI driver it registers:
// the loaded driver's name when the module is loaded, the known spelling of
// the userspace drivers, else the module name itself.
func (inv *Inventory) driverName(module string) string {
	for drv, mod := range inv.Loaded {
		if mod != "" && ModuleName(mod) == ModuleName(module) {
			return drv
		}
		if SameDriver(drv, module) {
			return drv
		}
	}
	if n, ok := userspaceDrivers[ModuleName(module)]; ok {
		return n
	}
	return module
}

// LoadedDriver returns the registered PCI driver of that name (modulo
// dashes and underscores).
func (inv *Inventory) LoadedDriver(name string) (string, bool) {
	if _, ok := inv.Loaded[name]; ok {
		return name, true
	}
	for drv := range inv.Loaded {
		if SameDriver(drv, name) {
			return drv, true
		}
	}
	return "", false
}

// Available reports whether the kernel has a driver: registered, or a
// module it can load.
func (inv *Inventory) Available(name string) bool {
	if _, ok := inv.LoadedDriver(name); ok {
		return true
	}
	return inv.modules != nil && inv.modules.Available(name)
}

// ModulesKnown reports whether the kernel's module lists were found.
func (inv *Inventory) ModulesKnown() bool { return inv.modules != nil && inv.modules.Known }

// KernelDrivers returns the kernel drivers whose ID tables match the
// device (by modalias), userspace drivers left out.
func (inv *Inventory) KernelDrivers(d *Device) []string {
	if inv.modules == nil {
		return nil
	}
	var out []string
	for _, m := range inv.modules.Aliases.match(d.Modalias) {
		if UserspaceDriver(m) {
			continue
		}
		out = appendDriver(out, inv.driverName(m))
	}
	return out
}

func (inv *Inventory) usableDrivers(d *Device) []string {
	out := []string{}
	if d.Driver != "" {
		out = appendDriver(out, d.Driver)
	}
	for _, k := range inv.KernelDrivers(d) {
		out = appendDriver(out, k)
	}
	if !d.Endpoint() {
		return out
	}
	for _, u := range []string{"vfio-pci", "uio_pci_generic"} {
		if inv.Available(u) {
			out = appendDriver(out, u)
		}
	}
	return out
}

func appendDriver(list []string, name string) []string {
	for _, n := range list {
		if SameDriver(n, name) {
			return list
		}
	}
	return append(list, name)
}

// Resolve finds the device a command-line or profile argument names: a
// PCI address in full or short form, or a kernel interface name. An
// interface that no longer exists because nettune bound its device away is
// found in the journal (recorded); recorded may be nil.
func (inv *Inventory) Resolve(arg string, recorded []Recorded) (*Device, error) {
	if profile.IsPCIAddress(arg) {
		addr := profile.NormalizePCI(arg)
		if d := inv.byAddr[addr]; d != nil {
			return d, nil
		}
		return nil, fmt.Errorf("no PCI device %s on this host", addr)
	}
	for _, d := range inv.Devices {
		for _, i := range d.Interfaces {
			if i == arg {
				return d, nil
			}
		}
	}
	for i := len(recorded) - 1; i >= 0; i-- {
		for _, n := range recorded[i].Before.Interfaces {
			if n == arg {
				if d := inv.byAddr[recorded[i].Address]; d != nil {
					return d, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no PCI device with interface %s on this host", arg)
}
