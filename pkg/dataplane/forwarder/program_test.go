//go:build cgo && !nodpdk && linux

package forwarder

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/dataplane"
)

// These tests run the real program, nettune-forwarder (cmd/nettune-forwarder),
// as nettune run does: configuration on stdin, messages on stdout.

func program(t *testing.T) string {
	return buildOnce(t, "../../../cmd/nettune-forwarder", dataplane.ForwarderProgram)
}

// fwdProc is a running nettune-forwarder.
type fwdProc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	mu     sync.Mutex
	msgs   []dataplane.Message
	lines  []string
	exited chan struct{}
}

func (p *fwdProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b bytes.Buffer
	for _, l := range p.lines {
		b.WriteString(l + "\n")
	}
	return b.String() + p.stderr.String()
}

func (p *fwdProc) messages() []dataplane.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]dataplane.Message(nil), p.msgs...)
}

// startProgram starts nettune-forwarder on cfg with args (inside netns ns
// when set) and, when wait, waits for its started message.
func startProgram(t *testing.T, ns string, cfg dataplane.Config, wait bool, args ...string) *fwdProc {
	t.Helper()
	in, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{program(t)}, args...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	p := &fwdProc{cmd: exec.Command(argv[0], argv[1:]...), exited: make(chan struct{})}
	p.cmd.Stdin = bytes.NewReader(in)
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan bool, 1)
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		ok := false
		for sc.Scan() {
			var m dataplane.Message
			json.Unmarshal(sc.Bytes(), &m)
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.msgs = append(p.msgs, m)
			p.mu.Unlock()
			if m.Started && !ok {
				ok = true
				started <- true
			}
		}
		if !ok {
			started <- false
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	if !wait {
		return p
	}
	select {
	case ok := <-started:
		if !ok {
			p.cmd.Wait()
			t.Fatalf("nettune-forwarder did not start:\n%s", p.output())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("nettune-forwarder did not start in 30s:\n%s", p.output())
	}
	return p
}

// stop signals the program and returns its exit status once it exited.
func (p *fwdProc) stop(t *testing.T, sig syscall.Signal) *os.ProcessState {
	t.Helper()
	p.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { <-p.exited; p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("nettune-forwarder did not exit 20s after %v:\n%s", sig, p.output())
	}
	return p.cmd.ProcessState
}

// nullProgramConfig is two net_null ports without hugepages.
func nullProgramConfig(mainCPUs []int, worker int, prefix string) dataplane.Config {
	cfg := nullConfig(worker)
	cfg.MainCPUs = mainCPUs
	cfg.NoHuge, cfg.MemoryMB, cfg.FilePrefix = true, 128, prefix
	return cfg
}

// TestPrivilegedInstancesSideBySide runs two forwarders at once: each
// publishes its own stats file (named by its EAL prefix, with its pid);
// after kill -9 of one its file reads as stale (not Up) while the other
// stays Up; the survivor's clean exit removes only its own file; the next
// start sweeps the stale one.
func TestPrivilegedInstancesSideBySide(t *testing.T) {
	mainCPUs, worker := needRoot(t)
	fixture.LockHost(t, "dpdk-cpus")
	runDir := t.TempDir()
	pa, pb := fmt.Sprintf("nt-test-a-%d", os.Getpid()), fmt.Sprintf("nt-test-b-%d", os.Getpid())
	args := []string{"-run-dir", runDir, "-interval", "200ms"}
	a := startProgram(t, "", nullProgramConfig(mainCPUs, worker, pa), true, args...)
	b := startProgram(t, "", nullProgramConfig(mainCPUs, worker, pb), true, args...)
	time.Sleep(500 * time.Millisecond)
	for _, m := range a.messages() {
		if m.Started && m.Instance != pa {
			t.Errorf("started message names instance %q, want %q", m.Instance, pa)
		}
	}

	in := dataplane.ReadInstances(runDir)
	if len(in) != 2 || in[0].Prefix != pa || in[1].Prefix != pb || !in[0].Up || !in[1].Up {
		t.Fatalf("instances while both run: %+v", in)
	}
	if in[0].PID != a.cmd.Process.Pid || in[1].PID != b.cmd.Process.Pid || in[0].Stats.Forwarded() == 0 || in[1].Stats.Forwarded() == 0 {
		t.Errorf("instances: a pid %d fwd %d, b pid %d fwd %d; want pids %d, %d and counters", in[0].PID, in[0].Stats.Forwarded(), in[1].PID, in[1].Stats.Forwarded(), a.cmd.Process.Pid, b.cmd.Process.Pid)
	}
	if time.Since(in[0].Updated) > 5*time.Second {
		t.Errorf("a updated %v ago", time.Since(in[0].Updated))
	}

	a.stop(t, syscall.SIGKILL)
	in = dataplane.ReadInstances(runDir)
	if len(in) != 2 || in[0].Up || !in[1].Up {
		t.Fatalf("after kill -9 of a: %+v", in)
	}
	t.Logf("a after kill -9: %s", in[0].Stale)
	// Its EAL runtime dir (with a dead telemetry socket) stays; the
	// default prefix would be swept, this one is removed here.
	t.Cleanup(func() { removeRuntimeDir(filepath.Join("/var/run/dpdk", pa)) })

	if st := b.stop(t, syscall.SIGTERM); !st.Success() {
		t.Fatalf("b after SIGTERM: %v\n%s", st, b.output())
	}
	if in = dataplane.ReadInstances(runDir); len(in) != 1 || in[0].Prefix != pa {
		t.Fatalf("after b's clean exit: %+v", in)
	}

	c := startProgram(t, "", nullProgramConfig(mainCPUs, worker, pa+"c"), true, args...)
	if in = dataplane.ReadInstances(runDir); len(in) != 1 || in[0].Prefix != pa+"c" || !in[0].Up {
		t.Errorf("after a new start: %+v, want only the new instance", in)
	}
	if st := c.stop(t, syscall.SIGTERM); !st.Success() {
		t.Fatalf("c after SIGTERM: %v\n%s", st, c.output())
	}
}

// finalMessage is the program's final message, nil without one.
func (p *fwdProc) finalMessage() *dataplane.Message {
	for _, m := range p.messages() {
		if m.Final {
			return &m
		}
	}
	return nil
}

// TestPrivilegedSIGHUPStopsCleanly: SIGHUP (the SSH session of the shell
// that started it dropping) stops the forwarder like SIGTERM: exit 0, final
// counters, stats file removed.
func TestPrivilegedSIGHUPStopsCleanly(t *testing.T) {
	mainCPUs, worker := needRoot(t)
	fixture.LockHost(t, "dpdk-cpus")
	runDir := t.TempDir()
	p := startProgram(t, "", nullProgramConfig(mainCPUs, worker, fmt.Sprintf("nt-test-hup-%d", os.Getpid())), true, "-run-dir", runDir)
	if st := p.stop(t, syscall.SIGHUP); !st.Success() {
		t.Fatalf("after SIGHUP: %v\n%s", st, p.output())
	}
	if m := p.finalMessage(); m == nil || m.Stats.Forwarded() == 0 {
		t.Errorf("no final counters after SIGHUP:\n%s", p.output())
	}
	if in := dataplane.ReadInstances(runDir); len(in) != 0 {
		t.Errorf("stats files after SIGHUP: %+v", in)
	}
}

// linkState is what ip says of a link in a namespace: PROMISC among its
// flags, an XDP program attached.
func linkState(t *testing.T, ns, dev string) (promisc, xdp bool) {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-d", "link", "show", "dev", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show %s: %v: %s", dev, err, out)
	}
	s := string(out)
	flags := s[strings.IndexByte(s, '<'):strings.IndexByte(s, '>')]
	return strings.Contains(flags, "PROMISC"), strings.Contains(s, "prog/xdp")
}

