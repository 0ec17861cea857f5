package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

// TestOnlyKeepsTheWholeProfileInView: --only chooses which sections are
// applied, not what the others look like. irqbalance's ban list is made
// from the IRQs spec.nics pins; 'apply --only irqbalance' (what each
// NIC's boot unit runs) used to see a profile stripped of spec.nics and
// wrote a ban list without them, undoing what a full apply had written.
func TestOnlyKeepsTheWholeProfileInView(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(prof, []byte(`apiVersion: nettune/v1
kind: Profile
metadata: {name: only}
spec:
  nics:
    - match: {driver: ixgbe}
      irqAffinity: {cpus: 1-3}
  irqbalance:
    mode: ban
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ban := func(args ...string) string {
		t.Helper()
		root := fixture.Unpack(t, "../../pkg/nics/testdata/multi.txtar")
		r := run(t, "", false, append([]string{"apply", "--yes", "--root", root}, append(args, prof)...)...)
		if r.code != ExitOK {
			t.Fatalf("apply %v: exit %d\n%s", args, r.code, r.both())
		}
		b, err := os.ReadFile(filepath.Join(root, "etc/default/irqbalance"))
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(b), "# BEGIN nettune")
		if i < 0 {
			t.Fatalf("apply %v wrote no block:\n%s", args, b)
		}
		return string(b[i:])
	}
	full, only := ban(), ban("--only", "irqbalance")
	if !strings.Contains(full, "1-3") {
		t.Fatalf("a full apply bans no pinned CPU:\n%s", full)
	}
	if only != full {
		t.Errorf("--only irqbalance wrote another ban list than a full apply:\n%s\nfull apply:\n%s", only, full)
	}
}
