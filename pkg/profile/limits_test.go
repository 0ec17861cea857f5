package profile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRefusesLargeFile: a profile file above MaxFileSize is refused
// with its name and the limit, before it is read whole: given directly,
// through extends, as bytes, and as an endless file.
func TestLoadRefusesLargeFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	data := []byte(header + "spec: {}\n" + strings.Repeat("# padding padding padding padding\n", MaxFileSize/34+1))
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, "child.yaml")
	if err := os.WriteFile(child, []byte("extends: big.yaml\n"+header+"spec: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "larger than 1048576 bytes (1 MiB), the limit for a profile file"
	for _, tc := range []struct {
		name string
		load func() error
		file string
	}{
		{"file", func() error { _, err := Load(big); return err }, big},
		{"extends", func() error { _, err := Load(child); return err }, big},
		{"bytes", func() error { _, err := Parse("stdin", data); return err }, "stdin"},
		{"endless", func() error { _, err := Load("/dev/zero"); return err }, "/dev/zero"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.file == "/dev/zero" {
				if _, err := os.Stat(tc.file); err != nil {
					t.Skip("no /dev/zero")
				}
			}
			err := tc.load()
			if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), tc.file+": ") {
				t.Fatalf("error = %v, want %q naming %s", err, want, tc.file)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
		})
	}
	// At the limit, a file is read.
	ok := append([]byte(header+"spec: {}\n"), []byte(strings.Repeat("#", MaxFileSize-len(header)-len("spec: {}\n")))...)
	if len(ok) != MaxFileSize {
		t.Fatalf("test file is %d bytes", len(ok))
	}
	at := filepath.Join(dir, "at.yaml")
	if err := os.WriteFile(at, ok, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(at); err != nil {
		t.Errorf("a file of exactly MaxFileSize: %v", err)
	}
}
