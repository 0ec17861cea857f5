package dataplane

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
)

// fakeTask writes root/proc/PID/task/TID/stat with this state and
// processor (field 39).
func fakeTask(t *testing.T, root string, pid, tid int, comm, state string, cpu int) {
	t.Helper()
	d := filepath.Join(root, "proc", strconv.Itoa(pid), "task", strconv.Itoa(tid))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	f := []string{strconv.Itoa(tid), "(" + comm + ")", state}
	for i := 4; i <= 52; i++ {
		f = append(f, "0")
	}
	f[38] = strconv.Itoa(cpu)
	if err := os.WriteFile(filepath.Join(d, "stat"), []byte(strings.Join(f, " ")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeProc(t *testing.T, root, rel, value string) {
	t.Helper()
	p := filepath.Join(root, "proc", rel)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunnableOnWorkerCPUs(t *testing.T) {
	dir := t.TempDir()
	fakeTask(t, dir, 10, 10, "stress ng", "R", 2)   // runnable on a worker CPU
	fakeTask(t, dir, 10, 11, "stress ng", "S", 2)   // sleeping
	fakeTask(t, dir, 20, 20, "other", "R", 0)       // runnable elsewhere
	fakeTask(t, dir, 30, 31, "self thread", "R", 3) // the caller itself
	fakeTask(t, dir, 40, 41, "x) (y", "R", 3)
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := RunnableOn(r, []int{2, 3}, 30)
	if len(got) != 2 || got[0] != (Runnable{PID: 10, TID: 10, Comm: "stress ng", CPU: 2}) || got[1].Comm != "x) (y" || got[1].CPU != 3 {
		t.Fatalf("RunnableOn = %+v", got)
	}
	if w := runnableWarning(got); !strings.Contains(w, "2 task(s) are runnable on worker CPUs right now: stress ng (pid 10, tid 10) on CPU 2") {
		t.Errorf("warning %q", w)
	}
	if runnableWarning(nil) != "" {
		t.Error("warning without tasks")
	}
}

func TestRTThrottleWarning(t *testing.T) {
	dir := t.TempDir()
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if w := RTThrottleWarning(r); w != "" {
		t.Errorf("warning without the files: %q", w)
	}
	writeProc(t, dir, "sys/kernel/sched_rt_period_us", "1000000")
	writeProc(t, dir, "sys/kernel/sched_rt_runtime_us", "950000")
	if w := RTThrottleWarning(r); !strings.Contains(w, "pauses each SCHED_FIFO worker for 50.0 ms every 1000.0 ms") {
		t.Errorf("warning %q", w)
	}
	writeProc(t, dir, "sys/kernel/sched_rt_runtime_us", "-1")
	if w := RTThrottleWarning(r); w != "" {
		t.Errorf("warning with throttling off: %q", w)
	}
	// The preflight warns only for SCHED_FIFO workers.
	writeProc(t, dir, "sys/kernel/sched_rt_runtime_us", "950000")
	cfg := nullConfig(1)
	cfg.NoHuge = true
	topo := &numa.Topology{Isolated: cpuset.Of(1)}
	if _, w := Preflight(r, topo, cfg); strings.Contains(strings.Join(w, "\n"), "RT throttling") {
		t.Errorf("RT warning for SCHED_OTHER workers: %q", w)
	}
	cfg.RTPriority = 10
	if _, w := Preflight(r, topo, cfg); !strings.Contains(strings.Join(w, "\n"), "RT throttling") {
		t.Errorf("no RT warning for SCHED_FIFO workers: %q", w)
	}
}
