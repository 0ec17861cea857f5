package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/host"
)

// nettune run without the forwarder program says what to install and
// exits 1, before it looks at the host.
func TestRunWithoutForwarder(t *testing.T) {
	if _, err := os.Stat("/usr/lib/nettune/nettune-forwarder"); err == nil {
		t.Skip("/usr/lib/nettune/nettune-forwarder is installed on this host")
	}
	t.Setenv("PATH", t.TempDir())
	r := run(t, "", false, "run", "null-forwarder")
	if r.code != ExitError {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", r.code, ExitError, r.stderr)
	}
	for _, want := range []string{"nettune-forwarder is not installed", "/usr/lib/nettune/nettune-forwarder", "nettune-forwarder in PATH", "apt-get install nettune-forwarder,"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
		}
	}
}

// The nettune binary links no DPDK: no package it imports has cgo files
// outside the standard library, it does not import the forwarder, and it
// builds with CGO_ENABLED=0 into a binary ldd finds no librte in.
func TestNettuneLinksNoDPDK(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nettune")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{len .CgoFiles}}", "../../cmd/nettune").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		if strings.HasSuffix(f[0], "/pkg/dataplane/forwarder") {
			t.Errorf("cmd/nettune imports %s (DPDK)", f[0])
		}
		if f[1] == "false" && f[2] != "0" {
			t.Errorf("cmd/nettune imports %s, which has cgo files", f[0])
		}
	}
	bin := filepath.Join(t.TempDir(), "nettune")
	build := exec.Command(gobin, "build", "-o", bin, "../../cmd/nettune")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/nettune: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil {
		t.Errorf("nettune version: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("ldd"); err == nil {
		out, _ := exec.Command("ldd", bin).CombinedOutput()
		if strings.Contains(string(out), "librte") {
			t.Errorf("ldd %s lists DPDK libraries:\n%s", bin, out)
		}
	}
}

// fakeForwarder writes a shell script that speaks the forwarder's protocol:
// EAL arguments, started, one stats line, then on SIGTERM or SIGINT the
// final counters and the exit code in $FAKE_EXIT; stdin is saved to
// dir/config.json and the signal's name to dir/signal.
func fakeForwarder(t *testing.T, dir string) string {
	t.Helper()
	st := dataplane.Stats{Elapsed: time.Second, Ports: []dataplane.PortStats{
		{Name: "p0", Rx: 10, Tx: 10, Device: dataplane.DeviceCounters{RxBytes: 640, RxNoMbuf: 3}, Xstats: map[string]uint64{"rx_q0_packets": 10}},
		{Name: "p1", Rx: 10, Tx: 10}}}
	b, _ := json.Marshal(dataplane.Message{Stats: &st})
	fb, _ := json.Marshal(dataplane.Message{Final: true, Stats: &st})
	script := `#!/bin/sh
cat > ` + dir + `/config.json
echo "$@" > ` + dir + `/args
stop() { echo "$1" > ` + dir + `/signal; echo '` + string(fb) + `'; exit ${FAKE_EXIT:-0}; }
trap 'stop TERM' TERM
trap 'stop INT' INT
echo '{"ealArgs":["--no-pci"]}'
echo '{"started":true,"warnings":["fake"]}'
echo '` + string(b) + `'
while :; do sleep 0.05; done
`
	p := filepath.Join(dir, "nettune-forwarder")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSuperviseForwarder(t *testing.T) {
	for _, tt := range []struct {
		name     string
		exit     string
		cancel   bool // stop by cancelling the context, else --duration
		hangup   bool // stop by SIGHUP to nettune (an SSH session dropping)
		wantCode int
	}{
		{name: "duration", exit: "0"},
		{name: "cancelled", exit: "0", cancel: true},
		{name: "hangup", exit: "0", hangup: true},
		{name: "exit code", exit: "7", wantCode: 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			prog := fakeForwarder(t, dir)
			t.Setenv("FAKE_EXIT", tt.exit)
			root, err := host.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			a := &app{io: IO{Out: &out, ErrOut: &errOut}, log: slog.New(slog.NewTextHandler(&errOut, nil))}
			a.printer = &output.Printer{W: &out, ErrW: &errOut, Format: output.JSON}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			duration := 300 * time.Millisecond
			if tt.cancel {
				duration = 0
				time.AfterFunc(300*time.Millisecond, cancel)
			}
			if tt.hangup {
				duration = 0
				time.AfterFunc(300*time.Millisecond, func() { syscall.Kill(os.Getpid(), syscall.SIGHUP) })
			}
			cfg := dataplane.Config{Mode: dataplane.ModeMAC, Lcores: []int{1}}
			err = a.superviseForwarder(ctx, prog, cfg, duration, "", 0, root)
			code := 0
			if err != nil {
				ee, ok := err.(exitError)
				if !ok {
					t.Fatalf("error %v, want an exit code", err)
				}
				code = ee.code
			}
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut.String())
			}
			if sig, _ := os.ReadFile(filepath.Join(dir, "signal")); strings.TrimSpace(string(sig)) != "TERM" {
				t.Errorf("the forwarder got %q, want TERM", sig)
			}
			var got dataplane.Config
			if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err != nil || json.Unmarshal(b, &got) != nil || got.Mode != dataplane.ModeMAC {
				t.Errorf("the forwarder's stdin: %s, %v", b, err)
			}
			// The forwarder publishes its own stats file, per instance,
			// under the root's /run/nettune.
			if args, _ := os.ReadFile(filepath.Join(dir, "args")); strings.TrimSpace(string(args)) != "-run-dir "+root.Path(dataplane.RunDir) {
				t.Errorf("the forwarder's arguments: %q", args)
			}
			if !strings.Contains(errOut.String(), "EAL arguments: --no-pci") || !strings.Contains(errOut.String(), "warning: fake") {
				t.Errorf("stderr lacks the EAL arguments or the warning:\n%s", errOut.String())
			}
			if tt.wantCode == 0 && !strings.Contains(out.String(), `"forwarded": 20`) {
				t.Errorf("summary lacks the final counters:\n%s", out.String())
			}
			for _, want := range []string{`"rxBytes": 640`, `"rxNoMbuf": 3`, `"rx_q0_packets": 10`} {
				if tt.wantCode == 0 && !strings.Contains(out.String(), want) {
					t.Errorf("summary lacks %s:\n%s", want, out.String())
				}
			}
		})
	}
}

