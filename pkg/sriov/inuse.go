package sriov

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/host"
)

// inUse says, for each VF of pf among indexes, why it must not be
// destroyed: bound to a user-space driver whose device node (the VFIO
// group, /dev/uioN) a process holds open, which is how a running DPDK
// application or nettune's forwarder uses it; or a network interface that
// is up and has an address other than an IPv6 link-local one.
func inUse(ctx context.Context, r *host.Root, net devbind.NetworkSource, pf string, indexes []int) []string {
	var (
		out     []string
		n       *devbind.Network
		netErr  error
		netRead bool
	)
	holders := devbind.NewHolderScan(r)
	for _, i := range indexes {
		vf := devbind.VirtFn(r, pf, i)
		if vf == "" {
			continue
		}
		dev := filepath.Join(pciDevices, vf)
		for _, h := range holders.Holders(vf) {
			out = append(out, fmt.Sprintf("VF %d (%s) is %s", i, vf, h))
		}
		ents, _ := os.ReadDir(r.Path(filepath.Join(dev, "net")))
		for _, e := range ents {
			if !netRead {
				netRead = true
				n, netErr = net.Network(ctx)
			}
			if netErr != nil {
				out = append(out, fmt.Sprintf("VF %d (%s) has interface %s, whose use cannot be read: %v", i, vf, e.Name(), netErr))
				continue
			}
			if addrs := usedAddrs(n, e.Name()); len(addrs) > 0 {
				out = append(out, fmt.Sprintf("VF %d (%s) has interface %s up with address %s", i, vf, e.Name(), strings.Join(addrs, ", ")))
			}
		}
	}
	return out
}

// usedAddrs lists the addresses of an interface that is up, leaving out
// IPv6 link-local ones, which the kernel gives every interface it brings
// up.
func usedAddrs(n *devbind.Network, ifname string) []string {
	up := false
	for _, l := range n.Links {
		if l.Name == ifname {
			up = l.Up
		}
	}
	if !up {
		return nil
	}
	var out []string
	for _, a := range n.Addrs {
		if a.Link != ifname || linkLocal(a.Prefix) {
			continue
		}
		out = append(out, a.Prefix.String())
	}
	return out
}

func linkLocal(p netip.Prefix) bool { return p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() }
