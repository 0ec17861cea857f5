package devbind

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
)

// Holders says how a device bound to a user-space driver is in use: for
// each of its device nodes (the VFIO group /dev/vfio/G or
// /dev/vfio/noiommu-G, its /dev/vfio/devices/vfioX cdev, or /dev/uioN)
// that a process holds open, which pids hold it (from /proc/PID/fd). A
// running DPDK application, nettune's forwarder among them, holds them for
// as long as it uses the device; unbinding it then blocks in the kernel
// until the holder lets go, and destroying a VF takes it from under it.
func Holders(r *host.Root, addr string) []string { return NewHolderScan(r).Holders(addr) }

// HolderScan answers Holders for many devices (the VFs of a PF) with one
// walk of /proc/*/fd, made when the first device with a device node asks:
// each walk reads a link per open file of every process.
type HolderScan struct {
	r    *host.Root
	held map[string][]string
}

// NewHolderScan returns a HolderScan of the processes under r.
func NewHolderScan(r *host.Root) *HolderScan { return &HolderScan{r: r} }

// scanOpeners is openers; tests count the walks through it.
var scanOpeners = openers

// Holders is the package's Holders, from the one walk.
func (hs *HolderScan) Holders(addr string) []string {
	r := hs.r
	dev := r.Sys(pciDevices, addr)
	driver := linkBase(filepath.Join(dev, "driver"))
	var nodes []string
	switch {
	case strings.HasPrefix(driver, "vfio"):
		if g := linkBase(filepath.Join(dev, "iommu_group")); g != "" {
			nodes = append(nodes, "/dev/vfio/"+g, "/dev/vfio/noiommu-"+g)
		}
		if ents, err := os.ReadDir(filepath.Join(dev, "vfio-dev")); err == nil {
			for _, e := range ents {
				nodes = append(nodes, "/dev/vfio/devices/"+e.Name())
			}
		}
	case strings.HasPrefix(driver, "uio") || driver == "igb_uio":
		if ents, err := os.ReadDir(filepath.Join(dev, "uio")); err == nil {
			for _, e := range ents {
				nodes = append(nodes, "/dev/"+e.Name())
			}
		}
	}
	if len(nodes) == 0 {
		return nil
	}
	if hs.held == nil {
		hs.held = scanOpeners(r)
	}
	held := hs.held
	var out []string
	for _, n := range nodes {
		if pids := held[n]; len(pids) > 0 {
			out = append(out, fmt.Sprintf("bound to %s and %s is held open by pid %s", driver, n, strings.Join(pids, ", ")))
		}
	}
	return out
}

// openers maps each device node under /dev that a process holds open to
// the pids holding it.
func openers(r *host.Root) map[string][]string {
	out := map[string][]string{}
	procs, _ := os.ReadDir(r.Proc())
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		fds, _ := os.ReadDir(r.Proc(p.Name(), "fd"))
		for _, fd := range fds {
			t, err := os.Readlink(r.Proc(p.Name(), "fd", fd.Name()))
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

// vfInUse refuses to move a VF off its user-space driver while a process
// holds it: the kernel's unbind would block until the holder lets go.
func vfInUse(r *host.Root, addr string) error {
	if PhysFn(r, addr) == "" {
		return nil
	}
	if h := Holders(r, addr); len(h) > 0 {
		return fmt.Errorf("VF %s of %s is in use: %s; stop the process (the forwarder, the DPDK application) and run it again", addr, PhysFn(r, addr), strings.Join(h, "; "))
	}
	return nil
}
