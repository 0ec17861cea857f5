package devbind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"sort"

	"github.com/nettune/nettune/pkg/host"
)

// NetworkFile is where 'nettune snapshot' stores the network state (links,
// addresses, routes of every table), relative to the snapshot root: netlink
// state has no file in /proc or /sys to copy, so it is captured as JSON.
const NetworkFile = "/var/lib/nettune-snapshot/network.json"

// ErrNetworkUnknown is returned when the network state cannot be read: the
// guards then cannot tell whether an interface is in use.
var ErrNetworkUnknown = errors.New("network state unknown")

// Network is the part of the kernel's network configuration the guards
// need.
type Network struct {
	Links  []Link  `json:"links"`
	Addrs  []Addr  `json:"addresses"`
	Routes []Route `json:"routes"`
}

// Link is a network interface.
type Link struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
	// Kind is the rtnetlink kind (bond, bridge, vlan, macvlan, ...), ""
	// for a device.
	Kind string `json:"kind,omitempty"`
	// Up is the administrative state (IFF_UP).
	Up bool `json:"up"`
	// Master is the bond or bridge the link is a port of.
	Master string `json:"master,omitempty"`
	// Parent is the lower link of a VLAN or macvlan.
	Parent string `json:"parent,omitempty"`
}

// Addr is an address on a link.
type Addr struct {
	Link   string       `json:"link"`
	Prefix netip.Prefix `json:"prefix"`
}

// Route is a route whose output device is Link.
type Route struct {
	Link  string `json:"link"`
	Table int    `json:"table"`
	// Dst is the destination; the zero prefix is the default route.
	Dst     netip.Prefix `json:"dst"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
	// Type is the route type when it is not unicast (local, broadcast,
	// multicast...).
	Type string `json:"type,omitempty"`
}

// Route tables with names.
const (
	tableMain  = 254
	tableLocal = 255
)

func (rt Route) String() string {
	dst := rt.Dst.String()
	if rt.Dst.Bits() == 0 {
		dst = "default"
	}
	s := dst
	if rt.Type != "" {
		s = rt.Type + " " + dst
	}
	if rt.Gateway.IsValid() {
		s += " via " + rt.Gateway.String()
	}
	switch rt.Table {
	case tableMain:
		s += " (table main)"
	case tableLocal:
		s += " (table local)"
	default:
		s += fmt.Sprintf(" (table %d)", rt.Table)
	}
	return s
}

// NetworkSource gives the network state.
type NetworkSource interface {
	Network(ctx context.Context) (*Network, error)
}

// NetworkFor returns the source for a root: netlink on the live host, the
// captured NetworkFile on any other root (never the live host's netlink).
func NetworkFor(r *host.Root) NetworkSource {
	if r.Live() {
		return Netlink{}
	}
	return NetworkFromFile{Path: r.Path(NetworkFile)}
}

// NetworkFromFile reads a captured network state.
type NetworkFromFile struct{ Path string }

// Network implements NetworkSource. A missing file wraps ErrNetworkUnknown.
func (f NetworkFromFile) Network(context.Context) (*Network, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s was not captured ('nettune snapshot' writes it)", ErrNetworkUnknown, NetworkFile)
		}
		return nil, fmt.Errorf("%w: %v", ErrNetworkUnknown, err)
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNetworkUnknown, f.Path, err)
	}
	return &n, nil
}

// Marshal renders the network state as the indented JSON of NetworkFile,
// sorted so that two captures of the same state are identical.
func (n *Network) Marshal() ([]byte, error) {
	sort.Slice(n.Links, func(i, j int) bool { return n.Links[i].Index < n.Links[j].Index })
	sort.SliceStable(n.Addrs, func(i, j int) bool {
		if n.Addrs[i].Link != n.Addrs[j].Link {
			return n.Addrs[i].Link < n.Addrs[j].Link
		}
		return n.Addrs[i].Prefix.String() < n.Addrs[j].Prefix.String()
	})
	sort.SliceStable(n.Routes, func(i, j int) bool {
		a, b := n.Routes[i], n.Routes[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Link != b.Link {
			return a.Link < b.Link
		}
		return a.Dst.String() < b.Dst.String()
	})
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// link returns the link with that name.
func (n *Network) link(name string) (Link, bool) {
	for _, l := range n.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// uppers returns the links stacked on name: bonds and bridges it is a port
// of, VLANs and macvlans on it, and recursively what is stacked on those.
func (n *Network) uppers(name string) []Link {
	var out []Link
	seen := map[string]bool{name: true}
	queue := []string{name}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		l, _ := n.link(cur)
		for _, u := range n.Links {
			if seen[u.Name] {
				continue
			}
			if u.Name == l.Master || u.Parent == cur {
				seen[u.Name] = true
				out = append(out, u)
				queue = append(queue, u.Name)
			}
		}
	}
	return out
}

// lookup returns the main-table route the kernel would use to reach a,
// by longest prefix (policy routing is not modelled).
func (n *Network) lookup(a netip.Addr) (Route, bool) {
	best, found := Route{}, false
	for _, rt := range n.Routes {
		if rt.Table != tableMain || rt.Type != "" || !rt.Dst.IsValid() || rt.Dst.Addr().Is4() != a.Is4() {
			continue
		}
		if rt.Dst.Contains(a) && (!found || rt.Dst.Bits() > best.Dst.Bits()) {
			best, found = rt, true
		}
	}
	return best, found
}
