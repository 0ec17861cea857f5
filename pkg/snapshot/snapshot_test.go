package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

func TestTake(t *testing.T) {
	src := fixture.Unpack(t, "testdata/host.txtar")
	if err := os.WriteFile(filepath.Join(src, "proc/sys/net/core/binary"), []byte("a\x00b"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "snap")
	st, err := Take(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"proc/sys/net/core/somaxconn",
		"proc/sys/kernel/osrelease",
		"proc/cmdline",
		"etc/sysctl.d/10-a.conf",
		// reached through the /sys/class/net link
		"sys/devices/pci0000:00/0000:00:03.0/net/eth0/mtu",
		"sys/devices/pci0000:00/0000:00:03.0/net/eth0/queues/rx-0/rps_cpus",
		"var/lib",
	} {
		if _, err := os.Stat(filepath.Join(dst, p)); err != nil {
			t.Errorf("%s not copied: %v", p, err)
		}
	}
	for _, p := range []string{
		"proc/sys/kernel/random/boot_id", // secret
		"proc/sys/net/ipv4/route/flush",  // write-only
		"proc/sys/net/core/binary",       // binary
		"etc/unrelated.conf",             // not something nettune reads
		"sys/devices/pci0000:00/0000:00:03.0/deep/deeper/deepest/file",
	} {
		if _, err := os.Lstat(filepath.Join(dst, p)); err == nil {
			t.Errorf("%s copied", p)
		}
	}
	if l, err := os.Readlink(filepath.Join(dst, "sys/class/net/eth0")); err != nil || l != "../../devices/pci0000:00/0000:00:03.0/net/eth0" {
		t.Errorf("link = %q, %v", l, err)
	}
	if info, err := os.Stat(filepath.Join(dst, "proc/sys/kernel/osrelease")); err != nil || info.Mode().Perm() != 0o444 {
		t.Errorf("read-only sysctl mode not kept: %v %v", info.Mode(), err)
	}
	if st.Files == 0 || st.Links == 0 || st.Skipped < 2 {
		t.Errorf("stats %+v", st)
	}
}
