package systemd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
)

// TestInstallRefusesVolatileBinary: install wrote ExecStart with whatever
// path nettune ran from (/tmp after a download), which is gone at the next
// boot. Paths under directories emptied at boot, missing files and files
// root cannot run are refused, naming a persistent path and --binary.
func TestInstallRefusesVolatileBinary(t *testing.T) {
	root := fixture.Unpack(t, "testdata/host.txtar")
	r, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(r.Path("/opt/nt"), 0o755)
	os.WriteFile(r.Path("/opt/nt/nettune"), []byte("#!/bin/sh\n"), 0o644)
	for _, bin := range []string{"/tmp/nettune", "/var/tmp/x/nettune", "/dev/shm/nettune", "/run/nettune", "/opt/nt/nettune", "/opt/nt/missing", "opt/nt/nettune", "/opt/my nettune"} {
		_, err := Install(context.Background(), r, bin, []byte(testProfile))
		if err == nil {
			t.Errorf("%s: accepted", bin)
			continue
		}
		if !strings.Contains(err.Error(), PersistentBinary) || !strings.Contains(err.Error(), "--binary") {
			t.Errorf("%s: %v; the error names neither %s nor --binary", bin, err, PersistentBinary)
		}
		if _, err := os.Stat(r.Path(ApplyUnit)); err == nil {
			t.Fatalf("%s: a unit was written although install refused", bin)
		}
	}
	if _, err := Install(context.Background(), r, "/usr/local/sbin/nettune", []byte(testProfile)); err != nil {
		t.Fatalf("an executable under /usr/local/sbin: %v", err)
	}
}

// TestMemoryFS: the live check of the binary's filesystem (statfs magic)
// knows tmpfs.
func TestMemoryFS(t *testing.T) {
	if fs, ok := memoryFS("/dev/shm"); !ok || fs != "tmpfs" {
		var st os.FileInfo
		if st, _ = os.Stat("/dev/shm"); st == nil {
			t.Skip("no /dev/shm")
		}
		t.Errorf("/dev/shm: %q %v, want tmpfs", fs, ok)
	}
	if fs, ok := memoryFS("/usr/bin"); ok {
		t.Errorf("/usr/bin reported on %s", fs)
	}
}

// TestDocumentationOnlyNamesInstalledManPage: Documentation=man:nettune(8)
// led nowhere when the man page was not installed; it is named only when
// it is, and the docs URL is named always.
func TestDocumentationOnlyNamesInstalledManPage(t *testing.T) {
	root := fixture.Unpack(t, "testdata/host.txtar")
	r, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	doc := func() string {
		t.Helper()
		if _, err := Install(context.Background(), r, "/usr/local/sbin/nettune", []byte(testProfile)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(r.Path(ApplyUnit))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Documentation=") {
				return l
			}
		}
		t.Fatalf("no Documentation= in\n%s", b)
		return ""
	}
	if d := doc(); d != "Documentation="+DocsURL {
		t.Errorf("without a man page: %s", d)
	}
	page := r.Path("/usr/share/man/man8/nettune.8.gz")
	os.MkdirAll(filepath.Dir(page), 0o755)
	os.WriteFile(page, []byte("x"), 0o644)
	if d := doc(); d != "Documentation=man:nettune(8) "+DocsURL {
		t.Errorf("with the man page: %s", d)
	}
}
