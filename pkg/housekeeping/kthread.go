package housekeeping

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
)

const attrSched = "sched"

// kthreadNames are the per-CPU kthreads whose priority
// spec.cpu.runtime.kthreadPriority sets on each isolated CPU, as the NTO's
// TuneD profile does ([scheduler] group.ksoftirqd, group.rcuc,
// group.ktimers): rcuc/N exists with RCU priority boosting or
// rcutree.use_softirq=0, ktimers/N on PREEMPT_RT kernels.
var kthreadNames = []string{"ksoftirqd", "rcuc", "ktimers"}

// Sched is a thread's scheduling policy and priority: SCHED_FIFO and
// SCHED_RR have a priority 1-99, SCHED_OTHER and SCHED_BATCH a nice value.
type Sched struct {
	Policy   uint32
	Priority uint32
	Nice     int32
}

var policyNames = map[uint32]string{unix.SCHED_NORMAL: "other", unix.SCHED_FIFO: "fifo", unix.SCHED_RR: "rr", unix.SCHED_BATCH: "batch", unix.SCHED_IDLE: "idle"}

// String is the form plans and the journal carry: "fifo:11", "other:0"
// (the nice value for the fair policies).
func (s Sched) String() string {
	name, ok := policyNames[s.Policy]
	if !ok {
		name = strconv.Itoa(int(s.Policy))
	}
	if s.Policy == unix.SCHED_FIFO || s.Policy == unix.SCHED_RR {
		return fmt.Sprintf("%s:%d", name, s.Priority)
	}
	return fmt.Sprintf("%s:%d", name, s.Nice)
}

// ParseSched reads Sched.String's form.
func ParseSched(v string) (Sched, error) {
	name, num, ok := strings.Cut(v, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return Sched{}, fmt.Errorf("scheduling %q: want POLICY:N", v)
	}
	for p, pn := range policyNames {
		if pn != name {
			continue
		}
		if p == unix.SCHED_FIFO || p == unix.SCHED_RR {
			if n < 1 || n > 99 {
				return Sched{}, fmt.Errorf("scheduling %q: priority out of 1-99", v)
			}
			return Sched{Policy: p, Priority: uint32(n)}, nil
		}
		if n < -20 || n > 19 {
			return Sched{}, fmt.Errorf("scheduling %q: nice out of -20..19", v)
		}
		return Sched{Policy: p, Nice: int32(n)}, nil
	}
	return Sched{}, fmt.Errorf("scheduling %q: unknown policy %q", v, name)
}

// Scheduler reads and sets a thread's scheduling (sched_getattr(2),
// sched_setattr(2)). Module.Sched is nil in production: the system calls.
type Scheduler interface {
	Get(pid int) (Sched, error)
	Set(pid int, s Sched) error
}

// sysScheduler is the kernel's.
type sysScheduler struct{}

func (sysScheduler) Get(pid int) (Sched, error) {
	a, err := unix.SchedGetAttr(pid, 0)
	if err != nil {
		return Sched{}, fmt.Errorf("sched_getattr %d: %w", pid, err)
	}
	return Sched{Policy: a.Policy, Priority: a.Priority, Nice: a.Nice}, nil
}

func (sysScheduler) Set(pid int, s Sched) error {
	a := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: s.Policy, Priority: s.Priority, Nice: s.Nice}
	if err := unix.SchedSetAttr(pid, a, 0); err != nil {
		return fmt.Errorf("sched_setattr %d %s: %w", pid, s, err)
	}
	return nil
}

// scheduler is the one to use on r: the system calls only on the live
// root (a fixture's pids are not this host's); nil when there is none.
func (m Module) scheduler(r *host.Root) Scheduler {
	if m.Sched != nil {
		return m.Sched
	}
	if r.Live() {
		return sysScheduler{}
	}
	return nil
}

