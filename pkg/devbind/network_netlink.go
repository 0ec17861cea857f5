package devbind

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Netlink reads the network state of the live host's current network
// namespace over rtnetlink (read-only dumps).
type Netlink struct{}

// stackedKinds are the link kinds whose parent (IFLA_LINK) is a lower
// device they send through.
var stackedKinds = map[string]bool{"vlan": true, "macvlan": true, "macvtap": true, "ipvlan": true, "ipvtap": true}

// Network implements NetworkSource.
func (Netlink) Network(context.Context) (*Network, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("%w: list links: %v", ErrNetworkUnknown, err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	n := &Network{}
	for _, l := range links {
		a := l.Attrs()
		kind := l.Type()
		if kind == "device" {
			kind = ""
		}
		nl := Link{Name: a.Name, Index: a.Index, Kind: kind, Up: a.Flags&net.FlagUp != 0, Master: names[a.MasterIndex]}
		if stackedKinds[kind] {
			nl.Parent = names[a.ParentIndex]
		}
		n.Links = append(n.Links, nl)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("%w: list addresses: %v", ErrNetworkUnknown, err)
	}
	for _, a := range addrs {
		p, ok := prefixOf(a.IPNet)
		if !ok {
			continue
		}
		n.Addrs = append(n.Addrs, Addr{Link: names[a.LinkIndex], Prefix: p})
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("%w: list routes: %v", ErrNetworkUnknown, err)
	}
	for _, rt := range routes {
		dst, ok := prefixOf(rt.Dst)
		if !ok {
			dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
			if rt.Family == unix.AF_INET6 {
				dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
			}
		}
		hops := []struct {
			link int
			gw   net.IP
		}{{rt.LinkIndex, rt.Gw}}
		if len(rt.MultiPath) > 0 {
			hops = hops[:0]
			for _, nh := range rt.MultiPath {
				hops = append(hops, struct {
					link int
					gw   net.IP
				}{nh.LinkIndex, nh.Gw})
			}
		}
		for _, h := range hops {
			if h.link == 0 {
				continue
			}
			out := Route{Link: names[h.link], Table: rt.Table, Dst: dst, Type: routeType(rt.Type)}
			if gw, ok := netip.AddrFromSlice(h.gw); ok {
				out.Gateway = gw.Unmap()
			}
			n.Routes = append(n.Routes, out)
		}
	}
	return n, nil
}

func prefixOf(ipn *net.IPNet) (netip.Prefix, bool) {
	if ipn == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(ipn.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, _ := ipn.Mask.Size()
	return netip.PrefixFrom(a, ones), true
}

// routeType names the non-unicast route types.
func routeType(t int) string {
	switch t {
	case unix.RTN_UNICAST, unix.RTN_UNSPEC:
		return ""
	case unix.RTN_LOCAL:
		return "local"
	case unix.RTN_BROADCAST:
		return "broadcast"
	case unix.RTN_ANYCAST:
		return "anycast"
	case unix.RTN_MULTICAST:
		return "multicast"
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	}
	return fmt.Sprintf("type%d", t)
}
