package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/spf13/cobra"
)

// TestList lists the shipped profiles and the operator's under --root,
// with their descriptions; one in /etc that takes a shipped name is shown
// as taking its place, and a broken one with its reason.
func TestList(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	dir := filepath.Join(root, "etc/nettune/profiles")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "edge.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: edge, description: Edge routers in rack 4.}\nextends: kernel-throughput\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "safe-default.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: safe-default}\nextends: safe-default\nspec:\n  sysctl: {net.core.somaxconn: 4096}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: broken}\nspec: {sysctll: {}}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a profile\n"), 0o644)

	r := run(t, "", false, "--root", root, "list")
	if r.code != ExitOK {
		t.Fatalf("list: %d %s", r.code, r.stderr)
	}
	golden(t, "list", r.stdout)

	r = run(t, "", false, "--root", root, "list", "-o", "json")
	var doc struct {
		Kind     string `json:"kind"`
		Profiles []struct {
			Name, Source, Description, Error string
			ShadowedBy                       string `json:"shadowed_by"`
		} `json:"profiles"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Kind != "profiles" {
		t.Fatalf("list -o json: %v\n%s", err, r.stdout)
	}
	got := map[string]string{}
	for _, p := range doc.Profiles {
		got[p.Source+" "+p.Name] = p.Description + "|" + p.ShadowedBy + "|" + p.Error
	}
	for k, want := range map[string]string{
		"/etc/nettune/profiles/edge.yaml edge":                 "Edge routers in rack 4.||",
		"/etc/nettune/profiles/safe-default.yaml safe-default": "Conservative socket and backlog settings for a busy network host.||",
		"shipped safe-default":                                 "Conservative socket and backlog settings for a busy network host.|/etc/nettune/profiles/safe-default.yaml|",
		"shipped dpdk-forwarder":                               "Isolated poll-mode cores, hugepages, IOMMU and quiet CPUs for DPDK.||",
	} {
		if got[k] != want {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
	if e := got["/etc/nettune/profiles/broken.yaml broken"]; !strings.Contains(e, "sysctll") {
		t.Errorf("broken profile listed as %q", e)
	}
	if len(doc.Profiles) != 3+5 {
		t.Errorf("%d profiles listed, want 8 (README skipped)", len(doc.Profiles))
	}

	// Without the directory: the shipped ones.
	empty := fixture.Unpack(t, hostFixture)
	if r := run(t, "", false, "--root", empty, "list"); r.code != ExitOK || strings.Count(r.stdout, "shipped") != 5 {
		t.Errorf("list without /etc/nettune/profiles: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestStatus: nothing installed, then installed and not applied (drift,
// exit 2), then applied (in sync, exit 0, generation 1).
func TestStatus(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	r := run(t, "", false, "--root", root, "status")
	if r.code != ExitOK || !strings.Contains(r.stdout, "Installed profile:  none") || !strings.Contains(r.stdout, "Active generation:  none") {
		t.Fatalf("status before install: %d\n%s", r.code, r.both())
	}
	// install refuses a binary the boot units could not run: give it one.
	if err := os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/nettune"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r = run(t, "", false, "--root", root, "install", "--binary", "/usr/sbin/nettune", profileFile); r.code != ExitOK {
		t.Fatalf("install: %d %s", r.code, r.stderr)
	}
	r = run(t, "", false, "--root", root, "status")
	if r.code != ExitDrift || !strings.Contains(r.stdout, "In sync:            no: 6 setting(s) drifted") {
		t.Fatalf("status installed, not applied: %d\n%s", r.code, r.both())
	}
	golden(t, "status-drift", strings.ReplaceAll(r.both(), root, "ROOT"))
	installed := filepath.Join(root, "etc/nettune/profile.yaml")
	if r = run(t, "", false, "--root", root, "apply", "--yes", installed); r.code != ExitOK {
		t.Fatalf("apply: %d %s", r.code, r.stderr)
	}
	r = run(t, "", false, "--root", root, "status", "-o", "json")
	var doc struct {
		Kind      string `json:"kind"`
		Status    string `json:"status"`
		Installed *struct {
			Name, Path string
		} `json:"installed"`
		Generation *struct {
			Number   int    `json:"number"`
			Profile  string `json:"profile"`
			Complete bool   `json:"complete"`
		} `json:"generation"`
		OK            int `json:"ok"`
		Drift         int `json:"drift"`
		PendingReboot int `json:"pending_reboot"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitOK {
		t.Fatalf("status after apply: %d %v\n%s", r.code, err, r.both())
	}
	if doc.Kind != "status" || doc.Status != "ok" || doc.Installed == nil || doc.Installed.Name != "sysctl-test" || doc.Installed.Path != "/etc/nettune/profile.yaml" ||
		doc.Generation == nil || doc.Generation.Number != 1 || !doc.Generation.Complete || doc.OK != 7 || doc.Drift != 0 || doc.PendingReboot != 0 {
		t.Errorf("status -o json = %s", r.stdout)
	}
}

