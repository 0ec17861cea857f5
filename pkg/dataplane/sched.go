package dataplane

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
)

// RTThrottleWarning explains the kernel's RT throttling when it is on
// (kernel.sched_rt_runtime_us is not -1): SCHED_FIFO tasks together may run
// only runtime µs of every period µs on a CPU, so a busy-polling SCHED_FIFO
// worker is paused for period − runtime µs every period. Empty when
// throttling is off or the files are unreadable.
func RTThrottleWarning(r *host.Root) string {
	rt, err1 := r.ReadString(r.Proc("sys/kernel/sched_rt_runtime_us"))
	per, err2 := r.ReadString(r.Proc("sys/kernel/sched_rt_period_us"))
	runtime, err3 := strconv.Atoi(strings.TrimSpace(rt))
	period, err4 := strconv.Atoi(strings.TrimSpace(per))
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || runtime < 0 || runtime >= period {
		return ""
	}
	return fmt.Sprintf("kernel.sched_rt_runtime_us is %d of every %d µs (kernel.sched_rt_period_us): RT throttling pauses each SCHED_FIFO worker for %.1f ms every %.1f ms; set kernel.sched_rt_runtime_us to -1 (spec.sysctl) so that the workers poll without pauses, on CPUs isolated from everything else",
		runtime, period, float64(period-runtime)/1000, float64(period)/1000)
}

// Runnable is a task in state R on one of the given CPUs.
type Runnable struct {
	PID, TID int
	Comm     string
	CPU      int
}

// RunnableOn lists the tasks (threads) other than those of process self
// that are runnable (state R) on one of cpus, from field 3 (state) and
// field 39 (processor, the CPU it last ran on) of /proc/PID/task/TID/stat.
// It is a snapshot: a task that runs now and then may be missed.
func RunnableOn(r *host.Root, cpus []int, self int) []Runnable {
	procs, err := os.ReadDir(r.Proc())
	if err != nil {
		return nil
	}
	var out []Runnable
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self {
			continue
		}
		tasks, err := os.ReadDir(r.Proc(p.Name(), "task"))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile(filepath.Join(r.Proc(p.Name(), "task", t.Name()), "stat"))
			if err != nil {
				continue
			}
			f, err := statFields(string(b))
			if err != nil || len(f) < 39 || f[2] != "R" {
				continue
			}
			cpu, err := strconv.Atoi(f[38])
			tid, _ := strconv.Atoi(t.Name())
			if err == nil && slices.Contains(cpus, cpu) {
				out = append(out, Runnable{PID: pid, TID: tid, Comm: f[1], CPU: cpu})
			}
		}
	}
	return out
}

// runnableWarning sums up RunnableOn for the preflight.
func runnableWarning(tasks []Runnable) string {
	if len(tasks) == 0 {
		return ""
	}
	var names []string
	for i, t := range tasks {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(tasks)-5))
			break
		}
		names = append(names, fmt.Sprintf("%s (pid %d, tid %d) on CPU %d", t.Comm, t.PID, t.TID, t.CPU))
	}
	return fmt.Sprintf("%d task(s) are runnable on worker CPUs right now: %s; a busy-polling worker shares its CPU with them (time slices lost, or with SCHED_FIFO they starve)",
		len(tasks), strings.Join(names, ", "))
}
