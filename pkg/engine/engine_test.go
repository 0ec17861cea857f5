package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/nettune/nettune/pkg/sysctl"
)

const hostFixture = "../../testdata/hosts/sysctl-basic.txtar"

func newEngine(t *testing.T) (*Engine, string) {
	t.Helper()
	dir := fixture.Unpack(t, hostFixture)
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{
		Env:     &module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Modules: []module.Module{sysctl.Module{}},
		Version: "test",
		Now:     func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	}
	return e, dir
}

func sysctlProfile(name string, kv ...string) *profile.Profile {
	p := &profile.Profile{APIVersion: profile.APIVersion, Kind: "Profile", Metadata: profile.Metadata{Name: name}}
	p.Spec.Sysctl = map[string]profile.SysctlValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Spec.Sysctl[kv[i]] = profile.SysctlValue(kv[i+1])
	}
	return p
}

var testProfile = sysctlProfile("t",
	"net.core.somaxconn", "8192",
	"net.core.netdev_max_backlog", "16384",
	"net.ipv4.conf.eth0.100.rp_filter", "2",
	"net.ipv4.tcp_rmem", "4096 131072 6291456",
)

func read(t *testing.T, e *Engine, p string) string {
	t.Helper()
	s, err := e.Env.Root.ReadString(e.Env.Root.Path(p))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestApplyCheckRevertRoundTrip(t *testing.T) {
	ctx := context.Background()
	e, dir := newEngine(t)
	before := fixture.Digest(t, dir)

	res, err := e.Apply(ctx, testProfile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Generation != 1 || len(res.Applied) != 4 { // 3 values + the conf file
		t.Fatalf("generation %d, applied %d: %+v", res.Generation, len(res.Applied), res.Applied)
	}
	if got := read(t, e, "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"); got != "2" {
		t.Errorf("VLAN rp_filter = %q", got)
	}
	if got := read(t, e, "/proc/sys/net/ipv4/conf/eth0/rp_filter"); got != "1" {
		t.Errorf("eth0 rp_filter touched: %q", got)
	}
	pr, err := e.Check(ctx, testProfile)
	if err != nil {
		t.Fatal(err)
	}
	if n := pr.Count(plan.Drift); n != 0 {
		t.Errorf("check after apply: %d drift: %+v", n, pr.Items)
	}
	// A second apply is a no-op and records no generation.
	res, err = e.Apply(ctx, testProfile, nil)
	if err != nil || len(res.Applied) != 0 || res.Generation != 0 {
		t.Fatalf("second apply: %+v, %v", res, err)
	}

	rp, err := e.Revert(ctx, RevertOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Generations) != 1 || len(rp.Changes) != 4 {
		t.Errorf("revert plan %+v", rp)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree differs after revert: %v", diffs)
	}
	pr, _ = e.Check(ctx, testProfile)
	if pr.Count(plan.Drift) == 0 {
		t.Error("check after revert reports no drift")
	}
	if _, err := e.Revert(ctx, RevertOptions{}, nil); !errors.Is(err, ErrNothingToRevert) {
		t.Errorf("second revert: %v", err)
	}
}

// TestFaultInjection fails every write of an apply in turn (EBUSY, EINVAL,
// EPERM): each time apply must fail and leave the tree byte-identical.
func TestFaultInjection(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t)
	counter := &fixture.FailingWriter{W: e.Env.Root.W}
	e.Env.Root.W = counter
	if _, err := e.Apply(ctx, testProfile, nil); err != nil {
		t.Fatal(err)
	}
	writes := counter.Calls
	if writes < 5 {
		t.Fatalf("only %d writes counted", writes)
	}
	errs := []error{syscall.EBUSY, syscall.EINVAL, syscall.EPERM}
	for n := 1; n <= writes; n++ {
		e, dir := newEngine(t)
		before := fixture.Digest(t, dir)
		fw := &fixture.FailingWriter{W: e.Env.Root.W, FailAt: n, Err: errs[n%len(errs)]}
		e.Env.Root.W = fw
		_, err := e.Apply(ctx, testProfile, nil)
		if err == nil {
			t.Errorf("write %d (%s): apply succeeded", n, fw.Failed)
			continue
		}
		if !errors.Is(err, errs[n%len(errs)]) {
			t.Errorf("write %d: error %v does not wrap the injected %v", n, err, errs[n%len(errs)])
		}
		if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
			t.Errorf("write %d (%s) failed: tree not restored: %v", n, fw.Failed, diffs)
		}
	}
}

func TestLockBusy(t *testing.T) {
	e, _ := newEngine(t)
	lk, err := acquire(e.Env.Root)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.release(e.Env.Root)
	_, err = e.Apply(context.Background(), testProfile, nil)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "held by pid") {
		t.Fatalf("concurrent apply: %v", err)
	}
	if _, err := e.Revert(context.Background(), RevertOptions{}, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("concurrent revert: %v", err)
	}
}

// crashModule writes like sysctl but "crashes" (the test stops) after the
// write of its second change, leaving a journal without commit.
type crashModule struct {
	sysctl.Module
	n *int
}

var errCrash = errors.New("simulated crash")

