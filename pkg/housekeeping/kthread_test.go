package housekeeping_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/housekeeping"
	"github.com/nettune/nettune/pkg/isolcpu"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
)

// fakeSched models the kernel's scheduler attributes per pid: every
// kthread starts as SCHED_OTHER nice 0. refuse fails every set with
// EPERM (no CAP_SYS_NICE, or an RT throttled cgroup), the rollback's
// too; ignore accepts a set and keeps the old policy.
type fakeSched struct {
	attrs          map[int]housekeeping.Sched
	refuse, ignore bool
	sets           []int
}

func (f *fakeSched) Get(pid int) (housekeeping.Sched, error) {
	if s, ok := f.attrs[pid]; ok {
		return s, nil
	}
	return housekeeping.Sched{Policy: unix.SCHED_NORMAL}, nil
}

func (f *fakeSched) Set(pid int, s housekeeping.Sched) error {
	f.sets = append(f.sets, pid)
	if f.refuse {
		return syscall.EPERM
	}
	if !f.ignore {
		f.attrs[pid] = s
	}
	return nil
}

func kthreadRoot(t *testing.T) *host.Root {
	t.Helper()
	r := newRoot(t)
	for _, a := range []string{"testdata/kthreads.txtar", "../../testdata/hosts/boot-debian-grub.txtar"} {
		if err := fixture.UnpackTo(a, r.Prefix); err != nil {
			t.Fatal(err)
		}
	}
	r.Exec = noExec{}
	return r
}

type noExec struct{}

func (noExec) Run(context.Context, string, ...string) ([]byte, error) { return nil, nil }

const kyaml = "  cpu:\n    isolated: 4-5\n    runtime: {kthreadPriority: 11}\n"

