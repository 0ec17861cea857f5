package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

func TestCheckRefusesNegativeInterval(t *testing.T) {
	root := fixture.Unpack(t, "../../pkg/diagnose/testdata/quiet.txtar")
	r := run(t, "", false, "check", "--interval", "-3s", "--root", root)
	if r.code != ExitError || !strings.Contains(r.stderr, "invalid --interval -3s") {
		t.Fatalf("check --interval -3s: exit %d\n%s", r.code, r.both())
	}
}

// TestCheckBootArgsIgnored: a kernel booted with hugepages it did not
// reserve is drift (exit 2), not ok.
func TestCheckBootArgsIgnored(t *testing.T) {
	root := fixture.Unpack(t, "../../pkg/diagnose/testdata/quiet.txtar")
	fixture.Overwrite(t, filepath.Join(root, "proc/cmdline"), []byte("BOOT_IMAGE=/vmlinuz hugepagesz=1G hugepages=4\n"))
	os.MkdirAll(filepath.Join(root, "sys/kernel/mm/hugepages/hugepages-1048576kB"), 0o755)
	fixture.Overwrite(t, filepath.Join(root, "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"), []byte("0\n"))
	r := run(t, "", false, "check", "--interval", "0", "--root", root)
	if r.code != ExitDrift || !strings.Contains(r.stdout, "booted to reserve 4 1G pages but the kernel holds 0") {
		t.Fatalf("exit %d\n%s", r.code, r.both())
	}
}
