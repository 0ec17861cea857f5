package hugepages

import (
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/profile"
)

// FuzzMountOpts: the options nettune writes for a hugetlbfs mount read
// back as the same page size, mode and owner, also with the options the
// kernel adds in /proc/mounts around them; and any option string parses
// to a page size (the default when it names none or a bad one).
func FuzzMountOpts(f *testing.F) {
	f.Add(uint8(20), uint16(0o1770), uint32(1000), uint32(0), true, true, false, "rw,relatime")
	f.Add(uint8(11), uint16(0), uint32(0), uint32(0), false, false, false, "pagesize=0K,mode=9,uid=-1,gid=x")
	f.Fuzz(func(t *testing.T, page uint8, mode uint16, uid, gid uint32, hasMode, hasUID, hasGID bool, noise string) {
		if got := parseMountOpts(noise, 2048); got.pageKB == 0 {
			t.Fatalf("%q: page size 0", noise)
		}
		m := mountOpts{pageKB: 1 << (page % 21), mode: 0o755}
		var given profile.HugetlbfsMount
		if hasMode {
			m.mode, given.Mode = uint32(mode&0o7777), "set"
		}
		if hasUID {
			m.uid, given.UID = int(uid>>1), new(int)
		}
		if hasGID {
			m.gid, given.GID = int(gid>>1), new(int)
		}
		opts := m.options(given)
		if got := parseMountOpts(opts, 2048); got != m {
			t.Fatalf("%q read back as %+v, want %+v", opts, got, m)
		}
		if strings.ContainsAny(noise, "=") {
			return // noise could set an option itself
		}
		mounts := "rw," + opts + "," + noise
		if got := parseMountOpts(mounts, 2048); got != m {
			t.Fatalf("%q read back as %+v, want %+v", mounts, got, m)
		}
	})
}
