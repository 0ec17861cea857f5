package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

func writeProfile(t *testing.T, name, nicsYAML string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".yaml")
	body := "apiVersion: nettune/v1\nkind: Profile\nmetadata:\n  name: " + name + "\nspec:\n  nics:\n" + nicsYAML
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func txqlen(t *testing.T, root, pci, ifname string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "sys/devices/pci0000:00", pci, "net", ifname, "tx_queue_len"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestApplyNICLeavesOtherNICs: generation 1 tunes eth0 and ens1f0. apply
// --nic eth0 of a profile whose only entry is a glob over every NIC, and
// which no longer names ens1f0's settings, changes eth0 alone: ens1f0 is
// neither tuned by the glob nor returned as an orphan, and the generation
// records eth0's change only. A profile with no entry for the NIC changes
// nothing and records nothing.
func TestApplyNICLeavesOtherNICs(t *testing.T) {
	root := fixture.Unpack(t, nicsFixture)
	both := writeProfile(t, "both", "    - match: {driver: ixgbe}\n      txqueuelen: 2000\n    - match: {name: ens1f0}\n      txqueuelen: 3000\n")
	if r := run(t, "", false, "apply", "--yes", "--root", root, both); r.code != ExitOK {
		t.Fatalf("apply: %d %s", r.code, r.both())
	}
	if a, b := txqlen(t, root, "0000:03:00.0", "eth0"), txqlen(t, root, "0000:3b:00.0", "ens1f0"); a != "2000" || b != "3000" {
		t.Fatalf("after the full apply: eth0 %s, ens1f0 %s", a, b)
	}
	ens1f0 := fixture.Digest(t, filepath.Join(root, "sys/devices/pci0000:00/0000:3b:00.0"))

	glob := writeProfile(t, "glob", "    - match: {name: \"e*\"}\n      txqueuelen: 4000\n")
	r := run(t, "", false, "apply", "--yes", "--nic", "eth0", "-o", "json", "--root", root, glob)
	if r.code != ExitOK {
		t.Fatalf("apply --nic eth0: %d %s", r.code, r.both())
	}
	var doc struct {
		Generation int `json:"generation"`
		Applied    []struct {
			Module, Object, Attribute string
		} `json:"applied"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if doc.Generation != 2 || len(doc.Applied) != 1 || doc.Applied[0].Object != "eth0" {
		t.Fatalf("apply --nic eth0 recorded %+v, want generation 2 with eth0's txqueuelen only", doc)
	}
	if a := txqlen(t, root, "0000:03:00.0", "eth0"); a != "4000" {
		t.Errorf("eth0 txqueuelen %s, want 4000", a)
	}
	if diffs := fixture.DiffDigests(ens1f0, fixture.Digest(t, filepath.Join(root, "sys/devices/pci0000:00/0000:3b:00.0"))); len(diffs) > 0 {
		t.Fatalf("apply --nic eth0 touched ens1f0: %v", diffs)
	}

	// No entry selects eth0: nothing is planned, ens1f0 (set by
	// generation 1, absent from this profile's scope) is left alone.
	other := writeProfile(t, "other", "    - match: {pci: \"0000:af:00.0\"}\n      txqueuelen: 5000\n")
	r = run(t, "", false, "apply", "--yes", "--nic", "eth0", "--root", root, other)
	if r.code != ExitOK || !strings.Contains(r.stdout, "nothing to do") {
		t.Fatalf("apply --nic eth0 of a profile without it: %d %s", r.code, r.both())
	}
	if a := txqlen(t, root, "0000:03:00.0", "eth0"); a != "4000" {
		t.Errorf("eth0 txqueuelen %s after a no-op, want 4000", a)
	}
	if diffs := fixture.DiffDigests(ens1f0, fixture.Digest(t, filepath.Join(root, "sys/devices/pci0000:00/0000:3b:00.0"))); len(diffs) > 0 {
		t.Fatalf("apply --nic eth0 of another profile touched ens1f0: %v", diffs)
	}
	// Reverting the --nic generation gives eth0 generation 1's value back.
	if r := run(t, "", false, "revert", "--yes", "--root", root); r.code != ExitOK {
		t.Fatalf("revert: %d %s", r.code, r.both())
	}
	if a, b := txqlen(t, root, "0000:03:00.0", "eth0"), txqlen(t, root, "0000:3b:00.0", "ens1f0"); a != "2000" || b != "3000" {
		t.Fatalf("after reverting generation 2: eth0 %s, ens1f0 %s; want 2000 and 3000", a, b)
	}
	if r := run(t, "", false, "apply", "--yes", "--nic", "eth0", "--only", "sysctl", "--root", root, both); r.code != ExitError || !strings.Contains(r.stderr, "--nic applies spec.nics only") {
		t.Errorf("--nic with --only sysctl: %d %q", r.code, r.stderr)
	}
}
