package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

// TestPrivilegedImmutableTarget is the reported reproduction: a target
// that refuses every write (chattr +i) under --root. apply exits 1, names
// the file, changes nothing and keeps no journal; once the file accepts
// writes again, apply works.
func TestPrivilegedImmutableTarget(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (chattr +i)")
	}
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("needs chattr")
	}
	root := fixture.Unpack(t, hostFixture)
	target := filepath.Join(root, "proc/sys/net/core/somaxconn")
	if out, err := exec.Command("chattr", "+i", target).CombinedOutput(); err != nil {
		t.Skipf("the filesystem of %s does not take chattr +i: %v %s", root, err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", target).Run() })
	before := fixture.Digest(t, root)
	r := run(t, "", false, "--root", root, "apply", "--yes", profileFile)
	if r.code != ExitError || !strings.Contains(r.stderr, "/proc/sys/net/core/somaxconn") || !strings.Contains(r.stderr, "nothing was changed") {
		t.Fatalf("apply on an immutable target: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("tree changed: %v", diffs)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/nettune")); err == nil {
		t.Fatal("state directory left behind")
	}
	if r := run(t, "", false, "--root", root, "revert", "--yes"); r.code != ExitError || !strings.Contains(r.stderr, "nothing to revert") {
		t.Fatalf("revert after the refused apply: %d %s", r.code, r.stderr)
	}
	exec.Command("chattr", "-i", target).Run()
	if r := run(t, "", false, "--root", root, "apply", "--yes", profileFile); r.code != ExitOK {
		t.Fatalf("apply once the target accepts writes: %d %s", r.code, r.stderr)
	}
}

// TestPrivilegedReadOnlyMount: /proc/sys read-only as in a container
// (EROFS): apply lists every parameter it cannot write and changes nothing.
func TestPrivilegedReadOnlyMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (bind mounts)")
	}
	root := fixture.Unpack(t, hostFixture)
	sys := filepath.Join(root, "proc/sys")
	if out, err := exec.Command("mount", "--bind", sys, sys).CombinedOutput(); err != nil {
		t.Skipf("bind mount: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", sys).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", sys).CombinedOutput(); err != nil {
		t.Skipf("read-only remount: %v %s", err, out)
	}
	before := fixture.Digest(t, root)
	r := run(t, "", false, "--root", root, "apply", "--yes", profileFile)
	if r.code != ExitError || !strings.Contains(r.stderr, "read-only file system") || strings.Count(r.stderr, "/proc/sys/") < 3 {
		t.Fatalf("apply on a read-only /proc/sys: %d\n%s", r.code, r.stderr)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("tree changed: %v", diffs)
	}
}

// TestUnprivilegedRightsListed: as a user who cannot write the targets,
// apply lists every missing right and changes nothing (runs when the tests
// run as non-root; as root the read-only mount test covers the same path).
func TestUnprivilegedRightsListed(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write 0444 files; TestPrivilegedReadOnlyMount covers the preflight as root")
	}
	root := fixture.Unpack(t, hostFixture)
	for _, p := range []string{"proc/sys/net/core/somaxconn", "proc/sys/vm/swappiness"} {
		if err := os.Chmod(filepath.Join(root, p), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	before := fixture.Digest(t, root)
	r := run(t, "", false, "--root", root, "apply", "--yes", profileFile)
	if r.code != ExitError || !strings.Contains(r.stderr, "somaxconn") || !strings.Contains(r.stderr, "swappiness") {
		t.Fatalf("apply without write access: %d\n%s", r.code, r.stderr)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("tree changed: %v", diffs)
	}
}
