package devbind

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Guards: each names one reason to refuse a bind.
const (
	GuardAddress        = "address"
	GuardRoute          = "route"
	GuardSession        = "ssh-session"
	GuardLower          = "lower-device"
	GuardNetworkUnknown = "network-unknown"
	GuardIOMMUGroup     = "iommu-group"
	GuardNoIOMMU        = "no-iommu"
	GuardBifurcated     = "bifurcated"
	GuardBridge         = "bridge"
	GuardUnavailable    = "driver-unavailable"
	// GuardDefaultRoute: the interface carries a default route; binding
	// it away cuts the host off. Never forceable.
	GuardDefaultRoute = "default-route"
	// GuardStorage: the device provides block devices that are mounted,
	// swapped on or built upon. Never forceable.
	GuardStorage = "storage"
	// GuardClass: not a network, crypto or accelerator device; lifted only
	// by naming the class explicitly (--any-class).
	GuardClass = "device-class"
)

// Refusal is a guard's reason not to bind a device.
type Refusal struct {
	Device  string `json:"device"`
	Guard   string `json:"guard"`
	Message string `json:"message"`
	Remedy  string `json:"remedy"`
	// Forceable refusals are lifted by --force (and become warnings).
	Forceable bool `json:"forceable"`
}

func (r Refusal) String() string {
	s := r.Device + ": " + r.Message
	if r.Remedy != "" {
		s += " (" + r.Remedy + ")"
	}
	return s
}

// bifurcatedDrivers keep the kernel netdev while DPDK drives the same
// device through them (flow steering hands it its queues): binding them
// away breaks DPDK instead of enabling it.
var bifurcatedDrivers = map[string]string{
	"mlx4_core": "mlx4",
	"mlx5_core": "mlx5",
	"mana":      "mana",
}

// Bifurcated reports whether a driver is bifurcated: DPDK drives its
// devices through it, so they must not be bound to vfio-pci.
func Bifurcated(driver string) bool {
	_, ok := bifurcatedDrivers[ModuleName(driver)]
	return ok
}

// vfioFriendly are drivers vfio accepts on the other devices of a group it
// uses, besides no driver and vfio drivers themselves.
var vfioFriendly = map[string]bool{"pci_stub": true, "pcieport": true}

// linkLocal covers IPv6 addresses and routes every interface that is up
// has on its own: they do not mean the interface is in use.
var (
	linkLocal = netip.MustParsePrefix("fe80::/10")
	multicast = netip.MustParsePrefix("ff00::/8")
)

// maxListed bounds how many addresses or routes a message lists.
const maxListed = 4

