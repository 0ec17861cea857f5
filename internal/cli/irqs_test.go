package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

const (
	nicsFixture = "../../pkg/nics/testdata/multi.txtar"
	nicsProfile = "../../pkg/nics/testdata/profiles/multi.yaml"
)

func TestIRQsOnFixture(t *testing.T) {
	root := fixture.Unpack(t, nicsFixture)
	r := run(t, "", false, "irqs", "--root", root)
	if r.code != ExitOK {
		t.Fatalf("irqs: %d %s", r.code, r.stderr)
	}
	golden(t, "irqs", r.stdout)

	r = run(t, "", false, "irqs", "--root", root, "-o", "json", "enp175s0f0")
	if r.code != ExitOK {
		t.Fatalf("irqs -o json: %d %s", r.code, r.stderr)
	}
	var doc struct {
		FormatVersion string `json:"format_version"`
		Kind          string `json:"kind"`
		IRQs          []struct {
			NIC       string `json:"nic"`
			Queue     string `json:"queue"`
			IRQ       int    `json:"irq"`
			Node      int    `json:"node"`
			Requested string `json:"requested"`
			Effective string `json:"effective"`
			CPUNodes  []int  `json:"cpuNodes"`
		} `json:"irqs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if doc.FormatVersion != "1" || doc.Kind != "irqs" || len(doc.IRQs) != 5 {
		t.Fatalf("irqs -o json = %+v", doc)
	}
	if q := doc.IRQs[0]; q.NIC != "enp175s0f0" || q.Queue != "comp0" || q.IRQ != 89 || q.Node != 1 || q.Requested != "0-7" || q.Effective != "4" || len(q.CPUNodes) != 1 || q.CPUNodes[0] != 1 {
		t.Errorf("first row = %+v", q)
	}

	r = run(t, "", false, "irqs", "--root", root, "wlan*")
	if r.code != ExitError || !strings.Contains(r.stderr, `no NIC matches "wlan*"; NICs on this host: enp175s0f0`) {
		t.Errorf("unknown NIC: %d %q", r.code, r.stderr)
	}
}

// TestNICsRoundTrip drives the nics and irqbalance modules through the
// CLI on the multi-NIC fixture: plan, apply, check in sync, irqs shows the
// pinning, revert leaves the tree byte-identical.
func TestNICsRoundTrip(t *testing.T) {
	root := fixture.Unpack(t, nicsFixture)
	before := fixture.Digest(t, root)
	r := run(t, "", false, "plan", "--root", root, nicsProfile)
	if r.code != ExitOK {
		t.Fatalf("plan: %d %s\n%s", r.code, r.stderr, r.stdout)
	}
	golden(t, "nics-plan", r.both())
	if r = run(t, "", false, "apply", "--yes", "--root", root, nicsProfile); r.code != ExitOK {
		t.Fatalf("apply: %d %s\n%s", r.code, r.stderr, r.stdout)
	}
	if r = run(t, "", false, "check", "--interval", "0", "--root", root, nicsProfile); r.code != ExitOK {
		t.Fatalf("check after apply: %d %s\n%s", r.code, r.stderr, r.stdout)
	}
	r = run(t, "", false, "irqs", "--root", root, "eth0")
	if !strings.Contains(r.stdout, "eth0  TxRx-1  135  2 ") {
		t.Errorf("irqs after apply:\n%s", r.stdout)
	}
	if r = run(t, "", false, "revert", "--yes", "--root", root); r.code != ExitOK {
		t.Fatalf("revert: %d %s", r.code, r.stderr)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("tree differs after revert: %v", diffs)
	}
}
