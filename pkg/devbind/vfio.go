package devbind

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
)

// Chowner is implemented by a host.Writer that can change file ownership
// (host.OSWriter, which resolves the path inside the root, the PCI
// simulator, fixture.FailingWriter). host.Writer has no Chown; the devbind
// writes that need it (/dev/vfio nodes) go through the Writer's, never
// around it, so that nothing escapes the root or the tests' fault
// injection.
type Chowner interface {
	Chown(path string, uid, gid int) error
}

// Chmoder is implemented by a host.Writer that can change file modes (the
// PCI simulator). host.Writer has none; on the live host, where the writer
// is the plain OS one, the mode is changed directly.
type Chmoder interface {
	Chmod(path string, mode fs.FileMode) error
}

func chmod(r *host.Root, p string, mode fs.FileMode) error {
	if c, ok := r.W.(Chmoder); ok {
		return c.Chmod(p, mode)
	}
	if !r.Live() {
		return fmt.Errorf("chmod %s to %04o: the writer (%T) cannot change modes: %w", p, mode, r.W, module.ErrUnsupported)
	}
	if err := os.Chmod(p, mode); err != nil {
		return fmt.Errorf("chmod %s to %04o: %w", p, mode, err)
	}
	return nil
}

// setMode changes the mode of a device's VFIO group node and reads it
// back.
func setMode(r *host.Root, addr string, mode fs.FileMode) error {
	node := groupNode(r, addr)
	if node == "" {
		return fmt.Errorf("%s has no IOMMU group: is it bound to vfio-pci?", addr)
	}
	p := r.Path(node)
	if st, err := os.Stat(p); err == nil && st.Mode().Perm() == mode {
		return nil
	}
	if err := requireKernel(r); err != nil {
		return err
	}
	if err := chmod(r, p, mode); err != nil {
		return err
	}
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("read back mode of %s: %w", node, err)
	}
	if st.Mode().Perm() != mode {
		return fmt.Errorf("%s: mode is %04o after chmod to %04o: %w", node, st.Mode().Perm(), mode, module.ErrVerify)
	}
	return nil
}

func chown(r *host.Root, p string, uid, gid int) error {
	c, ok := r.W.(Chowner)
	if !ok {
		return fmt.Errorf("chown %s to %d:%d: the writer (%T) cannot change owners: %w", p, uid, gid, r.W, module.ErrUnsupported)
	}
	return c.Chown(p, uid, gid)
}

// Owner is the uid:gid of a file, as "1000:1000".
type Owner struct{ UID, GID int }

func (o Owner) String() string { return fmt.Sprintf("%d:%d", o.UID, o.GID) }

// ParseOwner reads "uid:gid".
func ParseOwner(s string) (Owner, error) {
	u, g, ok := strings.Cut(s, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return Owner{}, fmt.Errorf("bad owner %q: want uid:gid", s)
	}
	return Owner{uid, gid}, nil
}

func ownerOf(p string) (Owner, error) {
	st, err := os.Stat(p)
	if err != nil {
		return Owner{}, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return Owner{}, fmt.Errorf("stat %s: no owner information", p)
	}
	return Owner{int(sys.Uid), int(sys.Gid)}, nil
}

// groupNode returns the host path of the VFIO group character device a
// device bound to vfio-pci is used through: /dev/vfio/<group>, or
// /dev/vfio/noiommu-<group> in no-IOMMU mode. It is "" while the device
// has no group.
func groupNode(r *host.Root, addr string) string {
	g := linkBase(r.Sys(pciDevices, addr, "iommu_group"))
	if g == "" {
		return ""
	}
	for _, name := range []string{g, "noiommu-" + g} {
		if _, err := os.Stat(r.Dev("vfio", name)); err == nil {
			return filepath.Join("/dev/vfio", name)
		}
	}
	return filepath.Join("/dev/vfio", g)
}

