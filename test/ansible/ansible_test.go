// Package ansible_test checks the Ansible role in ansible/ (docs/ansible.md):
// ansible-lint with the production profile, ansible-playbook --syntax-check
// of the example playbook, and the role itself run by ansible-playbook on
// this machine (connection local) against a nettune snapshot root, never the
// live host: first run changed, second run changed=0, check mode shows the
// plan as a diff and changes nothing, the pending-reboot flag, the revert.
//
// The tools come from Debian's ansible-core and ansible-lint packages
// (scripts/deps.sh). Without them the tests skip, unless
// NETTUNE_REQUIRE_ANSIBLE=1 (set by .ci/run, whose deps.sh installs them):
// then a missing tool fails the test.
package ansible_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// needTools skips (or, with NETTUNE_REQUIRE_ANSIBLE=1, fails) when a tool is
// not on PATH.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("NETTUNE_REQUIRE_ANSIBLE") == "1" {
				t.Fatalf("%s is missing and NETTUNE_REQUIRE_ANSIBLE=1: scripts/deps.sh installs it (ansible-core, ansible-lint)", tool)
			}
			t.Skipf("SKIP: %s not installed (Debian: apt-get install ansible-core ansible-lint; scripts/deps.sh does)", tool)
		}
	}
}

// run runs a command in dir with Ansible's colours and cows off and its
// temporary files under the test's directory.
func run(t *testing.T, dir string, env []string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second // a child that keeps the output open (ssh's control master) does not hang the test
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_NOCOWS=1",
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(tmp, "local"), "ANSIBLE_REMOTE_TEMP="+filepath.Join(tmp, "remote"),
		"ANSIBLE_HOME="+filepath.Join(tmp, "home"), "ANSIBLE_RETRY_FILES_ENABLED=0", "PY_COLORS=0", "NO_COLOR=1")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	rc := 0
	if ee := (*exec.ExitError)(nil); err != nil {
		var ok bool
		if ee, ok = err.(*exec.ExitError); !ok {
			t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		rc = ee.ExitCode()
	}
	return out.String(), rc
}

func TestAnsibleLintProduction(t *testing.T) {
	needTools(t, "ansible-lint")
	out, rc := run(t, filepath.Join(repoRoot(t), "ansible"), nil, "ansible-lint", "--profile", "production", "--offline", ".")
	if rc != 0 {
		t.Fatalf("ansible-lint --profile production ansible/: exit %d\n%s", rc, out)
	}
	if !strings.Contains(out, "Passed") && !strings.Contains(out, "0 failure") {
		t.Fatalf("ansible-lint printed no pass line:\n%s", out)
	}
}

func TestAnsibleSyntaxCheck(t *testing.T) {
	needTools(t, "ansible-playbook")
	out, rc := run(t, filepath.Join(repoRoot(t), "ansible"), nil, "ansible-playbook", "--syntax-check", "-i", "inventory.example.yml", "site.yml")
	if rc != 0 {
		t.Fatalf("ansible-playbook --syntax-check site.yml: exit %d\n%s", rc, out)
	}
}

// recap is one host's PLAY RECAP line.
type recap struct{ ok, changed, unreachable, failed int }