// TestProfileShow prints a profile with its extends chain resolved: YAML
// that loads on its own, or the same as JSON.
func TestProfileShow(t *testing.T) {
	r := run(t, "", false, "profile", "show", "testdata/child.yaml")
	if r.code != ExitOK {
		t.Fatalf("profile show: %d %s", r.code, r.stderr)
	}
	golden(t, "profile-show", r.stdout)
	if strings.Contains(r.stdout, "extends") || !strings.Contains(r.stdout, "net.core.somaxconn: 8192") || strings.Contains(r.stdout, "rmem_max") {
		t.Errorf("profile show did not resolve the chain:\n%s", r.stdout)
	}
	r = run(t, "", false, "profile", "show", "-o", "json", "testdata/child.yaml")
	var doc struct {
		APIVersion string         `json:"apiVersion"`
		Metadata   map[string]any `json:"metadata"`
		Spec       struct {
			Sysctl map[string]any `json:"sysctl"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.APIVersion != "nettune/v1" || doc.Metadata["name"] != "child" || doc.Spec.Sysctl["net.core.somaxconn"] != float64(8192) {
		t.Fatalf("profile show -o json: %v\n%s", err, r.stdout)
	}
	// The JSON is a profile plan accepts.
	f := filepath.Join(t.TempDir(), "child.json")
	os.WriteFile(f, []byte(r.stdout), 0o644)
	if r := run(t, "", false, "validate", "--no-host", f); r.code != ExitOK {
		t.Fatalf("the JSON does not validate: %s", r.stderr)
	}
	if r := run(t, "", false, "profile", "show", "no-such-profile"); r.code != ExitError || !strings.Contains(r.stderr, "/etc/nettune/profiles") {
		t.Errorf("unknown profile: %d %q", r.code, r.stderr)
	}
}

// TestPlanCheckOnly: --only on plan and check, and settings of the other
// sections an earlier apply made are out of scope, not orphans: apply
// --only nics does not return the sysctls the full apply set.
func TestPlanCheckOnly(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	if r := run(t, "", false, "plan", "--only", "nics", "--root", root, profileFile); r.code != ExitOK || !strings.Contains(r.stdout, "No changes") {
		t.Fatalf("plan --only nics: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "", false, "plan", "--only", "sysctl", "--root", root, profileFile); r.code != ExitOK || !strings.Contains(r.stdout, "6 change(s)") {
		t.Fatalf("plan --only sysctl: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "", false, "check", "--interval", "0", "--only", "bogus", "--root", root, profileFile); r.code != ExitError || !strings.Contains(r.stderr, `unknown section "bogus"`) {
		t.Fatalf("check --only bogus: %d %q", r.code, r.stderr)
	}
	if r := run(t, "", false, "check", "--interval", "0", "--diagnostics=false", "--only", "nics", "--root", root, profileFile); r.code != ExitOK {
		t.Fatalf("check --only nics before apply: %d %s", r.code, r.both())
	}
	if r := run(t, "", false, "apply", "--yes", "--root", root, profileFile); r.code != ExitOK {
		t.Fatalf("apply: %d %s", r.code, r.stderr)
	}
	applied := fixture.Digest(t, root, "var")
	if r := run(t, "", false, "check", "--interval", "0", "--diagnostics=false", "--only", "nics", "--root", root, profileFile); r.code != ExitOK {
		t.Fatalf("check --only nics after a full apply reports the sysctls: %d\n%s", r.code, r.both())
	}
	if r := run(t, "", false, "plan", "--only", "nics", "--root", root, profileFile); r.code != ExitOK || !strings.Contains(r.stdout, "No changes") {
		t.Fatalf("plan --only nics after a full apply: %d\n%s", r.code, r.both())
	}
	if r := run(t, "", false, "apply", "--only", "nics", "--yes", "--root", root, profileFile); r.code != ExitOK || !strings.Contains(r.stdout, "No changes") {
		t.Fatalf("apply --only nics after a full apply: %d\n%s", r.code, r.both())
	}
	if diffs := fixture.DiffDigests(applied, fixture.Digest(t, root, "var")); len(diffs) > 0 {
		t.Fatalf("apply --only nics changed settings of other sections: %v", diffs)
	}
	if r := run(t, "", false, "check", "--interval", "0", "--root", root, profileFile); r.code != ExitOK {
		t.Fatalf("check after apply --only nics: %d\n%s", r.code, r.both())
	}
}

// TestShowNIC shows one NIC's ethtool state and IRQs from the offline
// root's state files; an unknown NIC lists the host's.
func TestShowNIC(t *testing.T) {
	root := fixture.Unpack(t, nicsFixture)
	r := run(t, "", false, "--root", root, "show", "enp175s0f0")
	if r.code != ExitOK {
		t.Fatalf("show: %d %s", r.code, r.stderr)
	}
	golden(t, "show-nic", r.stdout)
	r = run(t, "", false, "--root", root, "show", "-o", "json", "0000:af:00.0")
	var doc struct {
		Kind string `json:"kind"`
		NIC  struct {
			Name string `json:"name"`
		} `json:"nic"`
		Rings struct {
			RX    uint32 `json:"rx"`
			RXMax uint32 `json:"rxMax"`
		} `json:"rings"`
		Channels struct {
			Combined uint32 `json:"combined"`
		} `json:"channels"`
		Coalesce struct {
			AdaptiveRX bool `json:"adaptiveRx"`
		} `json:"coalesce"`
		Features map[string]struct {
			Active bool `json:"active"`
		} `json:"features"`
		RSS struct {
			Table []uint32 `json:"table"`
		} `json:"rss"`
		IRQs []struct {
			IRQ int `json:"irq"`
		} `json:"irqs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitOK {
		t.Fatalf("show -o json: %d %v\n%s", r.code, err, r.both())
	}
	if doc.Kind != "nic" || doc.NIC.Name != "enp175s0f0" || doc.Rings.RX != 1024 || doc.Rings.RXMax != 8192 || doc.Channels.Combined != 4 ||
		!doc.Coalesce.AdaptiveRX || !doc.Features["rx-gro"].Active || len(doc.IRQs) != 5 || doc.IRQs[0].IRQ != 89 {
		t.Errorf("show -o json = %s", r.stdout)
	}
	r = run(t, "", false, "--root", root, "show", "wlan0")
	if r.code != ExitError || !strings.Contains(r.stderr, `no NIC "wlan0" on this host; NICs: `) || !strings.Contains(r.stderr, "enp175s0f0") {
		t.Errorf("unknown NIC: %d %q", r.code, r.stderr)
	}
}

// TestUnknownSubcommand: a command that only groups others refuses an
// unknown subcommand (exit 1) instead of printing its help with exit 0.
func TestUnknownSubcommand(t *testing.T) {
	for _, args := range [][]string{{"profile", "list"}, {"profile", "shwo", "x"}, {"bogus"}} {
		r := run(t, "", false, args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "unknown command") {
			t.Errorf("nettune %s: exit %d %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if r := run(t, "", false, "profile", "shwo"); !strings.Contains(r.stderr, "did you mean show?") {
		t.Errorf("no suggestion: %q", r.stderr)
	}
	if r := run(t, "", false, "profile"); r.code != ExitOK || !strings.Contains(r.stdout, "generate") {
		t.Errorf("nettune profile: %d %q", r.code, r.stdout)
	}
}

// TestOutputFormatHonouredOrRefused: profile generate -o json prints JSON;
// the verbs whose output is not a document refuse -o json.
func TestOutputFormatHonouredOrRefused(t *testing.T) {
	root := fixture.Unpack(t, nicsFixture)
	r := run(t, "", false, "--root", root, "profile", "generate", "--nic", "enp175s0f0", "--cores", "2", "-o", "json")
	var doc struct {
		Kind string `json:"kind"`
		Spec map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitOK || doc.Kind != "Profile" || doc.Spec["cpu"] == nil {
		t.Fatalf("profile generate -o json: %d %v\n%s", r.code, err, r.both())
	}
	for _, args := range [][]string{{"completion", "bash", "-o", "json"}, {"exporter", "-o", "yaml"}} {
		r := run(t, "", false, args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "is not supported") {
			t.Errorf("nettune %s: exit %d %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// TestUndoHintKeepsRoot: bind's "Undo with" names the --root it ran with.
func TestUndoHintKeepsRoot(t *testing.T) {
	s := newSimCLI(t, "pf-siblings")
	a := s.app()
	a.g.root = s.root
	if err := a.bind(context.Background(), s.eng, []string{"eth1", "eth2"}, bindFlags{driver: "vfio-pci", yes: true}, nil); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if want := "Undo with: nettune --root " + s.root + " revert"; !strings.Contains(s.out.String(), want) {
		t.Errorf("bind output lacks %q:\n%s", want, s.out.String())
	}
}

// TestTablesFitTheTerminal: on a terminal, table rows are cut to its
// width; piped, they are printed in full.
func TestTablesFitTheTerminal(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"apply", "--dry-run", "--root", root, profileFile}, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, OutTTY: true, Width: 100})
	if code != ExitOK {
		t.Fatalf("apply --dry-run: %d %s", code, errOut.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if !strings.Contains(l, "  ") { // a plain line, not a table row
			continue
		}
		if n := utf8.RuneCountInString(stripANSI(l)); n > 100 {
			t.Errorf("row of %d characters on a 100-column terminal: %q", n, l)
		}
	}
	if !strings.Contains(out.String(), "…") {
		t.Errorf("nothing was cut:\n%s", out.String())
	}
	r := run(t, "", false, "apply", "--dry-run", "--root", root, profileFile)
	longest := 0
	for _, l := range strings.Split(r.stdout, "\n") {
		longest = max(longest, utf8.RuneCountInString(l))
	}
	if longest <= 100 || strings.Contains(r.stdout, "…") {
		t.Errorf("piped output was cut (longest line %d)", longest)
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	esc := false
	for _, r := range s {
		switch {
		case r == '\x1b':
			esc = true
		case esc:
			esc = r != 'm'
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestCheckHeadersMatchJSON: check's table names its value columns as
// its JSON does (before, after).
func TestCheckHeadersMatchJSON(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	r := run(t, "", false, "check", "--interval", "0", "--diagnostics=false", "--root", root, profileFile)
	header := strings.Fields(strings.SplitN(r.stdout, "\n", 2)[0])
	want := []string{"STATUS", "MODULE", "OBJECT", "ATTRIBUTE", "BEFORE", "AFTER", "DETAIL"}
	if strings.Join(header, " ") != strings.Join(want, " ") {
		t.Errorf("check header %v, want %v", header, want)
	}
}

// TestEveryVerbHasExamples: the --help of every command has an Examples
// section.
func TestEveryVerbHasExamples(t *testing.T) {
	a := &app{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Examples in --help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.rootCommand())
	r := run(t, "", false, "status", "--help")
	if !strings.Contains(r.stdout, "Examples:\n  nettune status") {
		t.Errorf("status --help:\n%s", r.stdout)
	}
}
