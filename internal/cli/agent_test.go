package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
)

// syncBuffer is a bytes.Buffer the agent's goroutine writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runningAgent is nettune agent running in-process.
type runningAgent struct {
	url    string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

var agentAddr = regexp.MustCompile(`serving /metrics.* addr=(\S+)`)

// startAgent runs nettune agent with args (after the verb) and waits until
// it serves, or fails the test with its log if it exits first.
func startAgent(t *testing.T, args ...string) *runningAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		ra.done <- Run(ctx, append([]string{"agent", "--listen", "127.0.0.1:0", "--poll", "20ms"}, args...), IO{In: strings.NewReader(""), Out: io.Discard, ErrOut: ra.stderr})
	}()
	t.Cleanup(func() { ra.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := agentAddr.FindStringSubmatch(ra.stderr.String()); m != nil {
			ra.url = "http://" + m[1]
			return ra
		}
		select {
		case code := <-ra.done:
			ra.done <- code
			t.Fatalf("agent exited %d before serving:\n%s", code, ra.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("agent does not serve after 10s:\n%s", ra.stderr)
	return nil
}

// stop cancels the agent and returns its exit code.
func (ra *runningAgent) stop(t *testing.T) int {
	t.Helper()
	ra.cancel()
	select {
	case code := <-ra.done:
		ra.done <- code
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("agent does not stop:\n%s", ra.stderr)
	}
	return -1
}

func (ra *runningAgent) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(ra.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond for up to 10 s.
func (ra *runningAgent) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	code, ready := ra.get(t, "/readyz")
	t.Fatalf("after 10s, not %s; /readyz %d %q; log:\n%s", what, code, ready, ra.stderr)
}

// configMapDir lays out dir as the kubelet lays out a ConfigMap volume:
// profile.yaml -> ..data/profile.yaml, ..data -> ..<version>. swap
// publishes a new version the way the kubelet does, by renaming a new
// ..data symlink over the old one.
type configMapDir struct {
	dir     string
	version int
}

func (c *configMapDir) file() string { return filepath.Join(c.dir, "profile.yaml") }

func (c *configMapDir) swap(t *testing.T, content string) {
	t.Helper()
	c.version++
	ver := "..v" + string(rune('0'+c.version))
	if err := os.MkdirAll(filepath.Join(c.dir, ver), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, ver, "profile.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(ver, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if c.version == 1 {
		if err := os.Symlink("..data/profile.yaml", c.file()); err != nil {
			t.Fatal(err)
		}
	}
}

func sysctlProfile(somaxconn string) string {
	return `apiVersion: nettune/v1
kind: Profile
metadata:
  name: agent-test
spec:
  sysctl:
    net.core.somaxconn: ` + somaxconn + `
    net.core.netdev_max_backlog: 16384
`
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestAgentAppliesOnStartAndOnConfigMapChange runs the agent on a fixture
// host with its profile in a ConfigMap-like volume: it applies at start and
// is ready; a new ConfigMap version (a symlink swap) is applied again; a
// version that does not load leaves the host as it was and makes the agent
// unready; drift made by hand makes it unready at the next check; the
// metrics carry the exporter's and the agent's series.
func TestAgentAppliesOnStartAndOnConfigMapChange(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	somaxconn := filepath.Join(root, "proc/sys/net/core/somaxconn")
	cm := &configMapDir{dir: t.TempDir()}
	cm.swap(t, sysctlProfile("8192"))

	ra := startAgent(t, "--resync", "50ms", "--root", root, cm.file())
	if got := readTrim(t, somaxconn); got != "8192" {
		t.Fatalf("somaxconn after start = %s, want 8192", got)
	}
	if code, body := ra.get(t, "/readyz"); code != 200 || !strings.Contains(body, `profile "agent-test" applied, check ok`) {
		t.Fatalf("/readyz after start: %d %q", code, body)
	}
	if code, body := ra.get(t, "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	_, metrics := ra.get(t, "/metrics")
	for _, want := range []string{
		`nettune_profile_in_sync{profile="agent-test"} 1`,
		"nettune_agent_ready 1", "nettune_agent_applies_total 1", "nettune_agent_generation 1",
		"nettune_agent_reboot_required 0", `nettune_agent_profile_info{profile="agent-test",sha256="`,
		`nettune_setting_in_sync{attribute="value",module="sysctl",object="net.core.somaxconn"} 1`,
		`nettune_profile_info{hash="`, "nettune_journal_generation 1",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}

	profileHash := regexp.MustCompile(`nettune_profile_info\{hash="([0-9a-f]{64})",profile="agent-test"\} 1`)
	hash1 := profileHash.FindStringSubmatch(metrics)

	cm.swap(t, sysctlProfile("4096"))
	ra.waitFor(t, "re-applied after the ConfigMap changed", func() bool { return readTrim(t, somaxconn) == "4096" })
	ra.waitFor(t, "ready after the re-apply, as generation 2", func() bool {
		_, m := ra.get(t, "/metrics")
		return strings.Contains(m, "nettune_agent_applies_total 2") && strings.Contains(m, "nettune_agent_generation 2") && strings.Contains(m, "nettune_agent_ready 1")
	})
	// The exporter's profile identity follows the new content.
	_, m := ra.get(t, "/metrics")
	if hash2 := profileHash.FindStringSubmatch(m); hash1 == nil || hash2 == nil || hash1[1] == hash2[1] || !strings.Contains(m, "nettune_journal_generation 2") {
		t.Errorf("nettune_profile_info %v, then %v; /metrics:\n%s", hash1, hash2, m)
	}

	cm.swap(t, sysctlProfile("not-a-number"))
	ra.waitFor(t, "unready with a profile that does not load", func() bool {
		code, body := ra.get(t, "/readyz")
		return code == 503 && strings.Contains(body, "profile.yaml")
	})
	if got := readTrim(t, somaxconn); got != "4096" {
		t.Errorf("a profile that does not load changed somaxconn to %s", got)
	}
	if _, m := ra.get(t, "/metrics"); !strings.Contains(m, "nettune_agent_apply_failures_total 1") || !strings.Contains(m, "nettune_agent_last_apply_success 0") {
		t.Errorf("after a bad profile, /metrics:\n%s", m)
	}

	cm.swap(t, sysctlProfile("2048"))
	ra.waitFor(t, "ready after a good profile", func() bool { code, _ := ra.get(t, "/readyz"); return code == 200 })
	if err := os.WriteFile(somaxconn, []byte("128\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ra.waitFor(t, "unready after drift", func() bool {
		code, body := ra.get(t, "/readyz")
		return code == 503 && strings.Contains(body, "check drift")
	})
	if got := readTrim(t, somaxconn); got != "128" {
		t.Errorf("the agent re-applied on drift: somaxconn = %s", got)
	}
	// The drift is on the one setting's series; the others stay in sync.
	if _, m := ra.get(t, "/metrics"); !strings.Contains(m, `nettune_setting_in_sync{attribute="value",module="sysctl",object="net.core.somaxconn"} 0`) ||
		!strings.Contains(m, `nettune_setting_in_sync{attribute="value",module="sysctl",object="net.core.netdev_max_backlog"} 1`) {
		t.Errorf("after drift, /metrics:\n%s", m)
	}
	if code := ra.stop(t); code != ExitOK {
		t.Errorf("agent exit %d after cancel:\n%s", code, ra.stderr)
	}
}

// TestAgentRebootSentinel applies a profile with kernel arguments: the
// agent is ready (pending-reboot is in sync for /readyz), writes the
// sentinel kured watches under the root, says so in its log and metrics,
// and reboots nothing (an offline root runs no program).
func TestAgentRebootSentinel(t *testing.T) {
	root := fixture.Unpack(t, "../../testdata/hosts/topo-1node-8cpu.txtar")
	if err := fixture.UnpackTo("../../testdata/hosts/boot-rhel-bls.txtar", root); err != nil {
		t.Fatal(err)
	}
	ra := startAgent(t, "--root", root, "../../testdata/profiles/dpdk-1node.yaml")
	if code, body := ra.get(t, "/readyz"); code != 200 || !strings.Contains(body, "check pending-reboot") || !strings.Contains(body, "wait for a reboot") {
		t.Fatalf("/readyz: %d %q\n%s", code, body, ra.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(root, "run/reboot-required")); err != nil || !strings.Contains(string(b), "nettune: profile") {
		t.Fatalf("sentinel: %q %v", b, err)
	}
	if _, m := ra.get(t, "/metrics"); !strings.Contains(m, "nettune_agent_reboot_required 1") {
		t.Errorf("/metrics:\n%s", m)
	}
	if !strings.Contains(ra.stderr.String(), "reboot required") {
		t.Errorf("log does not say a reboot is required:\n%s", ra.stderr)
	}
}

// TestAgentRefusesOtherManager: with tuned or the NTO's tuned on the node
// the agent exits 1 before changing anything, names the manager in its log
// and in the termination message file.
func TestAgentRefusesOtherManager(t *testing.T) {
	for name, tc := range map[string]struct{ file, content, want string }{
		"systemd unit":  {"run/systemd/units/invocation:tuned.service", "", "tuned.service is active"},
		"tuned process": {"proc/4242/cmdline", "/usr/bin/python3\x00-Es\x00/usr/sbin/tuned\x00-l\x00-P\x00", "the tuned daemon (pid 4242"},
		"tuned comm":    {"proc/4243/comm", "tuned\n", "the tuned daemon (pid 4243)"},
		"NTO tuned pod": {"proc/77/cmdline", "/usr/bin/cluster-node-tuning-operator\x00openshift-tuned\x00--in-cluster\x00", "Node Tuning Operator"},
	} {
		t.Run(name, func(t *testing.T) {
			root := fixture.Unpack(t, hostFixture)
			p := filepath.Join(root, tc.file)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			before := fixture.Digest(t, root)
			term := filepath.Join(t.TempDir(), "termination-log")
			if err := os.WriteFile(term, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			r := run(t, "", false, "agent", "--listen", "127.0.0.1:0", "--termination-log", term, "--root", root, profileFile)
			if r.code != ExitError || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "another manager tunes this node") {
				t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
			if msg := readTrim(t, term); !strings.Contains(msg, tc.want) {
				t.Errorf("termination message %q lacks %q", msg, tc.want)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
				t.Errorf("refusing agent changed the host: %v", diffs)
			}
		})
	}
}

// TestAgentBadProfileAtStart: a profile that does not load at start is an
// error with a termination message, and no server is started.
func TestAgentBadProfileAtStart(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	bad := filepath.Join(t.TempDir(), "profile.yaml")
	if err := os.WriteFile(bad, []byte(sysctlProfile("nope")), 0o644); err != nil {
		t.Fatal(err)
	}
	term := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(term, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", false, "agent", "--listen", "127.0.0.1:0", "--termination-log", term, "--root", root, bad)
	if r.code != ExitError || strings.Contains(r.stderr, "serving") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if msg := readTrim(t, term); !strings.Contains(msg, bad) {
		t.Errorf("termination message %q does not name the file", msg)
	}
}