// setOwner chowns a device's VFIO group node and reads the owner back.
func setOwner(r *host.Root, addr string, o Owner) error {
	node := groupNode(r, addr)
	if node == "" {
		return fmt.Errorf("%s has no IOMMU group: is it bound to vfio-pci?", addr)
	}
	p := r.Path(node)
	if cur, err := ownerOf(p); err == nil && cur == o {
		return nil
	}
	if err := requireKernel(r); err != nil {
		return err
	}
	if err := chown(r, p, o.UID, o.GID); err != nil {
		return err
	}
	got, err := ownerOf(p)
	if err != nil {
		return fmt.Errorf("read back owner of %s: %w", node, err)
	}
	if got != o {
		return fmt.Errorf("%s: owner is %s after chown to %s: %w", node, got, o, module.ErrVerify)
	}
	return nil
}

// setNoIOMMU writes vfio's enable_unsafe_noiommu_mode ("Y" or "N") and
// reads it back. The parameter exists once vfio is loaded.
func setNoIOMMU(r *host.Root, v string) error {
	p := r.Path(noIOMMUParam)
	if cur, err := r.ReadString(p); err == nil && strings.TrimSpace(cur) == v {
		return nil
	}
	if err := requireKernel(r); err != nil {
		return err
	}
	if !r.Exists(p) {
		return fmt.Errorf("set %s to %q: vfio is loaded but has no such parameter: this kernel was built without CONFIG_VFIO_NOIOMMU, so vfio-pci cannot take devices on a host without IOMMU; use uio_pci_generic instead: %w", noIOMMUParam, v, module.ErrUnsupported)
	}
	if err := r.W.WriteKernel(p, v); err != nil {
		return err
	}
	got, err := r.ReadString(p)
	if err != nil {
		return fmt.Errorf("read back %s: %w", noIOMMUParam, err)
	}
	if strings.TrimSpace(got) != v {
		return fmt.Errorf("%s: wrote %q, kernel reads back %q: %w", noIOMMUParam, v, got, module.ErrVerify)
	}
	return nil
}

// Support is a yes, no or unknown answer with the evidence.
type Support struct {
	// Known is false when nothing said either way.
	Known, Yes bool
	Why        string
}

// Has reports whether the feature is present or may be (unknown).
func (s Support) Has() bool { return !s.Known || s.Yes }

// noIOMMUSupport tells whether vfio has its no-IOMMU mode
// (CONFIG_VFIO_NOIOMMU): with vfio loaded, by the presence of its
// parameter; otherwise from the kernel's config (/boot/config-RELEASE,
// /proc/config.gz).
func noIOMMUSupport(r *host.Root) Support {
	if r.Exists(r.Path("/sys/module/vfio")) {
		if r.Exists(r.Path(noIOMMUParam)) {
			return Support{Known: true, Yes: true, Why: "vfio has enable_unsafe_noiommu_mode"}
		}
		return Support{Known: true, Why: "vfio is loaded without " + noIOMMUParam + ", so the kernel was built without CONFIG_VFIO_NOIOMMU"}
	}
	rel, _ := r.ReadString(r.Proc("sys/kernel/osrelease"))
	var configs [][]byte
	if rel = strings.TrimSpace(rel); rel != "" {
		if b, err := r.ReadFile(r.Path("/boot/config-" + rel)); err == nil {
			configs = append(configs, b)
		}
	}
	if b, err := r.ReadFile(r.Proc("config.gz")); err == nil {
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if data, err := io.ReadAll(io.LimitReader(zr, 16<<20)); err == nil {
				configs = append(configs, data)
			}
		}
	}
	for _, c := range configs {
		switch KernelConfig(string(c), "CONFIG_VFIO_NOIOMMU") {
		case "y":
			return Support{Known: true, Yes: true, Why: "CONFIG_VFIO_NOIOMMU=y"}
		case "":
			return Support{Known: true, Why: "the kernel config does not set CONFIG_VFIO_NOIOMMU"}
		}
	}
	return Support{Why: "vfio is not loaded and the kernel config was not found"}
}

// KernelConfig returns an option's value in a kernel .config ("y", "m",
// a string), "" when it is not set or absent.
func KernelConfig(config, option string) string {
	for _, line := range strings.Split(config, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), option+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
