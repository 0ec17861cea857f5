package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivilegedSettingDriftMetrics applies per-namespace sysctls to the
// live kernel in a fresh network namespace (with /etc/sysctl.d and the
// state directory on private tmpfs mounts), serves them with the real
// nettune exporter, then changes one of them behind nettune's back: its
// nettune_setting_in_sync series goes from 1 to 0, the others stay 1. The
// host's own values are compared before and after.
func TestPrivilegedSettingDriftMetrics(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network and mount namespaces)")
	}
	for _, tool := range []string{"unshare", "ip", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	bin := buildNettune(t)
	prof := filepath.Join(t.TempDir(), "drift.yaml")
	if err := os.WriteFile(prof, []byte(`apiVersion: nettune/v1
kind: Profile
metadata: {name: drift-test}
spec:
  sysctl:
    net.core.somaxconn: 1234
    net.ipv4.conf.all.rp_filter: 2
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
ip link set lo up
"$BIN" apply --yes "$PROFILE" >/dev/null 2>&1
"$BIN" exporter --listen 127.0.0.1:9617 "$PROFILE" 2>/var/lib/exporter.err &
pid=$!
for i in $(seq 100); do
  curl -sf http://127.0.0.1:9617/healthz >/dev/null && break
  kill -0 $pid
  sleep 0.1
done
series() { curl -sf http://127.0.0.1:9617/metrics | grep -E '^nettune_(setting_in_sync|journal_generation)' | sort | tr '\n' ';'; }
echo "applied $(series)"
echo 77 > /proc/sys/net/core/somaxconn
echo "drifted $(series)"
kill $pid
wait $pid || true
# somaxconn was changed after nettune wrote it: revert needs --force.
"$BIN" revert --yes --force >/dev/null
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
	series := func(phase string) map[string]string {
		m := map[string]string{}
		for _, s := range strings.Split(strings.TrimSuffix(lines[phase], ";"), ";") {
			name, v, _ := strings.Cut(s, " ")
			m[name] = v
		}
		return m
	}
	const (
		somaxconn = `nettune_setting_in_sync{attribute="value",module="sysctl",object="net.core.somaxconn"}`
		rpFilter  = `nettune_setting_in_sync{attribute="value",module="sysctl",object="net.ipv4.conf.all.rp_filter"}`
		tcpRmem   = `nettune_setting_in_sync{attribute="value",module="sysctl",object="net.ipv4.tcp_rmem"}`
	)
	for phase, want := range map[string]map[string]string{
		"applied": {somaxconn: "1", rpFilter: "1", tcpRmem: "1", "nettune_journal_generation": "1"},
		"drifted": {somaxconn: "0", rpFilter: "1", tcpRmem: "1", "nettune_journal_generation": "1"},
	} {
		got := series(phase)
		if len(got) != len(want) {
			t.Errorf("%s: series %v, want %v\n%s", phase, got, want, out)
			continue
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %s\n%s", phase, k, got[k], v, out)
			}
		}
	}
	if after := readSysctls(t); after != hostBefore {
		t.Errorf("host namespace changed: %q -> %q", hostBefore, after)
	}
}
