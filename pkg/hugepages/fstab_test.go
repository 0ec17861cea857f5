package hugepages

import (
	"strings"
	"testing"
)

func TestSetFstab(t *testing.T) {
	line := fstabLine("/mnt/huge", "pagesize=2M")
	for _, in := range []string{
		"", "UUID=x / ext4 defaults 0 1\n", "UUID=x / ext4 defaults 0 1", "# only a comment",
		"a / ext4 d 0 1\nb /boot ext4 d 0 2",
	} {
		added := setFstab(in, "/mnt/huge", line)
		if ownedLine(added, "/mnt/huge") != line {
			t.Errorf("%q: added %q", in, added)
		}
		if _, ok := foreignEntry(added, "/mnt/huge"); ok || !hasEntry(parseFstab(added), "/mnt/huge") {
			t.Errorf("%q: parse after add: %+v", in, parseFstab(added))
		}
		// Changing the line in place, then removing it, gives the input back.
		changed := setFstab(added, "/mnt/huge", fstabLine("/mnt/huge", "pagesize=1G"))
		if strings.Count(changed, "/mnt/huge hugetlbfs") != 1 {
			t.Errorf("%q: change gave %q", in, changed)
		}
		if back := setFstab(changed, "/mnt/huge", ""); back != in {
			t.Errorf("%q: removal gave %q", in, back)
		}
	}
	// Another mount point's block is left alone.
	two := setFstab(setFstab("", "/a", fstabLine("/a", "pagesize=2M")), "/b", fstabLine("/b", "pagesize=1G"))
	if got := setFstab(two, "/a", ""); got != setFstab("", "/b", fstabLine("/b", "pagesize=1G")) {
		t.Errorf("removing /a: %q", got)
	}
}

func TestParseFstab(t *testing.T) {
	in := "# comment\n  \nUUID=1 / ext4 errors=remount-ro 0 1\n/dev/sdb1 /mnt/my\\040disk vfat defaults\nnodev /mnt/huge hugetlbfs pagesize=1G,mode=01770 0 0\nbad\n"
	e := parseFstab(in)
	if len(e) != 3 || e[1].file != "/mnt/my disk" || e[2].fstype != "hugetlbfs" || e[2].index != 4 {
		t.Errorf("%+v", e)
	}
	if f, ok := foreignEntry(in, "/mnt/huge"); !ok || f.options != "pagesize=1G,mode=01770" {
		t.Errorf("foreign %+v %v", f, ok)
	}
	if _, ok := foreignEntry(setFstab("", "/mnt/huge", fstabLine("/mnt/huge", "pagesize=2M")), "/mnt/huge"); ok {
		t.Error("nettune's own line reported as foreign")
	}
}

func TestMountOpts(t *testing.T) {
	// What the kernel prints in /proc/mounts equals what nettune asked for.
	a := parseMountOpts("rw,relatime,mode=1770,pagesize=1024M", 2048)
	b := parseMountOpts("pagesize=1G,mode=01770,uid=0", 2048)
	if a != b || a.pageKB != 1<<20 || a.mode != 0o1770 {
		t.Errorf("%+v != %+v", a, b)
	}
	if d := parseMountOpts("rw,relatime", 2048); d.pageKB != 2048 || d.mode != 0o755 {
		t.Errorf("defaults %+v", d)
	}
}

func TestEqualBoot(t *testing.T) {
	a := []string{"default_hugepagesz=1G", "hugepagesz=1G", "hugepages=0:2,1:4", "hugepagesz=2M", "hugepages=64"}
	for _, b := range [][]string{
		{"hugepagesz=2M", "hugepages=64", "hugepagesz=1G", "hugepages=1:4,0:2", "default_hugepagesz=1G"},
		{"hugepagesz=2048K", "hugepages=64", "default_hugepagesz=1024M", "hugepagesz=1G", "hugepages=0:2,1:4"},
		// hugepages= before any hugepagesz= is of the default size, 1G here.
		{"default_hugepagesz=1G", "hugepages=0:2,1:4", "hugepagesz=2M", "hugepages=64"},
	} {
		if !equalBoot(a, b) {
			t.Errorf("%q should equal %q", b, a)
		}
	}
	for _, b := range [][]string{
		{"default_hugepagesz=1G", "hugepagesz=1G", "hugepages=6", "hugepagesz=2M", "hugepages=64"},
		{"hugepagesz=1G", "hugepages=0:2,1:4", "hugepagesz=2M", "hugepages=64"},
		{"default_hugepagesz=2M", "hugepages=0:2,1:4", "hugepagesz=2M", "hugepages=64"},
	} {
		if equalBoot(a, b) {
			t.Errorf("%q should differ from %q", b, a)
		}
	}
	// hugepages= without hugepagesz= reserves pages of the default size.
	if !equalBoot([]string{"default_hugepagesz=1G", "hugepages=4"}, []string{"default_hugepagesz=1G", "hugepagesz=1G", "hugepages=4"}) {
		t.Error("hugepages= without hugepagesz= is the default size")
	}
}

func FuzzParseFstab(f *testing.F) {
	f.Add("UUID=1 / ext4 defaults 0 1\nnodev /mnt/a\\040b hugetlbfs pagesize=2M 0 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, e := range parseFstab(s) {
			if e.fstype == "" || strings.ContainsAny(e.fstype, " \t\n") {
				t.Fatalf("bad entry %+v", e)
			}
		}
		// Adding and removing a line always gives the input back.
		if strings.Contains(s, "# Managed by nettune") {
			return
		}
		if back := setFstab(setFstab(s, "/x", fstabLine("/x", "pagesize=2M")), "/x", ""); back != s {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	})
}

func FuzzSelector(f *testing.F) {
	f.Add("always [madvise] never")
	f.Fuzz(func(t *testing.T, s string) {
		choices, sel := ParseSelector(s)
		if sel != "" && !contains(choices, sel) {
			t.Fatalf("%q: selected %q not among %q", s, sel, choices)
		}
	})
}

func hasEntry(es []fstabEntry, file string) bool {
	for _, e := range es {
		if e.file == file {
			return true
		}
	}
	return false
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
