package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivilegedSysctlNetns runs the real nettune binary against the live
// kernel inside a fresh network namespace and a private mount namespace:
// per-netns sysctls (including an interface whose name contains a dot, as
// VLANs do) are applied, checked, and reverted, while /etc/sysctl.d and the
// state directory are private tmpfs mounts. The host's own values are
// compared before and after.
func TestPrivilegedSysctlNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network and mount namespaces)")
	}
	for _, tool := range []string{"unshare", "ip", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nettune")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/nettune").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	prof := filepath.Join(dir, "netns.yaml")
	if err := os.WriteFile(prof, []byte(`apiVersion: nettune/v1
kind: Profile
metadata: {name: netns-test}
spec:
  sysctl:
    net.core.somaxconn: 1234
    net.ipv4.conf.all.rp_filter: 2
    net.ipv4.conf.v0.100.rp_filter: 2
    net.ipv4.tcp_rmem: [4096, 65536, 1048576]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	hostBefore := readSysctls(t)

	script := `set -e
mount --make-rprivate /
mount -t tmpfs nettune-test /etc/sysctl.d
mkdir -p /var/lib
mount -t tmpfs nettune-test /var/lib
ip link add v0.100 type veth peer name v1
show() { echo "$1 $(cat /proc/sys/net/core/somaxconn) $(cat /proc/sys/net/ipv4/conf/all/rp_filter) $(cat /proc/sys/net/ipv4/conf/v0.100/rp_filter) $(cat /proc/sys/net/ipv4/tcp_rmem | tr '\t' ' ')"; }
show before
"$BIN" apply --yes "$PROFILE" >/dev/null
show applied
"$BIN" check --interval 0 "$PROFILE" >/dev/null; echo "check-after-apply $?"
test -f /etc/sysctl.d/90-nettune.conf && echo persisted
"$BIN" revert --yes >/dev/null
show reverted
"$BIN" check --interval 0 "$PROFILE" >/dev/null || echo "check-after-revert $?"
test ! -e /etc/sysctl.d/90-nettune.conf && echo unpersisted
test ! -e /var/lib/nettune && echo state-removed
`
	cmd := exec.Command("unshare", "--net", "--mount", "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "PROFILE="+prof)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("namespace script: %v\n%s", err, out)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, " ")
		lines[k] = v
	}
	before := lines["before"]
	if before == "" {
		t.Fatalf("no values read:\n%s", out)
	}
	if got := lines["applied"]; got != "1234 2 2 4096 65536 1048576" {
		t.Errorf("after apply: %q\n%s", got, out)
	}
	if got := lines["check-after-apply"]; got != "0" {
		t.Errorf("check after apply exited %q", got)
	}
	if _, ok := lines["persisted"]; !ok {
		t.Errorf("persistence file not written")
	}
	if got := lines["reverted"]; got != before {
		t.Errorf("after revert %q, before %q", got, before)
	}
	if got := lines["check-after-revert"]; got != "2" {
		t.Errorf("check after revert exited %q", got)
	}
	for _, k := range []string{"unpersisted", "state-removed"} {
		if _, ok := lines[k]; !ok {
			t.Errorf("%s missing:\n%s", k, out)
		}
	}
	if after := readSysctls(t); after != hostBefore {
		t.Errorf("host namespace changed: %q -> %q", hostBefore, after)
	}
}

func readSysctls(t *testing.T) string {
	t.Helper()
	var vals []string
	for _, p := range []string{"net/core/somaxconn", "net/ipv4/conf/all/rp_filter", "net/ipv4/tcp_rmem"} {
		b, err := os.ReadFile("/proc/sys/" + p)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, strings.TrimSpace(string(b)))
	}
	return strings.Join(vals, "|")
}