func TestKthreadPlan(t *testing.T) {
	r := kthreadRoot(t)
	fs := &fakeSched{attrs: map[int]housekeeping.Sched{41: {Policy: unix.SCHED_FIFO, Priority: 11}}}
	res, err := housekeeping.Module{Sched: fs}.Plan(context.Background(), fixture.Env(r), &parse(t, kyaml).Spec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range res.Items {
		got = append(got, it.Object+" "+string(it.Status)+" "+it.Before+" -> "+it.After)
	}
	want := "ksoftirqd/4 drift other:0 -> fifo:11|rcuc/4 ok fifo:11 -> fifo:11|ksoftirqd/5 drift other:0 -> fifo:11|rcuc/5 drift other:0 -> fifo:11"
	if strings.Join(got, "|") != want {
		t.Errorf("items\n %s\nwant\n %s", strings.Join(got, "|"), want)
	}
	// Under --root without a scheduler model: unsupported, no system call
	// on the fixture's pids.
	res, err = housekeeping.Module{}.Plan(context.Background(), fixture.Env(r), &parse(t, kyaml).Spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 4 || res.Items[0].Status != plan.Unsupported {
		t.Errorf("offline root: %+v", res.Items)
	}
}

// TestKthreadRoundTrip: apply sets SCHED_FIFO 11 on the real kthreads
// (never on the user process that borrowed a kthread's name), check is in
// sync, revert restores SCHED_OTHER.
func TestKthreadRoundTrip(t *testing.T) {
	r := kthreadRoot(t)
	fs := &fakeSched{attrs: map[int]housekeeping.Sched{}}
	e := &engine.Engine{Env: fixture.Env(r), Modules: []module.Module{isolcpu.Module{}, housekeeping.Module{Sched: fs}}, Version: "test", Now: time.Now}
	p := parse(t, kyaml)
	if _, err := e.Apply(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{40, 41, 50, 51} {
		if s := fs.attrs[pid]; s.Policy != unix.SCHED_FIFO || s.Priority != 11 {
			t.Errorf("pid %d: %s", pid, s)
		}
	}
	if _, touched := fs.attrs[4242]; touched {
		t.Error("the user process named ksoftirqd/5 was changed")
	}
	pr, err := e.Check(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range pr.Items {
		if it.Attribute == "sched" && it.Status != plan.OK {
			t.Errorf("check %s: %s", it.Object, it.Status)
		}
	}
	if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{40, 41, 50, 51} {
		if s := fs.attrs[pid]; s.Policy != unix.SCHED_NORMAL || s.Nice != 0 {
			t.Errorf("after revert pid %d: %s", pid, s)
		}
	}
}

// TestKthreadRefused: a scheduler that refuses every change, the
// rollback's too: apply fails with EPERM and nothing is left changed.
func TestKthreadRefused(t *testing.T) {
	r := kthreadRoot(t)
	fs := &fakeSched{attrs: map[int]housekeeping.Sched{}, refuse: true}
	e := &engine.Engine{Env: fixture.Env(r), Modules: []module.Module{housekeeping.Module{Sched: fs}, isolcpu.Module{}}, Version: "test", Now: time.Now}
	before := fixture.Digest(t, r.Prefix)
	if _, err := e.Apply(context.Background(), parse(t, kyaml), nil); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("apply: %v", err)
	}
	if len(fs.attrs) != 0 {
		t.Errorf("changed: %v", fs.attrs)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
		t.Errorf("tree differs: %v", diffs)
	}
}

// TestKthreadReadBack: a kernel that accepts the call and keeps the old
// policy fails apply.
func TestKthreadReadBack(t *testing.T) {
	r := kthreadRoot(t)
	fs := &fakeSched{attrs: map[int]housekeeping.Sched{}, ignore: true}
	m := housekeeping.Module{Sched: fs}
	res, err := m.Plan(context.Background(), fixture.Env(r), &parse(t, kyaml).Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(context.Background(), fixture.Env(r), res.Items[0].Change); !errors.Is(err, module.ErrVerify) {
		t.Errorf("apply = %v, want ErrVerify", err)
	}
}

func TestParseSched(t *testing.T) {
	for _, v := range []string{"fifo:11", "other:0", "other:-5", "rr:99", "batch:19"} {
		s, err := housekeeping.ParseSched(v)
		if err != nil || s.String() != v {
			t.Errorf("%s: %v %v", v, s, err)
		}
	}
	for _, v := range []string{"fifo:0", "fifo:100", "other:20", "x:1", "fifo", ""} {
		if _, err := housekeeping.ParseSched(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Name:\tksoftirqd/4\nPPid:\t2\n"))
	f.Add([]byte("Name:\tx\nPPid:\tz\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		name, _ := housekeeping.ParseStatus(b)
		if strings.ContainsAny(name, "\n") {
			t.Errorf("name %q spans lines", name)
		}
	})
}

// TestPrivilegedKthread sets ksoftirqd/1 of the real kernel to SCHED_FIFO
// 11 and back.
func TestPrivilegedKthread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	fixture.LockHost(t, "housekeeping")
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	m := housekeeping.Module{}
	p := parse(t, "  cpu:\n    isolated: \"1\"\n    housekeeping: \"0\"\n    runtime: {kthreadPriority: 11}\n")
	res, err := m.Plan(context.Background(), fixture.Env(r), &p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) == 0 || res.Items[0].Object != "ksoftirqd/1" {
		t.Fatalf("items %+v", res.Items)
	}
	for _, it := range res.Items {
		c := it.Change
		t.Cleanup(func() {
			if err := m.Revert(context.Background(), fixture.Env(r), c); err != nil {
				t.Errorf("restore %s: %v", c.Object, err)
			}
			if v, _, _ := m.Current(context.Background(), fixture.Env(r), c); v != c.Before {
				t.Errorf("%s is %s after revert, was %s", c.Object, v, c.Before)
			}
		})
		if err := m.Apply(context.Background(), fixture.Env(r), c); err != nil {
			t.Fatal(err)
		}
		v, _, err := m.Current(context.Background(), fixture.Env(r), c)
		if err != nil || v != "fifo:11" {
			t.Errorf("%s: %s %v", c.Object, v, err)
		}
		t.Logf("%s: %s -> %s", c.Object, c.Before, v)
	}
}