// activity reports why a device's network interfaces are in use. net is
// nil when the network state could not be read (netErr says why).
func activity(d *Device, n *Network, netErr error, sessions []Session) []Refusal {
	if len(d.Interfaces) == 0 {
		return nil
	}
	if n == nil {
		return []Refusal{{
			Device: d.Address, Guard: GuardNetworkUnknown, Forceable: true,
			Message: fmt.Sprintf("cannot tell whether %s carries traffic: %v", strings.Join(d.Interfaces, ", "), netErr),
			Remedy:  "plan on the live host or on a root captured by 'nettune snapshot', or --force",
		}}
	}
	var out []Refusal
	for _, ifc := range d.Interfaces {
		stack := n.uppers(ifc)
		on := map[string]string{ifc: ifc}
		for _, u := range stack {
			on[u.Name] = describe(u)
		}
		where := func(link string) string {
			if link == ifc {
				return ""
			}
			return " on " + on[link]
		}
		var addrs, addrLinks []string
		local := map[netip.Addr]bool{}
		for _, a := range n.Addrs {
			if _, ok := on[a.Link]; !ok || linkLocal.Contains(a.Prefix.Addr()) {
				continue
			}
			local[a.Prefix.Addr()] = true
			addrs = append(addrs, a.Prefix.String()+where(a.Link))
			addrLinks = appendUnique(addrLinks, a.Link)
		}
		if len(addrs) > 0 {
			// The remedy names the interfaces that hold the addresses:
			// the VLAN or bridge on top, not the lower NIC.
			var flush []string
			for _, l := range addrLinks {
				flush = append(flush, "ip address flush dev "+l)
			}
			out = append(out, Refusal{
				Device: d.Address, Guard: GuardAddress, Forceable: true,
				Message: fmt.Sprintf("interface %s has %s %s", ifc, plural(len(addrs), "address", "addresses"), list(addrs)),
				Remedy:  fmt.Sprintf("remove them (%s) or --force", strings.Join(flush, "; ")),
			})
		}
		var routes, defaults, routeLinks []string
		for _, rt := range n.Routes {
			if _, ok := on[rt.Link]; !ok {
				continue
			}
			if dst := rt.Dst.Addr(); rt.Dst.IsValid() && dst.Is6() && (linkLocal.Contains(dst) || multicast.Contains(dst)) {
				continue
			}
			if rt.Type == "" && (!rt.Dst.IsValid() || rt.Dst.Bits() == 0) {
				defaults = append(defaults, rt.String()+where(rt.Link))
				continue
			}
			routes = append(routes, rt.String()+where(rt.Link))
			routeLinks = appendUnique(routeLinks, rt.Link)
		}
		if len(defaults) > 0 {
			out = append(out, Refusal{
				Device: d.Address, Guard: GuardDefaultRoute,
				Message: fmt.Sprintf("interface %s carries the default route: %s; without it the host loses its way out", ifc, list(defaults)),
				Remedy:  "move the default route to another interface first; this refusal cannot be forced",
			})
		}
		if len(routes) > 0 {
			out = append(out, Refusal{
				Device: d.Address, Guard: GuardRoute, Forceable: true,
				Message: fmt.Sprintf("interface %s carries %s: %s", ifc, plural(len(routes), "route", "routes"), list(routes)),
				Remedy:  fmt.Sprintf("move or delete the routes first (%s), or --force", showRoutes(routeLinks)),
			})
		}
		for _, s := range sessions {
			why := ""
			if local[s.Local.Addr()] {
				why = "its local address " + s.Local.Addr().String() + " is on " + ifc
			} else if rt, ok := n.lookup(s.Remote.Addr()); ok {
				if _, via := on[rt.Link]; via {
					why = "the route back to " + s.Remote.Addr().String() + " goes out through " + ifc
				}
			}
			if why == "" {
				continue
			}
			out = append(out, Refusal{
				Device: d.Address, Guard: GuardSession,
				Message: fmt.Sprintf("interface %s carries the %s: %s", ifc, s, why),
				Remedy:  "connect through another interface (or the console) first; this refusal cannot be forced",
			})
		}
		for _, u := range stack {
			if !u.Up {
				continue
			}
			out = append(out, Refusal{
				Device: d.Address, Guard: GuardLower, Forceable: true,
				Message: fmt.Sprintf("interface %s is a lower device of %s, which is up", ifc, describe(u)),
				Remedy:  fmt.Sprintf("take %s out of %s or bring %s down, or --force", ifc, u.Name, u.Name),
			})
		}
	}
	return out
}

