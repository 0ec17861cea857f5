package devbind

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nettune/nettune/pkg/host"
)

// TestHolderScanWalksOnce: the holders of many devices come from one walk
// of /proc/*/fd, made only when a device has a node to look for, and each
// device gets its own holders.
func TestHolderScanWalksOnce(t *testing.T) {
	dir := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	mk("sys/bus/pci/drivers/vfio-pci")
	mk("sys/bus/pci/drivers/igbvf")
	mk("sys/kernel/iommu_groups")
	var vfs []string
	for i := 0; i < 4; i++ {
		addr := fmt.Sprintf("0000:03:10.%d", i)
		vfs = append(vfs, addr)
		mk("sys/bus/pci/devices/" + addr)
		driver := "vfio-pci"
		if i == 3 {
			driver = "igbvf" // a kernel driver: no node to look for
		}
		link("../../../bus/pci/drivers/"+driver, "sys/bus/pci/devices/"+addr+"/driver")
		mk(fmt.Sprintf("sys/kernel/iommu_groups/%d", 20+i))
		link(fmt.Sprintf("../../../kernel/iommu_groups/%d", 20+i), "sys/bus/pci/devices/"+addr+"/iommu_group")
	}
	mk("proc/4242/fd")
	link("/dev/vfio/21", "proc/4242/fd/7")
	mk("proc/77/fd")
	link("/dev/null", "proc/77/fd/0")
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	walks := 0
	scanOpeners = func(r *host.Root) map[string][]string { walks++; return openers(r) }
	t.Cleanup(func() { scanOpeners = openers })

	hs := NewHolderScan(r)
	if h := hs.Holders(vfs[3]); len(h) != 0 || walks != 0 {
		t.Fatalf("a VF on a kernel driver: holders %v after %d walks", h, walks)
	}
	for i, vf := range vfs[:3] {
		h := hs.Holders(vf)
		want := 0
		if i == 1 {
			want = 1
		}
		if len(h) != want {
			t.Errorf("%s: holders %v", vf, h)
		}
		if want == 1 && h[0] != "bound to vfio-pci and /dev/vfio/21 is held open by pid 4242" {
			t.Errorf("%s: %q", vf, h[0])
		}
	}
	if walks != 1 {
		t.Errorf("%d walks of /proc for 3 VFs, want 1", walks)
	}
	if h := Holders(r, vfs[1]); len(h) != 1 || walks != 2 {
		t.Errorf("Holders alone: %v after %d walks", h, walks)
	}
}