// TestPrivilegedAFXDPLeftovers: a forwarder on two af_xdp veths turns
// promiscuous mode on while it runs and off at a clean exit (it was off);
// after kill -9 the XDP programs and promiscuous mode stay, and the next
// start removes them before its EAL starts, even when that start then
// fails.
func TestPrivilegedAFXDPLeftovers(t *testing.T) {
	mainCPUs, worker := needRoot(t)
	fixture.LockHost(t, "dpdk-cpus")
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: needs iproute2's ip")
	}
	ns := fmt.Sprintf("nt-%d-left", os.Getpid())
	ip(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip(t, "-n", ns, "link", "add", "x0", "type", "veth", "peer", "name", "x1")
	ip(t, "-n", ns, "link", "set", "x0", "up")
	ip(t, "-n", ns, "link", "set", "x1", "up")
	runDir := t.TempDir()
	cfg := func(prefix string) dataplane.Config {
		c := nullProgramConfig(mainCPUs, worker, prefix)
		c.Ports = []dataplane.Port{{Vdev: "net_af_xdp0,iface=x0", Socket: -1}, {Vdev: "net_af_xdp1,iface=x1", Socket: -1}}
		return c
	}
	check := func(when string, wantPromisc, wantXDP bool) {
		t.Helper()
		for _, dev := range []string{"x0", "x1"} {
			if p, x := linkState(t, ns, dev); p != wantPromisc || x != wantXDP {
				t.Errorf("%s: %s promisc %v xdp %v, want %v %v", when, dev, p, x, wantPromisc, wantXDP)
			}
		}
	}
	check("before", false, false)

	prefix := fmt.Sprintf("nt-test-xdp-%d", os.Getpid())
	p := startProgram(t, ns, cfg(prefix), true, "-run-dir", runDir)
	check("running", true, true)
	if st := p.stop(t, syscall.SIGTERM); !st.Success() {
		t.Fatalf("after SIGTERM: %v\n%s", st, p.output())
	}
	check("after a clean exit", false, false)

	p = startProgram(t, ns, cfg(prefix), true, "-run-dir", runDir)
	p.stop(t, syscall.SIGKILL)
	t.Cleanup(func() { removeRuntimeDir(filepath.Join("/var/run/dpdk", prefix)) })
	check("after kill -9", true, true)

	// The next start: a bad EAL argument makes it fail after the clean-up.
	bad := cfg(prefix + "-2")
	bad.ExtraEAL = []string{"--no-such-eal-option"}
	p = startProgram(t, ns, bad, false, "-run-dir", runDir)
	if st := p.stop(t, 0); st.Success() {
		t.Fatalf("start with a bad eal argument succeeded:\n%s", p.output())
	}
	check("after the next start", false, false)
	if !strings.Contains(p.output(), "removed a leftover XDP program from x0") {
		t.Errorf("the next start does not say it removed the XDP programs:\n%s", p.output())
	}
}

