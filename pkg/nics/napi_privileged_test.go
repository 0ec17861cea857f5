package nics_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/cli"
	"github.com/vishvananda/netlink"
)

// napiThreads lists the kernel threads polling an interface's NAPI
// instances (napi/<if>-<id>).
func napiThreads(t *testing.T, ifname string) []string {
	t.Helper()
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	var out []string
	for _, c := range comms {
		b, err := os.ReadFile(c)
		if err == nil && strings.HasPrefix(string(b), "napi/"+ifname+"-") {
			out = append(out, strings.TrimSpace(string(b)))
		}
	}
	return out
}

// TestPrivilegedNAPIVeth sets the NAPI attributes of a veth in a fresh
// network namespace through the CLI, against the live kernel: a veth that
// is down with GRO off has no NAPI instance, so the kernel refuses
// threaded (EOPNOTSUPP) and apply rolls back; up with rx-gro on, the same
// settings apply, threads napi/<if>-<id> appear, check agrees, and revert
// restores every value.
func TestPrivilegedNAPIVeth(t *testing.T) {
	const name = "TestPrivilegedNAPIVeth"
	if !child(name) {
		inChild(t, name, []string{"--net", "--mount"})
		return
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ntn0"}, PeerName: "ntn1"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("create veth: %v", err)
	}
	defer netlink.LinkDel(veth)
	sys := "/sys/class/net/ntn0/"
	read := func() [3]string {
		return [3]string{readFile(t, sys+"napi_defer_hard_irqs"), readFile(t, sys+"gro_flush_timeout"), readFile(t, sys+"threaded")}
	}
	before := read()
	if before != [3]string{"0", "0", "0"} {
		t.Fatalf("a new veth reads %v, want the kernel's defaults 0 0 0", before)
	}
	prof := filepath.Join(t.TempDir(), "napi.yaml")
	write := func(extra string) {
		os.WriteFile(prof, []byte(`apiVersion: nettune/v1
kind: Profile
metadata: {name: napi-veth}
spec:
  nics:
    - match: {name: ntn0}
      napiDeferHardIrqs: 3
      groFlushTimeout: 50us
      threadedNapi: true
`+extra), 0o644)
	}
	write("")
	code, out := nettune(t, "plan", prof)
	if code != cli.ExitOK || !strings.Contains(out, "it is down and rx-gro is off") {
		t.Errorf("plan of a veth without NAPI: %d\n%s", code, out)
	}
	code, out = nettune(t, "apply", "--yes", prof)
	if code == cli.ExitOK || !strings.Contains(out, "the kernel refuses threaded NAPI") || !strings.Contains(out, "rolled back") {
		t.Errorf("apply on a veth without NAPI: %d\n%s", code, out)
	}
	t.Logf("apply on a veth without NAPI:\n%s", out)
	if got := read(); got != before {
		t.Errorf("after the refused apply %v, want %v", got, before)
	}

	// Up, with rx-gro on (set by the same profile, before threaded).
	for _, l := range []string{"ntn0", "ntn1"} {
		link, err := netlink.LinkByName(l)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(link); err != nil {
			t.Fatal(err)
		}
	}
	write("      features: {rx-gro: true}\n")
	if code, out = nettune(t, "apply", "--yes", prof); code != cli.ExitOK {
		t.Fatalf("apply: %d\n%s", code, out)
	}
	if got := read(); got != [3]string{"3", "50000", "1"} {
		t.Errorf("applied %v, want 3 50000 1", got)
	}
	if th := napiThreads(t, "ntn0"); len(th) == 0 {
		t.Errorf("threaded reads 1 but no napi/ntn0-* thread runs")
	}
	if code, out = nettune(t, "check", "--interval", "0", prof); code != cli.ExitOK {
		t.Errorf("check after apply: %d\n%s", code, out)
	}
	if err := os.WriteFile(sys+"gro_flush_timeout", []byte("7\n"), 0); err != nil {
		t.Fatal(err)
	}
	if code, out = nettune(t, "check", "--interval", "0", prof); code != cli.ExitDrift || !strings.Contains(out, "gro_flush_timeout") {
		t.Errorf("check after a manual change: %d\n%s", code, out)
	}
	if code, out = nettune(t, "revert", "--yes"); code != cli.ExitOK {
		t.Fatalf("revert: %d\n%s", code, out)
	}
	if got := read(); got != before {
		t.Errorf("after revert %v, want %v", got, before)
	}
	if th := napiThreads(t, "ntn0"); len(th) != 0 {
		t.Errorf("napi threads left after revert: %v", th)
	}
}
