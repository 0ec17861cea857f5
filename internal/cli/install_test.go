package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

// TestInstallRefusesTestBinaryPath: without --binary, install names the
// binary it runs from. A go test binary runs from the build cache's
// temporary directory, as a downloaded nettune runs from /tmp: install
// must refuse it, name a persistent path and --binary, and write nothing.
func TestInstallRefusesTestBinaryPath(t *testing.T) {
	exe, err := os.Executable()
	if err != nil || !strings.HasPrefix(exe, "/tmp/") {
		t.Skipf("the test binary runs from %q, not under /tmp", exe)
	}
	root := fixture.Unpack(t, hostFixture)
	before := fixture.Digest(t, root)
	r := run(t, "", false, "install", "--root", root, profileFile)
	if r.code != ExitError || !strings.Contains(r.stderr, "does not survive a reboot") || !strings.Contains(r.stderr, "/usr/sbin/nettune") || !strings.Contains(r.stderr, "--binary") {
		t.Fatalf("install from %s: %d %q", exe, r.code, r.stderr)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("a refused install wrote: %v", diffs)
	}
}
