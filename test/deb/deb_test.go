// Package deb tests the Debian packages built by scripts/build-deb.sh:
// nettune and nettune-forwarder are installed, used, removed and purged on
// the real host by test.sh.
package deb

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// TestPrivilegedDebInstallPurge builds the nettune and nettune-forwarder
// .debs, installs nettune alone with dpkg -i (every verb works; nettune run
// names the package nettune-forwarder), then the forwarder (nettune run
// finds it and forwards between two net_null ports), then removes and
// purges both and checks that every path of the packages is back to how it
// was (test.sh purges on failure too). Root and dpkg-dev; skipped
// otherwise, and when either package is already installed.
func TestPrivilegedDebInstallPurge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a package and installs it on the host; not in -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: dpkg -i")
	}
	for _, p := range []string{"dpkg", "dpkg-deb", "dpkg-shlibdeps"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("no %s: not a Debian host with dpkg-dev", p)
		}
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(t.Context(), "./test.sh")
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 77 {
		t.Skip(out.String())
	}
	if err != nil {
		t.Fatalf("test/deb/test.sh: %v\n%s", err, out.String())
	}
	t.Log(out.String())
}
