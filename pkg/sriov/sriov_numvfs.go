package sriov

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/profile"
)

const pciDevices = "/sys/bus/pci/devices"

// PF is a physical function as sysfs shows it.
type PF struct {
	Address string
	// Ifname is its network interface ("" when it has none: bound to
	// vfio-pci, or no driver).
	Ifname string
	Driver string
	// Total is sriov_totalvfs, Num sriov_numvfs.
	Total, Num int
	// Autoprobe is sriov_drivers_autoprobe ("1" or "0"; "" when the
	// kernel has no such file).
	Autoprobe string
}

func attrPath(pf, attr string) string { return filepath.Join(pciDevices, pf, attr) }

func readInt(r *host.Root, p string) (int, error) {
	s, err := r.ReadString(r.Path(p))
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", p, err)
	}
	return n, nil
}

// resolvePF finds the PCI address of a PF named by address or interface.
func resolvePF(r *host.Root, arg string) (string, error) {
	if profile.IsPCIAddress(arg) {
		a := profile.NormalizePCI(arg)
		if !r.Exists(r.Path(filepath.Join(pciDevices, a))) {
			return "", fmt.Errorf("PCI device %s does not exist", a)
		}
		return a, nil
	}
	l, err := os.Readlink(r.Path(filepath.Join("/sys/class/net", arg, "device")))
	if err != nil {
		return "", fmt.Errorf("interface %s has no PCI device", arg)
	}
	return filepath.Base(l), nil
}

// ObservePF reads a PF's SR-IOV state.
func ObservePF(r *host.Root, arg string) (*PF, error) {
	addr, err := resolvePF(r, arg)
	if err != nil {
		return nil, err
	}
	pf := &PF{Address: addr}
	if pf.Total, err = readInt(r, attrPath(addr, "sriov_totalvfs")); err != nil {
		if host.IsNotExist(err) {
			return nil, fmt.Errorf("%s is not SR-IOV capable (it has no sriov_totalvfs)", addr)
		}
		return nil, err
	}
	if pf.Num, err = readInt(r, attrPath(addr, "sriov_numvfs")); err != nil {
		return nil, err
	}
	if s, err := r.ReadString(r.Path(attrPath(addr, "sriov_drivers_autoprobe"))); err == nil {
		pf.Autoprobe = strings.TrimSpace(s)
	}
	if l, err := os.Readlink(r.Path(attrPath(addr, "driver"))); err == nil {
		pf.Driver = filepath.Base(l)
	}
	if ents, err := os.ReadDir(r.Path(attrPath(addr, "net"))); err == nil && len(ents) > 0 {
		pf.Ifname = ents[0].Name()
	}
	return pf, nil
}

// Capable lists the SR-IOV capable devices of a root, for messages.
func Capable(r *host.Root) []string {
	ents, _ := os.ReadDir(r.Path(pciDevices))
	var out []string
	for _, e := range ents {
		if total, err := readInt(r, attrPath(e.Name(), "sriov_totalvfs")); err == nil && total > 0 {
			out = append(out, fmt.Sprintf("%s (sriov_totalvfs %d)", e.Name(), total))
		}
	}
	sort.Strings(out)
	return out
}

// throughZero reports whether going from cur to want VFs needs the count
// set to 0 first: the kernel refuses to change a non-zero count to another
// non-zero one (sriov_numvfs_store: "%d VFs already enabled. Disable before
// enabling %d VFs", EBUSY).
func throughZero(cur, want int) bool { return cur != 0 && want != 0 && cur != want }

// removed returns the indexes of the VFs that going from cur to want VFs
// destroys: all of them through 0, the top ones when the count goes down
// to 0.
func removed(cur, want int) []int {
	var out []int
	from := want
	if throughZero(cur, want) {
		from = 0
	}
	for i := from; i < cur; i++ {
		out = append(out, i)
	}
	return out
}

// setNumVFs writes sriov_numvfs, through 0 when the kernel demands it, and
// reads the count back.
func setNumVFs(r *host.Root, pf string, want int) error {
	p := attrPath(pf, "sriov_numvfs")
	cur, err := readInt(r, p)
	if err != nil {
		return err
	}
	if cur == want {
		return nil
	}
	if throughZero(cur, want) {
		if err := r.W.WriteKernel(r.Path(p), "0"); err != nil {
			return fmt.Errorf("remove the %d VFs of %s before creating %d: %w", cur, pf, want, err)
		}
	}
	if err := r.W.WriteKernel(r.Path(p), strconv.Itoa(want)); err != nil {
		return err
	}
	got, err := readInt(r, p)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s reads %d after writing %d: %w", p, got, want, module.ErrVerify)
	}
	if n := len(devbind.VirtFns(r, pf)); n != want && r.Live() {
		return fmt.Errorf("%s has %d virtfn links after setting sriov_numvfs to %d: %w", pf, n, want, module.ErrVerify)
	}
	return nil
}

// setAutoprobe writes sriov_drivers_autoprobe and reads it back.
func setAutoprobe(r *host.Root, pf, value string) error {
	p := attrPath(pf, "sriov_drivers_autoprobe")
	if err := r.W.WriteKernel(r.Path(p), value); err != nil {
		return err
	}
	s, err := r.ReadString(r.Path(p))
	if err != nil {
		return err
	}
	if strings.TrimSpace(s) != value {
		return fmt.Errorf("%s reads %q after writing %q: %w", p, strings.TrimSpace(s), value, module.ErrVerify)
	}
	return nil
}
