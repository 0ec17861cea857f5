package housekeeping_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/housekeeping"
	"github.com/nettune/nettune/pkg/isolcpu"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// kernel models how a 6.x kernel answers writes to these files (fixture
// files cannot; each behaviour below was seen on this project's 6.18 VM):
// a workqueue mask is parsed as hex words and a bit at or beyond the
// possible CPUs fails with EOVERFLOW; the unbound mask refuses an empty
// mask with EINVAL while the writeback mask accepts it and reads back "0"
// (so nettune must never ask for one); the mask kept is ANDed with allowed
// (a kernel that keeps a narrower mask than written) and printed in the
// kernel's width. watchdog_cpumask reads back as ranges; an integer in
// decimal.
type kernel struct {
	host.Writer
	possible cpuset.Set
	// allowed, when set, is what the kernel lets a workqueue mask keep.
	allowed *cpuset.Set
	// refuse fails every write to paths ending in it with EPERM, the
	// rollback's too (a file made immutable, a locked-down kernel).
	refuse string
}

func (k kernel) WriteKernel(path, value string) error {
	if k.refuse != "" && strings.HasSuffix(path, k.refuse) {
		return &os.PathError{Op: "write", Path: path, Err: syscall.EPERM}
	}
	switch {
	case strings.HasSuffix(path, "cpumask") && strings.Contains(path, "workqueue"):
		s, err := cpuset.ParseMask(value)
		if err != nil {
			return &os.PathError{Op: "write", Path: path, Err: syscall.EINVAL}
		}
		if !s.IsSubsetOf(k.possible) {
			return &os.PathError{Op: "write", Path: path, Err: syscall.EOVERFLOW}
		}
		if s.IsEmpty() && strings.HasSuffix(path, housekeeping.UnboundMask) {
			return &os.PathError{Op: "write", Path: path, Err: syscall.EINVAL}
		}
		if k.allowed != nil {
			s = s.Intersect(*k.allowed)
		}
		value = housekeeping.KernelMask(s, k.possible.Max()+1)
	case strings.HasSuffix(path, "watchdog_cpumask"):
		s, err := cpuset.Parse(value)
		if err != nil {
			return &os.PathError{Op: "write", Path: path, Err: syscall.EINVAL}
		}
		value = s.Intersect(k.possible).String()
	default:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return &os.PathError{Op: "write", Path: path, Err: syscall.EINVAL}
		}
		value = strconv.FormatInt(n, 10)
	}
	return k.Writer.WriteKernel(path, value)
}

