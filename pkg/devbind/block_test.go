package devbind

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/host"
)

// storageTree builds a host with an NVMe disk (p1 /boot by UUID, p2 an LVM
// member of vg-root mounted as /dev/root, p3 swap), a SATA disk whose
// partition is an md member nothing mounts, and an NVMe disk nothing uses.
func storageTree(t *testing.T, mountinfo bool) *host.Root {
	t.Helper()
	dir := t.TempDir()
	file := func(p, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(p, target string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	nvme := "sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1"
	file(nvme+"/dev", "259:0\n")
	for i, p := range []string{"nvme0n1p1", "nvme0n1p2", "nvme0n1p3"} {
		file(nvme+"/"+p+"/dev", "259:"+string(rune('1'+i))+"\n")
		file(nvme+"/"+p+"/partition", string(rune('1'+i))+"\n")
	}
	link(nvme+"/nvme0n1p2/holders/dm-0", "../../../../../../../../virtual/block/dm-0")
	file("sys/devices/virtual/block/dm-0/dev", "253:0\n")
	file("sys/devices/virtual/block/dm-0/dm/name", "vg-root\n")
	link("sys/devices/virtual/block/dm-0/slaves/nvme0n1p2", "../../../../pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1/nvme0n1p2")
	sata := "sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
	file(sata+"/dev", "8:0\n")
	file(sata+"/sda1/dev", "8:1\n")
	file(sata+"/sda1/partition", "1\n")
	file("sys/devices/virtual/block/md0/dev", "9:0\n")
	link("sys/devices/virtual/block/md0/slaves/sda1", "../../../../pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1")
	free := "sys/devices/pci0000:00/0000:00:1c.0/0000:3e:00.0/nvme/nvme1/nvme1n1"
	file(free+"/dev", "259:5\n")
	link("sys/block/nvme0n1", "../devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1")
	link("sys/block/sda", "../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda")
	link("sys/block/nvme1n1", "../devices/pci0000:00/0000:00:1c.0/0000:3e:00.0/nvme/nvme1/nvme1n1")
	link("sys/block/dm-0", "../devices/virtual/block/dm-0")
	link("sys/block/md0", "../devices/virtual/block/md0")
	link("dev/disk/by-uuid/1234-ABCD", "../../nvme0n1p1")
	file("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/mapper/vg-root ro quiet\n")
	file("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/nvme0n1p3                          partition\t8388604\t\t0\t\t-2\n")
	file("proc/mounts", "/dev/root / ext4 rw,relatime 0 0\nUUID=1234-ABCD /boot\\040efi vfat rw 0 0\nproc /proc proc rw 0 0\n")
	if mountinfo {
		file("proc/self/mountinfo", "27 1 253:0 / / rw,relatime - ext4 /dev/root rw\n28 27 259:1 / /boot\\040efi rw - vfat /dev/nvme0n1p1 rw\n22 27 0:21 / /proc rw - proc proc rw\n")
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStorageUses(t *testing.T) {
	for _, mi := range []bool{true, false} {
		r := storageTree(t, mi)
		tree := readBlockTree(r)
		dev := func(addr string) string {
			d, err := realPath(r, r.Sys("devices/pci0000:00", addr))
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(tree.uses(d), "; ")
		}
		want := "backs / (dm-0 (vg-root) on nvme0n1p2); backs /boot efi (nvme0n1p1); backs swap (nvme0n1p3); nvme0n1p2 is a member of dm-0 (vg-root)"
		if got := dev("0000:00:1d.0/0000:3d:00.0"); got != want {
			t.Errorf("mountinfo=%v: nvme0:\n got %s\nwant %s", mi, got, want)
		}
		if got := dev("0000:00:1f.2"); got != "sda1 is a member of md0" {
			t.Errorf("mountinfo=%v: sata: %s", mi, got)
		}
		if got := dev("0000:00:1c.0/0000:3e:00.0"); got != "" {
			t.Errorf("mountinfo=%v: the unused disk: %s", mi, got)
		}
	}
}

func TestParseMountTables(t *testing.T) {
	m := ParseMountInfo(strings.NewReader("36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\nbad line\n"))
	if len(m) != 1 || m[0].Dev != "98:0" || m[0].Target != "/mnt 2" || m[0].Source != "/dev/root" {
		t.Errorf("mountinfo: %+v", m)
	}
	if s := ParseSwaps(strings.NewReader("Filename Type Size Used Priority\n/swap\\040file file 10 0 -2\n")); len(s) != 1 || s[0] != "/swap file" {
		t.Errorf("swaps: %v", s)
	}
}

func FuzzParseMountInfo(f *testing.F) {
	f.Add("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n")
	f.Add("1 2 3 4 5 6 - \\\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range ParseMountInfo(strings.NewReader(s)) {
			_ = m.Source + m.Target
		}
		ParseMounts(strings.NewReader(s))
		ParseSwaps(strings.NewReader(s))
	})
}