func (c crashModule) Apply(ctx context.Context, env *module.Env, ch plan.Change) error {
	if err := c.Module.Apply(ctx, env, ch); err != nil {
		return err
	}
	*c.n++
	if *c.n == 2 {
		panic(errCrash)
	}
	return nil
}

func TestInterruptedApplyIsRevertedFromJournal(t *testing.T) {
	ctx := context.Background()
	e, dir := newEngine(t)
	before := fixture.Digest(t, dir)
	n := 0
	e.Modules = []module.Module{crashModule{n: &n}}
	func() {
		defer func() {
			if r := recover(); r != errCrash {
				t.Fatalf("recover = %v", r)
			}
		}()
		e.Apply(ctx, testProfile, nil)
	}()
	// The "crashed" process never released its lock; a new process would
	// get it. Simulate by releasing the flock only.
	e.Modules = []module.Module{sysctl.Module{}}
	gens, err := Generations(e.Env.Root)
	// The intent record lists every change of the apply before the first
	// is made; the crash left it without commit.
	if err != nil || len(gens) != 1 || gens[0].Committed || len(gens[0].Changes) != 4 {
		t.Fatalf("journal after crash: %+v, %v", gens, err)
	}
	if _, err := e.Apply(ctx, testProfile, nil); !errors.Is(err, ErrUnfinished) {
		t.Fatalf("apply after crash: %v", err)
	}
	if _, err := e.Revert(ctx, RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree not restored from the journal: %v", diffs)
	}
}

func TestRevertTo(t *testing.T) {
	ctx := context.Background()
	e, dir := newEngine(t)
	before := fixture.Digest(t, dir)
	if _, err := e.Apply(ctx, sysctlProfile("a", "net.core.somaxconn", "1000"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, sysctlProfile("b", "net.core.somaxconn", "2000", "vm.swappiness", "5"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, sysctlProfile("c", "net.core.somaxconn", "3000"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Revert(ctx, RevertOptions{To: 7}, nil); !errors.Is(err, ErrNothingToRevert) || !strings.Contains(err.Error(), "recorded: [1 2 3]") {
		t.Fatalf("revert --to 7: %v", err)
	}
	if _, err := e.Revert(ctx, RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if got := read(t, e, "/proc/sys/net/core/somaxconn"); got != "2000" {
		t.Errorf("after reverting generation 3: somaxconn = %s", got)
	}
	rp, err := e.Revert(ctx, RevertOptions{To: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Generations) != 2 || rp.Generations[0] != 2 || rp.Generations[1] != 1 {
		t.Errorf("reverted generations %v", rp.Generations)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree differs after revert --to 1: %v", diffs)
	}
}

func TestConfirmDeclined(t *testing.T) {
	e, dir := newEngine(t)
	before := fixture.Digest(t, dir)
	_, err := e.Apply(context.Background(), testProfile, func(*PlanResult) (bool, error) { return false, nil })
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("declined apply: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("declined apply changed the tree: %v", diffs)
	}
}

func TestCancelledApplyRollsBack(t *testing.T) {
	e, dir := newEngine(t)
	before := fixture.Digest(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := e.Apply(ctx, testProfile, func(*PlanResult) (bool, error) { cancel(); return true, nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled apply: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("cancelled apply left changes: %v", diffs)
	}
}

func TestNotImplementedSection(t *testing.T) {
	e, dir := newEngine(t)
	before := fixture.Digest(t, dir)
	p := sysctlProfile("x", "net.core.somaxconn", "1")
	p.Spec.CPU = &profile.CPU{Isolated: cpuset.MustParse("1")}
	_, err := e.Apply(context.Background(), p, nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "module cpu not implemented yet") {
		t.Fatalf("apply with cpu section: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("refused apply changed the tree: %v", diffs)
	}
}

func TestParseGenerationTornLine(t *testing.T) {
	data := `{"op":"open","profile":"p"}
{"op":"begin","seq":1,"change":{"module":"sysctl","object":"a","attribute":"value","action":"set","before":"1","after":"2","when":"live"}}
{"op":"do`
	g, err := parseGeneration(data, 4)
	if err != nil || len(g.Changes) != 1 || g.Committed || g.Profile != "p" {
		t.Fatalf("torn journal: %+v, %v", g, err)
	}
	if _, err := parseGeneration("garbage\n{\"op\":\"commit\"}\n", 1); err == nil {
		t.Fatal("corrupt journal accepted")
	}
}

func FuzzParseGeneration(f *testing.F) {
	f.Add([]byte(`{"op":"open"}` + "\n" + `{"op":"commit"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := parseGeneration(string(data), 1)
		if err == nil && len(g.Done) != len(g.Changes) {
			t.Fatalf("done/changes mismatch: %+v", g)
		}
	})
}

// BenchmarkPlanSysctl observes and diffs the test profile on the fixture
// host: the cost of plan and check for the sysctl module.
func BenchmarkPlanSysctl(b *testing.B) {
	dir := b.TempDir()
	if err := fixture.UnpackTo(hostFixture, dir); err != nil {
		b.Fatal(err)
	}
	r, err := host.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	e := &Engine{Env: &module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, Modules: []module.Module{sysctl.Module{}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Plan(context.Background(), testProfile); err != nil {
			b.Fatal(err)
		}
	}
}