func newRoot(t *testing.T) *host.Root {
	t.Helper()
	dir := fixture.Unpack(t, "../../testdata/hosts/topo-2node-32cpu-smt.txtar")
	if err := fixture.UnpackTo("testdata/runtime.txtar", dir); err != nil {
		t.Fatal(err)
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.W = kernel{Writer: r.W, possible: cpuset.MustParse("0-31")}
	return r
}

func parse(t *testing.T, yaml string) *profile.Profile {
	t.Helper()
	p, err := profile.Parse("test.yaml", []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: t}\nspec:\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// full leaves isolated out so that the cpu module has no boot arguments
// to write in these trees (they have no boot configuration).
const full = `  cpu:
    housekeeping: 0-3,16-19
    runtime: {workqueues: true, timerMigration: false, watchdog: "off"}
`

func eng(r *host.Root) *engine.Engine {
	return &engine.Engine{Env: fixture.Env(r), Modules: []module.Module{isolcpu.Module{}, housekeeping.Module{}}, Version: "test",
		Now: func() time.Time { return time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC) }}
}

func read(t *testing.T, r *host.Root, p string) string {
	t.Helper()
	v, err := r.ReadString(r.Path(p))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPlan(t *testing.T) {
	r := newRoot(t)
	res, err := housekeeping.Module{}.Plan(context.Background(), fixture.Env(r), &parse(t, full).Spec)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(fixture.RenderResult(res), r.Prefix, "ROOT")
	fixture.Golden(t, "testdata/plan.golden", []byte(got))
	for _, it := range res.Items {
		if it.Status != plan.Drift {
			t.Errorf("%s: %s", it.Object, it.Status)
		}
	}
}

// TestRoundTrip applies, checks and reverts through the engine: the files
// hold the kernel's spelling of the housekeeping CPUs, check is in sync,
// and revert gives back the tree byte for byte.
func TestRoundTrip(t *testing.T) {
	r := newRoot(t)
	before := fixture.Digest(t, r.Prefix)
	e := eng(r)
	p := parse(t, full)
	res, err := e.Apply(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 5 {
		t.Errorf("applied %d changes", len(res.Applied))
	}
	for path, want := range map[string]string{
		housekeeping.UnboundMask:            "000f000f",
		housekeeping.WritebackMask:          "000f000f",
		"/proc/sys/kernel/timer_migration":  "0",
		"/proc/sys/kernel/watchdog_cpumask": "0-3,16-19",
		"/proc/sys/kernel/nmi_watchdog":     "0",
	} {
		if got := read(t, r, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	pr, err := e.Check(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Count(plan.OK) != 5 {
		t.Errorf("check after apply: %+v", pr.Items)
	}
	if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
		t.Errorf("tree differs after revert: %v", diffs)
	}
}

// TestNormalisedMask: a host with 40 possible CPUs (32 online) prints its
// masks as two words with a comma, the first two digits wide. A mask
// spelt otherwise but meaning the housekeeping CPUs is in sync, and apply
// reads back the kernel's spelling as success.
func TestNormalisedMask(t *testing.T) {
	r := newRoot(t)
	possible := r.Sys("devices/system/cpu/possible")
	if err := os.Chmod(possible, 0o644); err != nil {
		t.Fatal(err)
	}
	fixture.Overwrite(t, possible, []byte("0-39\n"))
	r.W = kernel{Writer: r.W.(kernel).Writer, possible: cpuset.MustParse("0-39")}
	fixture.Overwrite(t, r.Path(housekeeping.UnboundMask), []byte("ff,ffffffff\n"))
	fixture.Overwrite(t, r.Path(housekeeping.WritebackMask), []byte("0,f000f\n"))
	p := parse(t, "  cpu:\n    isolated: 4-15,20-31\n    housekeeping: 0-3,16-19\n    runtime: {workqueues: true}\n")
	res, err := housekeeping.Module{}.Plan(context.Background(), fixture.Env(r), &p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 2 || res.Items[0].Status != plan.Drift || res.Items[1].Status != plan.OK {
		t.Fatalf("items: %s", fixture.RenderResult(res))
	}
	if res.Items[0].After != "00,000f000f" {
		t.Errorf("after %q, want the kernel's width", res.Items[0].After)
	}
	// The kernel answers a write of "f000f" with "00,000f000f".
	c := res.Items[0].Change
	c.After = "f000f"
	if err := (housekeeping.Module{}).Apply(context.Background(), fixture.Env(r), c); err != nil {
		t.Fatal(err)
	}
	if got := read(t, r, housekeeping.UnboundMask); got != "00,000f000f" {
		t.Errorf("kernel spelling %q", got)
	}
}

// TestRefusedEveryTime: a workqueue mask the kernel refuses on every
// write, the rollback's too. Apply fails with the errno, the timer and
// watchdog settings written before it are rolled back, and the tree is as
// it was.
func TestRefusedEveryTime(t *testing.T) {
	r := newRoot(t)
	r.W = kernel{Writer: r.W.(kernel).Writer, possible: cpuset.MustParse("0-31"), refuse: "writeback/cpumask"}
	before := fixture.Digest(t, r.Prefix)
	_, err := eng(r).Apply(context.Background(), parse(t, full), nil)
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("apply: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
		t.Errorf("tree differs after the failed apply: %v", diffs)
	}
	if r.Exists(r.State()) {
		t.Error("state directory left behind")
	}
}

// TestReadBackDiffers: a kernel that keeps a narrower mask than written:
// apply must not report success.
func TestReadBackDiffers(t *testing.T) {
	r := newRoot(t)
	p := parse(t, "  cpu:\n    isolated: 4-31\n    runtime: {workqueues: true}\n")
	res, err := housekeeping.Module{}.Plan(context.Background(), fixture.Env(r), &p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	allowed := cpuset.MustParse("0-1")
	r.W = kernel{Writer: r.W.(kernel).Writer, possible: cpuset.MustParse("0-31"), allowed: &allowed}
	err = housekeeping.Module{}.Apply(context.Background(), fixture.Env(r), res.Items[0].Change)
	if !errors.Is(err, module.ErrVerify) {
		t.Errorf("apply = %v, want ErrVerify", err)
	}
}

// TestFaultInjection fails each write of an apply in turn.
func TestFaultInjection(t *testing.T) {
	r := newRoot(t)
	before := fixture.Digest(t, r.Prefix)
	fw := &fixture.FailingWriter{W: r.W}
	r.W = fw
	e := eng(r)
	p := parse(t, full)
	if _, err := e.Apply(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	total := fw.Calls
	if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= total; n++ {
		fw.Calls, fw.FailAt, fw.Err, fw.Failed = 0, n, syscall.EBUSY, ""
		if _, err := e.Apply(context.Background(), p, nil); !errors.Is(err, syscall.EBUSY) {
			t.Fatalf("write %d (%s): %v", n, fw.Failed, err)
		}
		if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
			t.Fatalf("write %d (%s): %v", n, fw.Failed, diffs)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"  sysctl: {kernel.timer_migration: 1}\n  cpu:\n    runtime: {timerMigration: false}\n",
			"kernel.timer_migration is set by both spec.sysctl and spec.cpu.runtime.timerMigration"},
		{"  cpu:\n    housekeeping: 40-41\n    runtime: {workqueues: true}\n",
			"include no online CPU"},
	} {
		r := newRoot(t)
		before := fixture.Digest(t, r.Prefix)
		_, err := eng(r).Apply(context.Background(), parse(t, tc.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
		if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix)); len(diffs) > 0 {
			t.Errorf("host touched: %v", diffs)
		}
	}
}

func TestUnsupported(t *testing.T) {
	r := newRoot(t)
	if err := os.Remove(r.Path(housekeeping.WritebackMask)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(r.Proc("sys/kernel/nmi_watchdog")); err != nil {
		t.Fatal(err)
	}
	res, err := housekeeping.Module{}.Plan(context.Background(), fixture.Env(r), &parse(t, full).Spec)
	if err != nil {
		t.Fatal(err)
	}
	var st []string
	for _, it := range res.Items {
		st = append(st, fmt.Sprintf("%s=%s", it.Object, it.Status))
	}
	if got := strings.Join(st, " "); got != "workqueue=drift workqueue/writeback=unsupported kernel.timer_migration=drift kernel.watchdog_cpumask=drift kernel.nmi_watchdog=unsupported" {
		t.Errorf("statuses %s", got)
	}
}

func TestKernelMask(t *testing.T) {
	for _, tc := range []struct {
		set   string
		nbits int
		want  string
	}{
		{"0-1", 2, "3"},
		{"0", 2, "1"},
		{"0-3,16-19", 32, "000f000f"},
		{"0-39", 40, "ff,ffffffff"},
		{"0-3", 40, "00,0000000f"},
		{"32", 33, "1,00000000"},
		{"0-63", 64, "ffffffff,ffffffff"},
		{"", 4, "0"},
	} {
		if got := housekeeping.KernelMask(cpuset.MustParse(tc.set), tc.nbits); got != tc.want {
			t.Errorf("KernelMask(%s, %d) = %q, want %q", tc.set, tc.nbits, got, tc.want)
		}
	}
}

// FuzzSame: any mask the kernel could print compares equal to the set it
// came from, in any width; Same never panics on kernel text.
func FuzzSame(f *testing.F) {
	for _, s := range []string{"3", "ff,ffffffff", "0000000f,000f", "0-3,16-19", "1", "", ",", "zz"} {
		f.Add(s, 40)
	}
	f.Fuzz(func(t *testing.T, text string, nbits int) {
		_, _ = housekeeping.Same("cpumask", text, "3")
		_, _ = housekeeping.Same("cpulist", text, "0-1")
		_, _ = housekeeping.Same("value", text, "0")
		s, err := cpuset.ParseMask(text)
		if err != nil || nbits < 0 || nbits > 4096 {
			return
		}
		if ok, err := housekeeping.Same("cpumask", housekeeping.KernelMask(s, nbits), text); err != nil || !ok {
			t.Errorf("%q in width %d: %v %v", text, nbits, ok, err)
		}
	})
}

// TestPrivilegedRuntime writes the real kernel's workqueue masks, timer
// migration and watchdog mask with CPU 0 as the only housekeeping CPU,
// reads them back and restores them on every path.
func TestPrivilegedRuntime(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	fixture.LockHost(t, "housekeeping")
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	if cpuset.MustParse(strings.TrimSpace(string(online))).Len() < 2 {
		t.Skip("needs 2 online CPUs")
	}
	p := parse(t, "  cpu:\n    isolated: \"1\"\n    housekeeping: \"0\"\n    runtime: {workqueues: true, timerMigration: false, watchdog: housekeeping}\n")
	res, err := housekeeping.Module{}.Plan(context.Background(), fixture.Env(r), &p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Items {
		if it.Status == plan.Unsupported {
			continue
		}
		c := it.Change
		t.Cleanup(func() {
			if err := (housekeeping.Module{}).Revert(context.Background(), fixture.Env(r), c); err != nil {
				t.Errorf("restore %s: %v", c.Path, err)
			}
		})
		if err := (housekeeping.Module{}).Apply(context.Background(), fixture.Env(r), c); err != nil {
			t.Fatalf("%s: %v", c.Object, err)
		}
		got, _ := os.ReadFile(filepath.Clean(c.Path))
		if ok, _ := housekeeping.Same(c.Attribute, strings.TrimSpace(string(got)), c.After); !ok {
			t.Errorf("%s reads %q, want %q", c.Path, got, c.After)
		}
		t.Logf("%s: %q -> %q (kernel prints %q)", c.Path, c.Before, c.After, strings.TrimSpace(string(got)))
	}
	// What the fixture's kernel model says the unbound mask does with an
	// empty mask and with a CPU beyond the possible ones: the write fails
	// with EINVAL / EOVERFLOW and the mask stays.
	c := res.Items[0].Change
	if c.Path != housekeeping.UnboundMask {
		t.Fatalf("first item %s", c.Path)
	}
	was, _ := r.ReadString(c.Path)
	for value, want := range map[string]error{"0": syscall.EINVAL, housekeeping.KernelMask(cpuset.Of(cpuset.MaxCPU), cpuset.MaxCPU+1): syscall.EOVERFLOW} {
		c.After = value
		if err := (housekeeping.Module{}).Apply(context.Background(), fixture.Env(r), c); !errors.Is(err, want) {
			t.Errorf("write %q: %v, want %v", value, err, want)
		}
		if now, _ := r.ReadString(c.Path); now != was {
			t.Errorf("after the refused write %q the mask is %q, was %q", value, now, was)
		}
	}
}

// TestDroppedSettingIsGivenBack: a profile that drops spec.cpu.runtime's
// watchdog after an apply gets the watchdog settings back to what they
// were; the others stay.
func TestDroppedSettingIsGivenBack(t *testing.T) {
	r := newRoot(t)
	e := eng(r)
	if _, err := e.Apply(context.Background(), parse(t, full), nil); err != nil {
		t.Fatal(err)
	}
	less := parse(t, "  cpu:\n    housekeeping: 0-3,16-19\n    runtime: {workqueues: true, timerMigration: false}\n")
	if _, err := e.Apply(context.Background(), less, nil); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/proc/sys/kernel/watchdog_cpumask": "0-31",
		"/proc/sys/kernel/nmi_watchdog":     "1",
		"/proc/sys/kernel/timer_migration":  "0",
		housekeeping.UnboundMask:            "000f000f",
	} {
		if got := read(t, r, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}