// TestPrivilegedJumboFrames: an MTU of 9000 is set on the ports when the
// mbufs hold such frames; with the default 2176-byte data room a port
// that cannot scatter is refused with the data size that would do.
func TestPrivilegedJumboFrames(t *testing.T) {
	mainCPUs, worker := needRoot(t)
	fixture.LockHost(t, "dpdk-cpus")
	cfg := nullProgramConfig(mainCPUs, worker, fmt.Sprintf("nt-test-mtu-%d", os.Getpid()))
	cfg.MTU, cfg.MbufDataSize = 9000, 9216+dataplane.MbufHeadroom
	p := startProgram(t, "", cfg, true, "-run-dir", "")
	if st := p.stop(t, syscall.SIGTERM); !st.Success() {
		t.Fatalf("exit: %v\n%s", st, p.output())
	}
	m := p.finalMessage()
	if m == nil || m.Stats.Forwarded() == 0 {
		t.Fatalf("no final counters:\n%s", p.output())
	}
	for _, port := range m.Stats.Ports {
		if port.MTU != 9000 || port.Scatter {
			t.Errorf("port %s: mtu %d scatter %v, want 9000 without scatter", port.Name, port.MTU, port.Scatter)
		}
	}

	cfg.FilePrefix += "-small"
	cfg.MbufDataSize = 0
	p = startProgram(t, "", cfg, false, "-run-dir", "")
	st := p.stop(t, 0)
	t.Logf("mtu 9000 with 2176-byte mbufs on net_null: %v\n%s", st, p.output())
	if st.Success() {
		if m := p.finalMessage(); m == nil || !m.Stats.Ports[0].Scatter {
			t.Errorf("mtu 9000 in 2176-byte mbufs started without rx scatter:\n%s", p.output())
		}
	} else if !strings.Contains(p.output(), "set spec.dataplane.mbufDataSize to at least 9146") {
		t.Errorf("refusal does not name the mbuf data size:\n%s", p.output())
	}
}

// TestPrivilegedWorkerSchedFIFO: with RTPriority the worker thread runs
// SCHED_FIFO at that priority (fields 41 and 40 of its
// /proc/PID/task/TID/stat), on its worker CPU.
func TestPrivilegedWorkerSchedFIFO(t *testing.T) {
	mainCPUs, worker := needRoot(t)
	fixture.LockHost(t, "dpdk-cpus")
	cfg := nullProgramConfig(mainCPUs, worker, fmt.Sprintf("nt-test-fifo-%d", os.Getpid()))
	cfg.RTPriority = 10
	p := startProgram(t, "", cfg, true, "-run-dir", "")
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range tasks {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/comm", p.cmd.Process.Pid, e.Name()))
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", p.cmd.Process.Pid, e.Name()))
		if err != nil {
			continue
		}
		f, err := statFieldsForTest(string(b))
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSpace(string(comm))
		// proc(5): 39 processor, 40 rt_priority, 41 policy (1: SCHED_FIFO).
		policy, prio, cpu := f[40], f[39], f[38]
		if name == "rte-worker-1" {
			found = true
			if policy != "1" || prio != "10" || cpu != strconv.Itoa(worker) {
				t.Errorf("worker thread %s: policy %s priority %s cpu %s, want SCHED_FIFO (1), 10, %d", e.Name(), policy, prio, cpu, worker)
			}
		} else if policy != "0" {
			t.Errorf("thread %s (%s) has policy %s, want only the worker real-time", e.Name(), name, policy)
		}
	}
	if !found {
		t.Errorf("no rte-worker-1 thread in the forwarder")
	}
	if st := p.stop(t, syscall.SIGTERM); !st.Success() {
		t.Fatalf("exit: %v\n%s", st, p.output())
	}
}

// statFieldsForTest splits /proc/PID/stat into fields numbered from 1 at
// index 0 (the command, field 2, may hold spaces).
func statFieldsForTest(s string) ([]string, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return nil, fmt.Errorf("stat %q", s)
	}
	return append([]string{strings.TrimSpace(s[:open]), s[open+1 : end]}, strings.Fields(s[end+1:])...), nil
}
