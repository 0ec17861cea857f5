package sriov

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
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
		holders map[string][]string
	)
	for _, i := range indexes {
		vf := devbind.VirtFn(r, pf, i)
		if vf == "" {
			continue
		}
		dev := filepath.Join(pciDevices, vf)
		driver := linkBase(r.Path(filepath.Join(dev, "driver")))
		var nodes []string
		switch {
		case strings.HasPrefix(driver, "vfio"):
			if g := linkBase(r.Path(filepath.Join(dev, "iommu_group"))); g != "" {
				nodes = append(nodes, "/dev/vfio/"+g, "/dev/vfio/noiommu-"+g)
			}
			if ents, err := os.ReadDir(r.Path(filepath.Join(dev, "vfio-dev"))); err == nil {
				for _, e := range ents {
					nodes = append(nodes, "/dev/vfio/devices/"+e.Name())
				}
			}
		case strings.HasPrefix(driver, "uio") || driver == "igb_uio":
			if ents, err := os.ReadDir(r.Path(filepath.Join(dev, "uio"))); err == nil {
				for _, e := range ents {
					nodes = append(nodes, "/dev/"+e.Name())
				}
			}
		}
		if len(nodes) > 0 && holders == nil {
			holders = openers(r)
		}
		for _, node := range nodes {
			if pids := holders[node]; len(pids) > 0 {
				out = append(out, fmt.Sprintf("VF %d (%s) is bound to %s and %s is held open by pid %s", i, vf, driver, node, strings.Join(pids, ", ")))
			}
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

// openers maps each device node under /dev that a process holds open to
// the pids holding it (from /proc/PID/fd).
func openers(r *host.Root) map[string][]string {
	out := map[string][]string{}
	procs, _ := os.ReadDir(r.Path("/proc"))
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		fds, _ := os.ReadDir(r.Path(filepath.Join("/proc", p.Name(), "fd")))
		for _, fd := range fds {
			t, err := os.Readlink(r.Path(filepath.Join("/proc", p.Name(), "fd", fd.Name())))
			if err != nil || !strings.HasPrefix(t, "/dev/") {
				continue
			}
			if l := out[t]; len(l) == 0 || l[len(l)-1] != p.Name() {
				out[t] = append(out[t], p.Name())
			}
		}
	}
	return out
}

func linkBase(p string) string {
	l, err := os.Readlink(p)
	if err != nil {
		return ""
	}
	return filepath.Base(l)
}
