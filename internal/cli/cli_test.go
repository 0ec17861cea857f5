package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

const (
	hostFixture = "../../testdata/hosts/sysctl-basic.txtar"
	profileFile = "../../testdata/profiles/sysctl.yaml"
)

type result struct {
	code           int
	stdout, stderr string
}

// both is what a terminal shows, with the stderr part marked: problem
// lines go to stderr.
func (r result) both() string {
	if r.stderr == "" {
		return r.stdout
	}
	return r.stdout + "--- stderr\n" + r.stderr
}

// run executes nettune in-process. stdin is not a terminal unless tty.
func run(t *testing.T, stdin string, tty bool, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, IO{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut, InTTY: tty})
	return result{code, out.String(), errOut.String()}
}

func golden(t *testing.T, name string, got string) {
	t.Helper()
	fixture.Golden(t, filepath.Join("testdata", name+".golden"), []byte(got))
}

// volatile drops timestamps from outputs before golden comparison.
var volatile = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

func TestRoundTripOnFixture(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	before := fixture.Digest(t, root)

	r := run(t, "", false, "plan", "--root", root, profileFile)
	if r.code != ExitOK {
		t.Fatalf("plan: %d %s", r.code, r.stderr)
	}
	golden(t, "plan", r.both())

	if r = run(t, "", false, "plan", "--detailed-exitcode", "--root", root, profileFile); r.code != ExitDrift {
		t.Fatalf("plan --detailed-exitcode: %d", r.code)
	}
	if r = run(t, "", false, "check", "--interval", "0", "--root", root, profileFile); r.code != ExitDrift {
		t.Fatalf("check before apply: %d %s", r.code, r.stderr)
	}
	golden(t, "check-drift", r.both())

	r = run(t, "", false, "apply", "--dry-run", "--root", root, profileFile)
	if r.code != ExitOK {
		t.Fatalf("apply --dry-run: %d %s", r.code, r.stderr)
	}
	golden(t, "apply-dry-run", strings.ReplaceAll(r.both(), root, "ROOT"))
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("dry run touched the tree: %v", diffs)
	}

	r = run(t, "", false, "apply", "--root", root, profileFile)
	if r.code != ExitError || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("apply without --yes and without a terminal: %d %q", r.code, r.stderr)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("refused apply touched the tree: %v", diffs)
	}

	if r = run(t, "", false, "apply", "--yes", "--root", root, profileFile); r.code != ExitOK {
		t.Fatalf("apply --yes: %d %s", r.code, r.stderr)
	}
	golden(t, "apply", strings.ReplaceAll(r.both(), root, "ROOT"))

	r = run(t, "", false, "check", "--interval", "0", "--root", root, "-o", "json", profileFile)
	if r.code != ExitOK {
		t.Fatalf("check after apply: %d %s\n%s", r.code, r.stderr, r.stdout)
	}
	var doc struct {
		FormatVersion string `json:"format_version"`
		Kind          string `json:"kind"`
		Status        string `json:"status"`
		Items         []struct {
			Status string `json:"status"`
		} `json:"items"`
		Problems []struct {
			Severity string `json:"severity"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, r.stdout)
	}
	if doc.FormatVersion != "1" || doc.Kind != "check" || doc.Status != "ok" || len(doc.Items) != 7 || len(doc.Problems) != 2 {
		t.Errorf("check -o json = %+v", doc)
	}

	r = run(t, "", false, "revert", "--list", "--root", root)
	golden(t, "revert-list", volatile.ReplaceAllString(r.stdout, "TIME"))

	if r = run(t, "", false, "revert", "--yes", "--root", root); r.code != ExitOK {
		t.Fatalf("revert: %d %s", r.code, r.stderr)
	}
	golden(t, "revert", r.stdout)
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("tree differs after revert: %v", diffs)
	}
	if r = run(t, "", false, "check", "--interval", "0", "--root", root, profileFile); r.code != ExitDrift {
		t.Fatalf("check after revert: %d", r.code)
	}
	if r = run(t, "", false, "revert", "--yes", "--root", root); r.code != ExitError || !strings.Contains(r.stderr, "nothing to revert") {
		t.Fatalf("second revert: %d %q", r.code, r.stderr)
	}
}

func TestConfirmOnTerminal(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	before := fixture.Digest(t, root)
	r := run(t, "n\n", true, "apply", "--root", root, profileFile)
	if r.code != ExitError || !strings.Contains(r.stderr, "aborted") || !strings.Contains(r.stderr, "Apply 6 change(s) to this host? [y/N]") {
		t.Fatalf("declined apply: %d %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "net.core.somaxconn") {
		t.Errorf("the plan was not shown before the question:\n%s", r.stdout)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("declined apply touched the tree: %v", diffs)
	}
	if r = run(t, "y\n", true, "apply", "--root", root, profileFile); r.code != ExitOK {
		t.Fatalf("confirmed apply: %d %s", r.code, r.stderr)
	}
	if r = run(t, "yes\n", true, "revert", "--root", root); r.code != ExitOK {
		t.Fatalf("confirmed revert: %d %s", r.code, r.stderr)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("tree differs after revert: %v", diffs)
	}
}

func TestValidateTypo(t *testing.T) {
	r := run(t, "", false, "validate", "--no-host", "testdata/typo.yaml")
	if r.code != ExitError {
		t.Fatalf("validate typo: exit %d", r.code)
	}
	want := `testdata/typo.yaml:11:9: spec.hugepages.pages[0].cuont: unknown field "cuont"; did you mean "count"?`
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr %q lacks %q", r.stderr, want)
	}
	r = run(t, "", false, "validate", "--no-host", "-o", "json", "testdata/typo.yaml")
	var doc struct {
		Valid  bool `json:"valid"`
		Errors []struct {
			Line, Column int
			Path         string
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Valid || len(doc.Errors) != 2 || doc.Errors[0].Line != 11 || doc.Errors[0].Column != 9 {
		t.Fatalf("validate -o json: %v %+v\n%s", err, doc, r.stdout)
	}
}

func TestValidateAgainstHost(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	if r := run(t, "", false, "validate", "--root", root, profileFile); r.code != ExitOK || !strings.Contains(r.stdout, `Profile "sysctl-test" is valid (this host checked).`) {
		t.Fatalf("validate: %d %q %q", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: bad}\nspec:\n  sysctl: {net.core.somaxconnn: 1}\n"), 0o644)
	r := run(t, "", false, "validate", "--root", root, bad)
	// The fit error points at the profile's line, on stderr.
	if r.code != ExitError || !strings.Contains(r.stderr, "did you mean net.core.somaxconn?") || !strings.Contains(r.stderr, bad+":5:") || strings.Contains(r.stdout, "did you mean") {
		t.Fatalf("validate bad: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestGlobalFlags(t *testing.T) {
	if r := run(t, "", false, "-o", "xml", "version"); r.code != ExitError || !strings.Contains(r.stderr, "valid choices: table, json, yaml") {
		t.Errorf("-o xml: %d %q", r.code, r.stderr)
	}
	if r := run(t, "", false, "--log-level", "loud", "version"); r.code != ExitError || !strings.Contains(r.stderr, "debug, info, warn, error") {
		t.Errorf("--log-level loud: %d %q", r.code, r.stderr)
	}
	r := run(t, "", false, "-o", "yaml", "version")
	if r.code != ExitOK || !strings.Contains(r.stdout, "format_version: \"1\"") {
		t.Errorf("-o yaml version: %q", r.stdout)
	}
	if r := run(t, "", false, "--root", "/nonexistent-root", "plan", "safe-default"); r.code != ExitError || !strings.Contains(r.stderr, "/nonexistent-root") {
		t.Errorf("bad --root: %d %q", r.code, r.stderr)
	}
	if r := run(t, "", false, "completion", "bash"); r.code != ExitOK || !strings.Contains(r.stdout, "nettune") {
		t.Errorf("completion bash: %d", r.code)
	}
	r = run(t, "", false, "--help")
	for _, want := range []string{"Exit codes:", "wait for a reboot", "--root", "snapshot"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// TestSnapshotThenPlan copies a fixture host with the snapshot command and
// plans against the copy: same plan as against the original.
func TestSnapshotThenPlan(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	snap := filepath.Join(t.TempDir(), "snap")
	if r := run(t, "", false, "--root", root, "snapshot", snap); r.code != ExitOK {
		t.Fatalf("snapshot: %d %s", r.code, r.stderr)
	}
	a := run(t, "", false, "--root", root, "plan", "-o", "json", profileFile)
	b := run(t, "", false, "--root", snap, "plan", "-o", "json", profileFile)
	// Commands name paths under the root they were planned for.
	if a.code != ExitOK || strings.ReplaceAll(a.stdout, root, "ROOT") != strings.ReplaceAll(b.stdout, snap, "ROOT") {
		t.Fatalf("plan against snapshot differs:\n%s\n---\n%s", a.stdout, b.stdout)
	}
	if r := run(t, "", false, "--root", root, "snapshot", snap); r.code != ExitError || !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("snapshot into a non-empty dir: %d %q", r.code, r.stderr)
	}
}

func TestCheckWithoutProfileRunsDiagnostics(t *testing.T) {
	root := fixture.Unpack(t, "../../pkg/diagnose/testdata/quiet.txtar")
	if r := run(t, "", false, "check", "--interval", "0", "--root", root); r.code != ExitOK {
		t.Fatalf("quiet host: %d %s %s", r.code, r.stdout, r.stderr)
	}
	fixture.Overwrite(t, filepath.Join(root, "sys/kernel/mm/transparent_hugepage/enabled"), []byte("[always] madvise never\n"))
	r := run(t, "", false, "check", "--interval", "0", "--root", root, "-o", "json")
	if r.code != ExitDrift {
		t.Fatalf("THP always: exit %d", r.code)
	}
	var doc struct {
		Status   string `json:"status"`
		Findings []struct {
			Rule, Name, Severity, Remedy string
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Findings) != 1 || doc.Findings[0].Rule != "NT503" || doc.Findings[0].Remedy == "" {
		t.Fatalf("findings: %v %+v", err, doc)
	}
	if r := run(t, "", false, "check", "--diagnostics=false", "--root", root); r.code != ExitOK {
		t.Fatalf("--diagnostics=false: %d", r.code)
	}
}

func TestInstallUninstall(t *testing.T) {
	root := fixture.Unpack(t, "../../pkg/systemd/testdata/host.txtar")
	before := fixture.Digest(t, root)
	r := run(t, "", false, "--root", root, "install", "--binary", "/usr/local/sbin/nettune", "testdata/child.yaml")
	if r.code != ExitOK {
		t.Fatalf("install: %d %s", r.code, r.stderr)
	}
	// The recorded profile is self-contained: it loads without its parent.
	b, err := os.ReadFile(filepath.Join(root, "etc/nettune/profile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	alone := filepath.Join(t.TempDir(), "profile.yaml")
	os.WriteFile(alone, b, 0o644)
	if r := run(t, "", false, "validate", "--no-host", alone); r.code != ExitOK {
		t.Fatalf("recorded profile does not load on its own: %s\n%s", r.stderr, b)
	}
	if !strings.Contains(string(b), "net.core.somaxconn: 8192") || !strings.Contains(string(b), "net.core.netdev_budget: 600") {
		t.Errorf("recorded profile lost settings:\n%s", b)
	}
	if strings.Contains(string(b), "rmem_max") || strings.Contains(string(b), "extends") {
		t.Errorf("recorded profile keeps a removed key or extends:\n%s", b)
	}
	if r = run(t, "", false, "--root", root, "uninstall"); r.code != ExitOK {
		t.Fatalf("uninstall: %d %s", r.code, r.stderr)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("tree differs after uninstall: %v", diffs)
	}
}

func TestApplyOnly(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	if r := run(t, "", false, "apply", "--only", "nics,bogus", "--yes", "--root", root, profileFile); r.code != ExitError || !strings.Contains(r.stderr, `unknown section "bogus"`) {
		t.Fatalf("--only bogus: %d %q", r.code, r.stderr)
	}
	r := run(t, "", false, "apply", "--only", "nics", "--yes", "--root", root, profileFile)
	if r.code != ExitOK || !strings.Contains(r.stdout, "No changes") {
		t.Fatalf("--only nics on a sysctl profile: %d %q %q", r.code, r.stdout, r.stderr)
	}
}