func showRoutes(links []string) string {
	var out []string
	for _, l := range links {
		out = append(out, "ip route show table all dev "+l)
	}
	return strings.Join(out, "; ")
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func describe(l Link) string {
	if l.Kind == "" {
		return l.Name
	}
	return fmt.Sprintf("%s (%s)", l.Name, l.Kind)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func list(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(items)-maxListed)
}

// bindGuards reports what stops binding d to the driver want. together are
// the addresses bound in the same operation (a group bound at once is
// viable).
func (inv *Inventory) bindGuards(d *Device, want string, together map[string]bool, noIOMMU bool) []Refusal {
	var out []Refusal
	refuse := func(guard, msg, remedy string) {
		out = append(out, Refusal{Device: d.Address, Guard: guard, Message: msg, Remedy: remedy})
	}
	if !d.Endpoint() {
		refuse(GuardBridge, fmt.Sprintf("is a %s, not an endpoint device", nonEmpty(d.ClassName, "bridge")),
			"bridges stay on their driver; bind the devices behind them")
		return out
	}
	if !UserspaceDriver(want) {
		return out
	}
	if pmd, ok := bifurcatedDrivers[ModuleName(d.Driver)]; ok {
		refuse(GuardBifurcated, fmt.Sprintf("%s is a bifurcated driver: DPDK's %s driver uses the device while %s keeps it, so it must not be unbound", d.Driver, pmd, d.Driver),
			fmt.Sprintf("do not bind it; give DPDK the PCI address (-a %s) and keep %s loaded", d.Address, d.Driver))
		return out
	}
	if inv.ModulesKnown() && !inv.Available(want) {
		refuse(GuardUnavailable, fmt.Sprintf("this kernel has no %s driver (not loaded, not in its modules)", want),
			"install the kernel's extra modules package or use another driver")
	}
	if !SameDriver(want, "vfio-pci") {
		return out
	}
	if !inv.IOMMU {
		if !noIOMMU {
			refuse(GuardNoIOMMU, "the host has no IOMMU: vfio-pci can only take the device in vfio's unsafe no-IOMMU mode, where the device can read and write any memory and the kernel is tainted",
				"enable the IOMMU (intel_iommu=on or amd_iommu=on, VT-d/AMD-Vi in the firmware, a virtual IOMMU in a VM), use uio_pci_generic, or accept the risk with --no-iommu (profile: unsafeNoIOMMU: true)")
		} else if !inv.NoIOMMUKernel.Has() {
			refuse(GuardNoIOMMU, fmt.Sprintf("the host has no IOMMU and this kernel has no vfio no-IOMMU mode (%s): vfio-pci cannot take the device, even with --no-iommu", inv.NoIOMMUKernel.Why),
				"use uio_pci_generic (it needs no IOMMU, and isolates nothing either), or boot a kernel built with CONFIG_VFIO_NOIOMMU=y")
		}
		return out
	}
	if d.IOMMUGroup == "" {
		refuse(GuardNoIOMMU, "is in no IOMMU group although the host has an IOMMU: vfio-pci cannot isolate it",
			"check the firmware's IOMMU settings for this slot")
		return out
	}
	var blocking []string
	for _, p := range d.GroupPeers {
		pd := inv.Get(p)
		if pd == nil || together[p] || vfioViable(pd) {
			continue
		}
		desc := p + " (" + pd.Driver
		if len(pd.Interfaces) > 0 {
			desc += ", " + strings.Join(pd.Interfaces, ",")
		}
		blocking = append(blocking, desc+")")
	}
	if len(blocking) > 0 {
		sort.Strings(blocking)
		refuse(GuardIOMMUGroup, fmt.Sprintf("IOMMU group %s also holds %s on kernel drivers; vfio can only use a group whose devices are all on vfio-pci or have no driver", d.IOMMUGroup, strings.Join(blocking, ", ")),
			"bind them together (list them too, or --group)")
	}
	return out
}

// storageRefusal refuses a device whose block devices are in use: taking
// it from its driver takes the filesystems away under the running system.
func storageRefusal(d *Device) Refusal {
	return Refusal{
		Device: d.Address, Guard: GuardStorage,
		Message: "provides storage in use: " + strings.Join(d.Storage, "; "),
		Remedy:  "none: unmount, swapoff and dismantle what uses its disks first; this refusal cannot be forced",
	}
}

// classRefusal refuses a device outside the classes DPDK drives (as
// dpdk-devbind limits itself to them) unless asked for explicitly.
func classRefusal(d *Device) Refusal {
	return Refusal{
		Device: d.Address, Guard: GuardClass,
		Message: fmt.Sprintf("is a %s (class %s), not a network, crypto, co-processor or accelerator device", nonEmpty(d.ClassName, "device of another class"), d.Class),
		Remedy:  "name the class explicitly with --any-class if this device really is meant for user space",
	}
}

// vfioViable reports whether a group member lets vfio use the group:
// no driver, a vfio driver, pci-stub, or a bridge.
func vfioViable(d *Device) bool {
	return d.Driver == "" || strings.HasPrefix(d.Driver, "vfio") || vfioFriendly[ModuleName(d.Driver)] || !d.Endpoint()
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
