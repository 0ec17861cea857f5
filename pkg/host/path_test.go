package host

import (
	"path/filepath"
	"testing"
)

// FuzzRootPath: Path's fast path for clean paths gives what joining and
// cleaning gives, for any path and prefix.
func FuzzRootPath(f *testing.F) {
	for _, s := range []string{"/sys/class/net/eth0/queues/rx-0/rps_cpus", "/", "", "//a", "/a/", "/a/./b", "/a/../b", "/..", "/.", "a/b", "/a//b", "/.a/..b/...", "/a/.."} {
		f.Add("/tmp/root", s)
		f.Add("/", s)
	}
	f.Add("/tmp/root/", "/a")
	f.Add("/tmp/../root", "/a")
	f.Fuzz(func(t *testing.T, prefix, abs string) {
		if prefix == "" || prefix[0] != '/' {
			return // New makes the prefix absolute
		}
		r := &Root{Prefix: prefix}
		want := filepath.Join(prefix, filepath.Clean("/"+abs))
		if prefix == "/" {
			want = filepath.Clean("/" + abs)
		}
		if got := r.Path(abs); got != want {
			t.Fatalf("Root{%q}.Path(%q) = %q, want %q", prefix, abs, got, want)
		}
		if isCleanAbs(abs) != (abs != "" && abs[0] == '/' && filepath.Clean(abs) == abs) {
			t.Fatalf("isCleanAbs(%q) = %v", abs, isCleanAbs(abs))
		}
	})
}