// FindKthread returns the pid of the kernel thread named comm: a task
// whose parent is kthreadd (pid 2) with that name in /proc/PID/status
// (a user process may call itself "ksoftirqd/3"; it is not a child of
// kthreadd). 0 when there is none.
func FindKthread(r *host.Root, comm string) (int, error) {
	entries, err := os.ReadDir(r.Proc())
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := r.ReadFile(r.Proc(e.Name(), "status"))
		if err != nil {
			continue // exited
		}
		name, ppid := ParseStatus(b)
		if name == comm && ppid == 2 {
			return pid, nil
		}
	}
	return 0, nil
}

// ParseStatus reads the Name and PPid of /proc/PID/status.
func ParseStatus(b []byte) (name string, ppid int) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch k {
		case "Name":
			name = strings.TrimSpace(v)
		case "PPid":
			ppid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return name, ppid
}

// kthreadItems plans one item per existing kthread of the isolated CPUs.
func (m Module) kthreadItems(r *host.Root, isolated cpuset.Set, prio int) ([]plan.Item, []plan.Problem, error) {
	want := Sched{Policy: unix.SCHED_FIFO, Priority: uint32(prio)}
	s := m.scheduler(r)
	var items []plan.Item
	var problems []plan.Problem
	if isolated.IsEmpty() {
		problems = append(problems, plan.Problem{Severity: plan.Warning, Module: m.Name(), Object: "runtime",
			Message: "kthreadPriority applies to the kthreads of isolated CPUs, and spec.cpu.isolated is empty: nothing to set"})
		return nil, problems, nil
	}
	for _, cpu := range isolated.List() {
		for _, base := range kthreadNames {
			comm := fmt.Sprintf("%s/%d", base, cpu)
			pid, err := FindKthread(r, comm)
			if err != nil {
				return nil, nil, err
			}
			if pid == 0 {
				continue // rcuc and ktimers exist on some kernels only
			}
			it := plan.Item{Change: plan.Change{
				Module: m.Name(), Object: comm, Attribute: attrSched, Action: plan.Set, After: want.String(), When: plan.Live,
				Reason:  fmt.Sprintf("spec.cpu.runtime.kthreadPriority: %s preempts the busy-polling task on CPU %d when it has work", comm, cpu),
				Command: fmt.Sprintf("chrt -f -p %d $(pgrep -x -P 2 %s)", prio, host.ShellQuote(comm)),
			}}
			if s == nil {
				it.Status = plan.Unsupported
				it.Detail = "scheduling priorities are read and set on the running host only, not under --root"
				items = append(items, it)
				continue
			}
			cur, err := s.Get(pid)
			if err != nil {
				return nil, nil, err
			}
			it.Before = cur.String()
			it.Status = plan.OK
			if cur != want {
				it.Status = plan.Drift
			}
			items = append(items, it)
		}
	}
	return items, problems, nil
}

// setKthread finds the kthread by name (its pid may differ after a
// reboot), sets its scheduling and reads it back.
func (m Module) setKthread(r *host.Root, comm, value string) error {
	want, err := ParseSched(value)
	if err != nil {
		return err
	}
	s := m.scheduler(r)
	if s == nil {
		return fmt.Errorf("set %s to %s: %w: not under --root", comm, value, module.ErrUnsupported)
	}
	pid, err := FindKthread(r, comm)
	if err != nil {
		return err
	}
	if pid == 0 {
		return fmt.Errorf("set %s to %s: no such kthread: %w", comm, value, os.ErrNotExist)
	}
	if err := s.Set(pid, want); err != nil {
		return fmt.Errorf("set %s (pid %d) to %s: %w", comm, pid, value, err)
	}
	got, err := s.Get(pid)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s (pid %d): set %s, kernel reports %s: %w", comm, pid, want, got, module.ErrVerify)
	}
	return nil
}

// currentKthread is Current for a kthread item.
func (m Module) currentKthread(r *host.Root, comm string) (string, bool, error) {
	s := m.scheduler(r)
	if s == nil {
		return "", false, fmt.Errorf("%s: %w: not under --root", comm, module.ErrUnsupported)
	}
	pid, err := FindKthread(r, comm)
	if err != nil {
		return "", false, err
	}
	if pid == 0 {
		return "", true, nil
	}
	cur, err := s.Get(pid)
	if err != nil {
		return "", false, err
	}
	return cur.String(), false, nil
}
