package devbind

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseOwner(t *testing.T) {
	if o, err := ParseOwner("1000:27"); err != nil || o != (Owner{1000, 27}) || o.String() != "1000:27" {
		t.Errorf("ParseOwner = %v, %v", o, err)
	}
	for _, bad := range []string{"", "1000", ":", "1:", ":1", "-1:0", "0:-1", "a:b", "1:2:3", " 1:2"} {
		if o, err := ParseOwner(bad); err == nil {
			t.Errorf("ParseOwner(%q) = %v", bad, o)
		}
	}
}

// FuzzParseOwner: an accepted owner (the uid:gid of a VFIO group node) has
// non-negative ids, and String's spelling of it parses back to it; a plain
// "uid:gid" of decimal numbers is accepted as written.
func FuzzParseOwner(f *testing.F) {
	f.Add("1000:1000")
	f.Add("+0:00")
	f.Add("1:2:3")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOwner(s)
		if err == nil {
			if o.UID < 0 || o.GID < 0 {
				t.Fatalf("%q: negative owner %v", s, o)
			}
			if back, err := ParseOwner(o.String()); err != nil || back != o {
				t.Fatalf("%q -> %v -> %v, %v", s, o, back, err)
			}
		}
		u, g, ok := strings.Cut(s, ":")
		if !ok || !plainUint(u) || !plainUint(g) {
			return
		}
		uid, err1 := strconv.Atoi(u)
		gid, err2 := strconv.Atoi(g)
		if err1 == nil && err2 == nil && (err != nil || o != Owner{uid, gid}) {
			t.Fatalf("%q parsed as %v, %v", s, o, err)
		}
	})
}

func plainUint(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
