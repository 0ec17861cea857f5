package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/dataplane"
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
	bin := buildNettune(t)
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
"$BIN" apply --yes "$PROFILE" 2>/var/lib/apply.err >/dev/null
show applied
grep -q "are set live but not written to /etc/sysctl.d/90-nettune.conf" /var/lib/apply.err && echo warned
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
	// Per-namespace sysctls applied from a namespace must not go to the
	// host-wide sysctl.d file (the host would apply them to its initial
	// namespace at boot); apply says so.
	if _, ok := lines["persisted"]; ok {
		t.Errorf("per-namespace sysctls written to the host-wide /etc/sysctl.d file")
	}
	if _, ok := lines["warned"]; !ok {
		t.Errorf("no warning that the per-namespace sysctls are not persisted:\n%s", out)
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

// TestPrivilegedRevertFromOtherNamespace: 'ip netns exec X nettune apply'
// then a plain 'nettune revert' must not write X's old values into the
// initial namespace: it refuses and names the command to run. The state
// directory and /etc/sysctl.d are private tmpfs mounts shared by both
// namespaces, as /var/lib/nettune is on a real host.
func TestPrivilegedRevertFromOtherNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network and mount namespaces)")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	bin := buildNettune(t)
	prof := filepath.Join(dir, "ns.yaml")
	if err := os.WriteFile(prof, []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: ns}\nspec:\n  sysctl:\n    net.core.somaxconn: 1777\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostBefore := readSysctls(t)
	ns := fmt.Sprintf("nettune-t%d", os.Getpid())
	script := `set -e
mount --make-rprivate /
mount -t tmpfs nettune-test /etc/sysctl.d
mkdir -p /var/lib
mount -t tmpfs nettune-test /var/lib
ip netns add "$NS"
trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
ip netns exec "$NS" "$BIN" apply --yes "$PROFILE" >/dev/null 2>&1
echo "inside $(ip netns exec "$NS" cat /proc/sys/net/core/somaxconn)"
if "$BIN" revert --yes 2>/tmp/err >/dev/null; then echo "outer-revert ok"; else echo "outer-revert refused"; fi
grep -q "ip netns exec $NS nettune revert" /tmp/err && echo named
echo "outer $(cat /proc/sys/net/core/somaxconn)"
ip netns exec "$NS" "$BIN" revert --yes >/dev/null
echo "inside-after $(ip netns exec "$NS" cat /proc/sys/net/core/somaxconn)"
test ! -e /var/lib/nettune && echo state-removed
`
	cmd := exec.Command("unshare", "--mount", "--", "sh", "-c", strings.ReplaceAll(script, "/tmp/err", filepath.Join(dir, "err")))
	cmd.Env = append(os.Environ(), "BIN="+bin, "PROFILE="+prof, "NS="+ns)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("namespace script: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{"inside 1777", "outer-revert refused", "named", "inside-after 4096", "state-removed"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
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

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildNettune builds the real binaries (nettune and nettune-forwarder) once for the tests that need
// processes of their own (DPDK's EAL starts once per process; network
// namespaces are per process). TestMain removes it.
func buildNettune(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nettune-cli-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "nettune")
		// As make build: nettune without cgo, the forwarder it runs next
		// to it.
		build := exec.Command("go", "build", "-o", builtBin, "../../cmd/nettune")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
			return
		}
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "nettune-forwarder"), "../../cmd/nettune-forwarder").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build the forwarder: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

func skipUnlessDPDK(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (DPDK)")
	}
	if out, err := exec.Command("pkg-config", "--exists", "libdpdk").CombinedOutput(); err != nil {
		t.Skipf("DPDK development files not installed: %v %s", err, out)
	}
	if b, _ := os.ReadFile("/sys/devices/system/cpu/online"); strings.TrimSpace(string(b)) == "0" {
		t.Skip("needs two CPUs")
	}
	// One busy-polling forwarder at a time on this machine's worker CPU.
	fixture.LockHost(t, "dpdk-cpus")
}

// TestPrivilegedRunNullForwarder runs the shipped null-forwarder profile
// through the real CLI for two seconds and reads the JSON summary.
func TestPrivilegedRunNullForwarder(t *testing.T) {
	skipUnlessDPDK(t)
	bin := buildNettune(t)
	cmd := exec.Command(bin, "run", "--duration", "2s", "-o", "json", "null-forwarder")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var doc struct {
		FormatVersion string  `json:"format_version"`
		Forwarded     uint64  `json:"forwarded"`
		Dropped       uint64  `json:"dropped"`
		Mpps          float64 `json:"mpps"`
		Elapsed       float64 `json:"elapsedSeconds"`
		Ports         []struct {
			Name    string
			Rx, Tx  uint64
			Dropped uint64
		} `json:"ports"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("summary: %v\n%s", err, out)
	}
	if doc.FormatVersion != "1" || doc.Forwarded == 0 || doc.Mpps <= 0 || doc.Elapsed <= 0 || len(doc.Ports) != 2 {
		t.Fatalf("summary %+v", doc)
	}
	var rx uint64
	for _, p := range doc.Ports {
		rx += p.Rx
	}
	if rx != doc.Forwarded+doc.Dropped {
		t.Errorf("received %d != forwarded %d + dropped %d", rx, doc.Forwarded, doc.Dropped)
	}
	if in := dataplane.ReadInstances("/run/nettune"); len(in) != 0 {
		t.Errorf("forwarder statistics left behind: %+v", in)
	}
}

// TestPrivilegedRunSIGTERM: SIGTERM while forwarding exits 0 with a
// summary and leaves no DPDK runtime directory.
func TestPrivilegedRunSIGTERM(t *testing.T) {
	skipUnlessDPDK(t)
	bin := buildNettune(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "run", "-o", "json", "--metrics-listen", addr, "null-forwarder")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("/var/run/dpdk/nettune-%d", cmd.Process.Pid)
	// The forwarder's metrics while it runs.
	var metrics string
	for i := 0; i < 40 && !strings.Contains(metrics, `nettune_forwarder_packets_total{direction="tx",forwarder="nettune-`); i++ {
		time.Sleep(250 * time.Millisecond)
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			metrics = string(b)
		}
	}
	if !strings.Contains(metrics, `nettune_forwarder_packets_total{direction="tx",forwarder="nettune-`) {
		t.Errorf("no forwarder metrics on %s:\n%s\n%s", addr, metrics, stderr.String())
	}
	if in := dataplane.ReadInstances("/run/nettune"); len(in) != 1 || !in[0].Up {
		t.Errorf("statistics not published for the exporter: %+v", in)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"forwarded"`) {
		t.Errorf("no summary after SIGTERM:\n%s", stdout.String())
	}
	if _, err := os.Stat(prefix); err == nil {
		t.Errorf("%s left behind", prefix)
	}
}

func TestRunRefusesOfflineRoot(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	r := run(t, "", false, "--root", root, "run", "null-forwarder")
	if r.code != ExitError || !(strings.Contains(r.stderr, "cannot run against --root") || strings.Contains(r.stderr, "without the dpdk forwarder")) {
		t.Fatalf("run --root: %d %q", r.code, r.stderr)
	}
}