// A bad --metrics-listen address fails before the forwarder (and with it
// the EAL) starts: nothing on a NIC is touched for a typo.
func TestSuperviseBadMetricsAddress(t *testing.T) {
	dir := t.TempDir()
	prog := fakeForwarder(t, dir)
	root, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	a := &app{io: IO{Out: &out, ErrOut: &errOut}, log: slog.New(slog.NewTextHandler(&errOut, nil))}
	a.printer = &output.Printer{W: &out, ErrW: &errOut, Format: output.JSON}
	err = a.superviseForwarder(context.Background(), prog, dataplane.Config{Lcores: []int{1}}, 300*time.Millisecond, "127.0.0.1:no-such-port", 0, root)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:no-such-port") {
		t.Fatalf("bad metrics address: %v, want an error naming it", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		t.Error("the forwarder was started despite the bad metrics address")
	}
}

// The same through the real CLI and forwarder: exit 1, no EAL output.
func TestPrivilegedRunBadMetricsAddress(t *testing.T) {
	skipUnlessDPDK(t)
	bin := buildNettune(t)
	// An address in use: bound here first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, addr := range []string{"127.0.0.1:no-such-port", ln.Addr().String()} {
		out, err := exec.Command(bin, "run", "--duration", "2s", "--metrics-listen", addr, "null-forwarder").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
			t.Errorf("run --metrics-listen %s: %v, want exit non-zero\n%s", addr, err, out)
		}
		if strings.Contains(string(out), "EAL") || !strings.Contains(string(out), "listen on "+addr) {
			t.Errorf("run --metrics-listen %s: the EAL started, or the error does not name the address:\n%s", addr, out)
		}
	}
}

// Off a terminal: "forwarding started" once the forwarder runs, then with
// --stats-period the counters on stdout, as a table or as JSON lines (the
// summary too is one line then).
func TestSuperviseStatsPeriod(t *testing.T) {
	for _, format := range []output.Format{output.Table, output.JSON} {
		t.Run(string(format), func(t *testing.T) {
			dir := t.TempDir()
			prog := fakeForwarder(t, dir)
			root, err := host.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			a := &app{io: IO{Out: &out, ErrOut: &errOut}, log: slog.New(slog.NewTextHandler(&errOut, nil))}
			a.printer = &output.Printer{W: &out, ErrW: &errOut, Format: format}
			if err := a.superviseForwarder(context.Background(), prog, dataplane.Config{Lcores: []int{1}}, 300*time.Millisecond, "", time.Second, root); err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			if !strings.Contains(errOut.String(), "forwarding started") {
				t.Errorf("no started line on stderr:\n%s", errOut.String())
			}
			if format == output.Table {
				if !strings.Contains(out.String(), "--- 1.0s\nPORT") || !strings.Contains(out.String(), "Forwarded 20 packets") || !strings.Contains(out.String(), "p0 xstats: rx_q0_packets=10") {
					t.Errorf("stdout:\n%s", out.String())
				}
				return
			}
			var kinds []string
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var doc struct {
					Kind  string `json:"kind"`
					Ports []struct {
						Name  string  `json:"name"`
						TxPPS float64 `json:"txPps"`
					} `json:"ports"`
				}
				if err := json.Unmarshal([]byte(line), &doc); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				kinds = append(kinds, doc.Kind)
				if doc.Kind == "run-stats" && (len(doc.Ports) != 2 || doc.Ports[0].TxPPS != 10) {
					t.Errorf("stats line %q", line)
				}
			}
			if strings.Join(kinds, " ") != "run-stats run" {
				t.Errorf("stdout kinds %v:\n%s", kinds, out.String())
			}
		})
	}
}

// The real CLI with the real forwarder, its output read as a script would.
func TestPrivilegedRunStatsPeriod(t *testing.T) {
	skipUnlessDPDK(t)
	bin := buildNettune(t)
	out, err := exec.Command(bin, "run", "--duration", "3s", "--stats-period", "1", "-o", "json", "null-forwarder").CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	started, stats, summary := -1, 0, false
	for i, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "forwarding started"):
			started = i
		case strings.Contains(line, `"kind":"run-stats"`):
			if started < 0 {
				t.Errorf("stats before the started line:\n%s", out)
			}
			stats++
		case strings.Contains(line, `"kind":"run"`):
			summary = true
		}
	}
	if started < 0 || stats < 2 || !summary {
		t.Errorf("started line %d, %d stats lines, summary %v:\n%s", started, stats, summary, out)
	}
}
