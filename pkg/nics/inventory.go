// Package nics holds two nettune modules: "nics", which tunes the kernel
// side of network interfaces (ring sizes, channels, coalescing, offloads,
// the RSS table, the transmit queue length, queue IRQ affinity, and
// RPS/RFS/XPS) for the NICs each spec.nics entry matches, and
// "irqbalance", which keeps irqbalance from undoing the IRQ pinning.
//
// The kernel interfaces live in pkg/ethtool (ioctls and netlink, or the
// offline state files), pkg/irqaffinity (/proc/irq) and pkg/netqueue
// (sysfs queues); this package selects NICs, validates the profile against
// them, orders the changes and applies and reverts them one at a time.
package nics

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/irqaffinity"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

// NIC is one network interface of the host.
type NIC struct {
	Name string `json:"name"`
	// PCI is the PCI function behind the interface, "" for virtual ones.
	PCI string `json:"pci,omitempty"`
	// PCIDir is the function's sysfs directory under the root.
	PCIDir string `json:"-"`
	Driver string `json:"driver,omitempty"`
	// Node is the NUMA node of the device, -1 when unknown.
	Node int    `json:"node"`
	MAC  string `json:"mac,omitempty"`
	// Virtio is the virtio device of a virtio-net interface ("virtio2").
	Virtio string `json:"virtio,omitempty"`
}

// Device is the interrupt view of the NIC.
func (n NIC) Device() irqaffinity.Device {
	return irqaffinity.Device{Name: n.Name, PCI: n.PCI, PCIDir: n.PCIDir, Virtio: n.Virtio}
}

func (n NIC) String() string {
	var parts []string
	if n.Driver != "" {
		parts = append(parts, n.Driver)
	}
	if n.PCI != "" {
		parts = append(parts, n.PCI)
	}
	if len(parts) == 0 {
		return n.Name
	}
	return n.Name + " (" + strings.Join(parts, ", ") + ")"
}

// Unbound is a network PCI function without a kernel interface: bound to
// vfio-pci or uio for DPDK, or to no driver.
type Unbound struct {
	PCI    string `json:"pci"`
	Driver string `json:"driver,omitempty"`
	Node   int    `json:"node"`
}

// Inventory is every NIC of the host.
type Inventory struct {
	NICs    []NIC
	Unbound []Unbound
}

// ReadInventory lists the host's interfaces (lo excepted) with their PCI
// function, driver, NUMA node and MAC, and the network PCI functions that
// have no interface. The driver of a virtual interface comes from ethtool
// (eth may be nil).
func ReadInventory(r *host.Root, t *numa.Topology, eth ethtool.Interface) (*Inventory, error) {
	netDir := r.Sys("class/net")
	entries, err := os.ReadDir(netDir)
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	inv := &Inventory{}
	withNetdev := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if name == "lo" || e.Type().IsRegular() {
			continue
		}
		n := NIC{Name: name, Node: -1}
		if mac, err := r.ReadString(filepath.Join(netDir, name, "address")); err == nil {
			n.MAC = strings.ToLower(mac)
		}
		if tn, ok := t.NICByName(name); ok {
			n.PCI, n.Driver, n.Node = tn.PCI, tn.Driver, tn.Node
		}
		dev := filepath.Join(netDir, name, "device")
		if resolved, err := filepath.EvalSymlinks(dev); err == nil {
			if b := filepath.Base(resolved); strings.HasPrefix(b, "virtio") {
				n.Virtio = b
			}
			if pci := numa.PCIDevice(dev); pci != "" {
				n.PCIDir = pci
				n.PCI = filepath.Base(pci)
			}
		}
		if n.Driver == "" && eth != nil {
			if d, err := eth.Driver(name); err == nil {
				n.Driver = d
			}
		}
		if n.PCI != "" {
			withNetdev[n.PCI] = true
		}
		inv.NICs = append(inv.NICs, n)
	}
	sort.Slice(inv.NICs, func(i, j int) bool { return inv.NICs[i].Name < inv.NICs[j].Name })

	pciDir := r.Sys("bus/pci/devices")
	devs, _ := os.ReadDir(pciDir)
	for _, d := range devs {
		if withNetdev[d.Name()] {
			continue
		}
		dir := filepath.Join(pciDir, d.Name())
		class, err := r.ReadString(filepath.Join(dir, "class"))
		if err != nil || !strings.HasPrefix(class, "0x02") {
			continue
		}
		u := Unbound{PCI: d.Name(), Node: -1}
		if l, err := os.Readlink(filepath.Join(dir, "driver")); err == nil {
			u.Driver = filepath.Base(l)
		}
		if node, err := r.ReadString(filepath.Join(dir, "numa_node")); err == nil {
			fmt.Sscan(node, &u.Node)
		}
		inv.Unbound = append(inv.Unbound, u)
	}
	return inv, nil
}

// Names describes the NICs for an error message.
func (inv *Inventory) Names() string {
	var parts []string
	for _, n := range inv.NICs {
		parts = append(parts, n.String())
	}
	for _, u := range inv.Unbound {
		d := u.Driver
		if d == "" {
			d = "no driver"
		}
		parts = append(parts, u.PCI+" ("+d+", no interface)")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Select returns the NICs and the unbound functions a match selects.
// permMAC reads a NIC's permanent address when the current one differs.
func (inv *Inventory) Select(m profile.NICMatch, permMAC func(string) string) ([]NIC, []Unbound) {
	var nics []NIC
	var unbound []Unbound
	pci := ""
	if m.PCI != "" {
		pci = profile.NormalizePCI(m.PCI)
	}
	mac := strings.ToLower(m.MAC)
	for _, n := range inv.NICs {
		if m.Name != "" {
			if ok, _ := path.Match(m.Name, n.Name); !ok {
				continue
			}
		}
		if pci != "" && n.PCI != pci {
			continue
		}
		if m.Driver != "" && n.Driver != m.Driver {
			continue
		}
		if mac != "" && n.MAC != mac && (permMAC == nil || strings.ToLower(permMAC(n.Name)) != mac) {
			continue
		}
		nics = append(nics, n)
	}
	if m.Name == "" && m.MAC == "" {
		for _, u := range inv.Unbound {
			if pci != "" && u.PCI != pci {
				continue
			}
			if m.Driver != "" && u.Driver != m.Driver {
				continue
			}
			unbound = append(unbound, u)
		}
	}
	return nics, unbound
}
