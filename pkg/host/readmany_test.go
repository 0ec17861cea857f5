package host

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestReadStringsInOrder: results line up with the paths, errors stay
// with their file, in the sequential and the parallel case.
func TestReadStringsInOrder(t *testing.T) {
	dir := t.TempDir()
	r, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 1000} {
		var paths []string
		for i := 0; i < n; i++ {
			p := filepath.Join(dir, fmt.Sprintf("f%d", i))
			if i%7 != 3 {
				if err := os.WriteFile(p, []byte(fmt.Sprintf("%d\n", i)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			paths = append(paths, p)
		}
		for i, res := range r.ReadStrings(paths) {
			switch {
			case i%7 == 3 && !IsNotExist(res.Err):
				t.Fatalf("n=%d: file %d is missing, got %q, %v", n, i, res.S, res.Err)
			case i%7 != 3 && (res.Err != nil || res.S != fmt.Sprint(i)):
				t.Fatalf("n=%d: file %d = %q, %v", n, i, res.S, res.Err)
			}
		}
		for _, p := range paths {
			os.Remove(p)
		}
	}
}

// TestReadStringsStaysInRoot: the parallel reads resolve inside the root
// like every read.
func TestReadStringsStaysInRoot(t *testing.T) {
	dir := t.TempDir()
	r, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	paths := make([]string, 100)
	for i := range paths {
		paths[i] = filepath.Join(dir, "out")
	}
	for _, res := range r.ReadStrings(paths) {
		if res.Err == nil {
			t.Fatalf("read %q through a link out of the root", res.S)
		}
	}
}
