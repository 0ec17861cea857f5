package dataplane

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
)

// KernelIface returns the kernel interface behind a vdev port
// (net_af_packet and net_af_xdp: their iface= argument) and whether the PMD
// attaches an XDP program to it; "" for other ports.
func KernelIface(p Port) (iface string, xdp bool) {
	if p.Vdev == "" {
		return "", false
	}
	name, args, _ := strings.Cut(p.Vdev, ",")
	switch {
	case strings.HasPrefix(name, "net_af_xdp"):
		xdp = true
	case strings.HasPrefix(name, "net_af_packet"), strings.HasPrefix(name, "eth_af_packet"):
	default:
		return "", false
	}
	for _, kv := range strings.Split(args, ",") {
		if v, ok := strings.CutPrefix(kv, "iface="); ok {
			return v, xdp
		}
	}
	return "", false
}

// KernelIfaces lists the kernel interfaces of cfg's ports (all) and those
// of its af_xdp ports (xdp).
func KernelIfaces(cfg Config) (all, xdp []string) {
	for _, p := range cfg.Ports {
		if i, x := KernelIface(p); i != "" {
			all = append(all, i)
			if x {
				xdp = append(xdp, i)
			}
		}
	}
	return all, xdp
}

// Promiscuous reports which of the interfaces are in promiscuous mode now;
// interfaces netlink cannot find are left out.
func Promiscuous(ifaces []string) map[string]bool {
	m := map[string]bool{}
	for _, name := range ifaces {
		if l, err := netlink.LinkByName(name); err == nil {
			m[name] = l.Attrs().Promisc != 0
		}
	}
	return m
}

// PromiscOff turns promiscuous mode off on the interfaces.
func PromiscOff(ifaces []string) error {
	var errs []string
	for _, name := range ifaces {
		l, err := netlink.LinkByName(name)
		if err == nil {
			err = netlink.SetPromiscOff(l)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if errs != nil {
		return fmt.Errorf("turn promiscuous mode off: %s", strings.Join(errs, "; "))
	}
	return nil
}

// removeXDP detaches the XDP program of an interface, in the mode it was
// attached in; false when there was none.
func removeXDP(name string) (bool, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return false, err
	}
	x := l.Attrs().Xdp
	if x == nil || !x.Attached {
		return false, nil
	}
	var flags uint32
	switch x.AttachMode {
	case nl.XDP_ATTACHED_SKB:
		flags = nl.XDP_FLAGS_SKB_MODE
	case nl.XDP_ATTACHED_DRV:
		flags = nl.XDP_FLAGS_DRV_MODE
	case nl.XDP_ATTACHED_HW:
		flags = 1 << 3 // XDP_FLAGS_HW_MODE
	}
	if err := netlink.LinkSetXdpFdWithFlags(l, -1, int(flags)); err != nil {
		return false, err
	}
	return true, nil
}

// CleanLeftovers undoes, before cfg starts, what forwarders that died
// without cleaning up (kill -9) left on the kernel interfaces cfg names:
// an XDP program attached to an af_xdp port's interface, and promiscuous
// mode that a dead instance (gone, from SweepInstances) turned on.
// Interfaces that a live instance (live) uses are left alone. It returns
// one line per change, and per failure.
func CleanLeftovers(cfg Config, gone, live []Instance) (notes []string) {
	all, xdp := KernelIfaces(cfg)
	used := map[string]bool{}
	for _, in := range live {
		if in.Up {
			for _, i := range append(append([]string(nil), in.XDPIfaces...), in.PromiscIfaces...) {
				used[i] = true
			}
		}
	}
	for _, name := range xdp {
		if used[name] {
			continue
		}
		removed, err := removeXDP(name)
		switch {
		case err != nil:
			notes = append(notes, fmt.Sprintf("could not remove a leftover XDP program from %s: %v", name, err))
		case removed:
			notes = append(notes, fmt.Sprintf("removed a leftover XDP program from %s (a forwarder that was killed left it)", name))
		}
	}
	for _, in := range gone {
		for _, name := range in.PromiscIfaces {
			if used[name] || !slices.Contains(all, name) {
				continue
			}
			if err := PromiscOff([]string{name}); err != nil {
				notes = append(notes, err.Error())
			} else {
				notes = append(notes, fmt.Sprintf("turned promiscuous mode off on %s (instance %s, pid %d, turned it on and died)", name, in.Prefix, in.PID))
			}
		}
	}
	return notes
}