var recapRE = regexp.MustCompile(`(?m)^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

func recaps(t *testing.T, out string) map[string]recap {
	t.Helper()
	m := map[string]recap{}
	for _, g := range recapRE.FindAllStringSubmatch(out, -1) {
		n := func(i int) int { v, _ := strconv.Atoi(g[i]); return v }
		m[g[1]] = recap{n(2), n(3), n(4), n(5)}
	}
	if len(m) == 0 {
		t.Fatalf("no PLAY RECAP in the output:\n%s", out)
	}
	return m
}

// TestAnsibleRoleOnSnapshot runs ansible/site.yml against this machine over
// connection local, with nettune_root set to a snapshot of the host (with a
// Debian GRUB layout added, as the nested-guest scenario 4 does): every file
// the role and nettune write is under the test's directory.
func TestAnsibleRoleOnSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nettune and runs ansible-playbook five times; not in -short")
	}
	needTools(t, "ansible-playbook", "go")
	repo := repoRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "build", "nettune")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/nettune")
	build.Dir, build.Env = repo, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "root")
	if out, err := exec.Command(bin, "snapshot", root).CombinedOutput(); err != nil {
		t.Fatalf("nettune snapshot: %v\n%s", err, out)
	}
	for p, c := range map[string]string{
		"etc/default/grub":   "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n",
		"boot/grub/grub.cfg": "# minimal grub.cfg\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	somaxconn := filepath.Join(root, "proc/sys/net/core/somaxconn")
	before, err := os.ReadFile(somaxconn)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(before)) == "8192" {
		t.Fatal("the snapshot already has net.core.somaxconn 8192: the test profile would change nothing")
	}
	inv := filepath.Join(dir, "inventory.ini")
	nt := filepath.Join(dir, "sbin", "nettune")
	if err := os.WriteFile(inv, []byte("[nettune]\nlocalhost ansible_connection=local ansible_become=false ansible_python_interpreter=/usr/bin/python3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(nt), 0o755); err != nil {
		t.Fatal(err)
	}
	play := func(profile string, extra ...string) (string, recap) {
		t.Helper()
		args := []string{"-i", inv, "site.yml",
			"-e", "nettune_install=binary", "-e", "nettune_binary=" + bin, "-e", "nettune_bin=" + nt,
			"-e", "nettune_root=" + root, "-e", "nettune_profile_dir=" + filepath.Join(dir, "etc-nettune"),
			"-e", "nettune_profile=" + filepath.Join(repo, "test/ansible/testdata", profile)}
		out, rc := run(t, filepath.Join(repo, "ansible"), nil, "ansible-playbook", append(args, extra...)...)
		r := recaps(t, out)["localhost"]
		if rc != 0 || r.failed != 0 || r.unreachable != 0 {
			t.Fatalf("ansible-playbook %s: exit %d\n%s", strings.Join(extra, " "), rc, out)
		}
		return out, r
	}
	checkRC := func(profile string) int {
		t.Helper()
		c := exec.Command(nt, "check", "--root", root, "--diagnostics=false", "-o", "json", filepath.Join(repo, "test/ansible/testdata", profile))
		out, err := c.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatalf("nettune check: %v\n%s", err, out)
		}
		return 0
	}
	generations := func() int {
		t.Helper()
		out, err := exec.Command(nt, "revert", "--root", root, "--list", "-o", "json").Output()
		if err != nil {
			t.Fatalf("nettune revert --list: %v", err)
		}
		return strings.Count(string(out), `"number":`)
	}
	readSomaxconn := func() string {
		t.Helper()
		b, err := os.ReadFile(somaxconn)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}

	// Check mode before anything is installed: the binary and the profile
	// would be copied, no plan is possible yet, nothing is written.
	out, r := play("fleet.yaml", "--check", "--diff")
	if r.changed == 0 || !strings.Contains(out, "is not installed yet") {
		t.Fatalf("check mode on a fresh host: want changed (the copies) and the not-installed note, got %+v\n%s", r, out)
	}
	if _, err := os.Stat(nt); !os.IsNotExist(err) {
		t.Fatalf("check mode installed %s (stat: %v)", nt, err)
	}

	// First run: installs, applies, checks.
	out, r = play("fleet.yaml")
	if r.changed == 0 {
		t.Fatalf("first run: changed=0\n%s", out)
	}
	if got := readSomaxconn(); got != "8192" {
		t.Fatalf("after the first run somaxconn is %s, want 8192", got)
	}
	if rc := checkRC("fleet.yaml"); rc != 0 {
		t.Fatalf("nettune check after the first run: exit %d, want 0", rc)
	}
	// Second run: nothing to do.
	out, r = play("fleet.yaml")
	if r.changed != 0 {
		t.Fatalf("second run: changed=%d, want 0\n%s", r.changed, out)
	}
	if n := generations(); n != 1 {
		t.Fatalf("after two runs %d generations, want 1", n)
	}

	// Drift, then check mode: the plan is the diff, changed, and nothing
	// is written (somaxconn keeps the drifted value, no generation).
	if err := os.WriteFile(somaxconn, []byte("1024\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, r = play("fleet.yaml", "--check", "--diff")
	if r.changed == 0 {
		t.Fatalf("check mode with drift: changed=0\n%s", out)
	}
	if !strings.Contains(out, "-sysctl net.core.somaxconn value (live): 1024") || !strings.Contains(out, "+sysctl net.core.somaxconn value (live): 8192") {
		t.Fatalf("check mode with drift: the diff does not show the plan for somaxconn 1024 -> 8192:\n%s", out)
	}
	if got := readSomaxconn(); got != "1024" {
		t.Fatalf("check mode changed somaxconn to %s", got)
	}
	if rc := checkRC("fleet.yaml"); rc != 2 {
		t.Fatalf("nettune check after check mode: exit %d, want 2 (drift kept)", rc)
	}
	if n := generations(); n != 1 {
		t.Fatalf("check mode recorded a generation: %d", n)
	}
	// Check mode without drift: changed=0.
	if err := os.WriteFile(somaxconn, []byte("8192\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, r = play("fleet.yaml", "--check", "--diff")
	if r.changed != 0 {
		t.Fatalf("check mode in sync: changed=%d, want 0\n%s", r.changed, out)
	}

	// A boot-time setting: apply changes, check exits 3, the flag is set
	// and the host is not rebooted (nettune_reboot is false).
	out, r = play("fleet-boot.yaml")
	if r.changed == 0 || !strings.Contains(out, "nettune: pending reboot: kernel-cmdline") {
		t.Fatalf("boot profile: want changed and the pending-reboot line, got %+v\n%s", r, out)
	}
	if rc := checkRC("fleet-boot.yaml"); rc != 3 {
		t.Fatalf("nettune check of the boot profile: exit %d, want 3", rc)
	}
	out, r = play("fleet-boot.yaml")
	if r.changed != 0 || !strings.Contains(out, "nettune: pending reboot") {
		t.Fatalf("boot profile, second run: want changed=0 and the flag still set, got %+v\n%s", r, out)
	}

	// Rollback: every generation reverted, the profile removed; again: ok.
	out, r = play("fleet.yaml", "-e", "nettune_state=reverted")
	if r.changed == 0 {
		t.Fatalf("revert: changed=0\n%s", out)
	}
	if got := readSomaxconn(); got != strings.TrimSpace(string(before)) {
		t.Fatalf("after revert somaxconn is %s, want %s", got, strings.TrimSpace(string(before)))
	}
	if n := generations(); n != 0 {
		t.Fatalf("after revert %d generations are left", n)
	}
	grub, err := os.ReadFile(filepath.Join(root, "etc/default/grub"))
	if err != nil || strings.Contains(string(grub), "hugepages") {
		t.Fatalf("after revert /etc/default/grub still has hugepages (%v):\n%s", err, grub)
	}
	out, r = play("fleet.yaml", "-e", "nettune_state=reverted")
	if r.changed != 0 {
		t.Fatalf("revert again: changed=%d, want 0\n%s", r.changed, out)
	}
}
