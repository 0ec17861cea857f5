package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/nettune/nettune/pkg/sysctl"
)

// refusingWriter fails every write to one path, every time, as a target
// the kernel keeps refusing does (chattr +i, a read-only /proc/sys in a
// container): the rollback's writes to it fail too.
type refusingWriter struct {
	host.Writer
	path string
	err  error
}

func (w refusingWriter) refuse(p string) error {
	if p == w.path {
		return &fs.PathError{Op: "write", Path: p, Err: w.err}
	}
	return nil
}

func (w refusingWriter) WriteKernel(p, v string) error {
	if err := w.refuse(p); err != nil {
		return err
	}
	return w.Writer.WriteKernel(p, v)
}

func (w refusingWriter) WriteFile(p string, d []byte, m fs.FileMode) error {
	if err := w.refuse(p); err != nil {
		return err
	}
	return w.Writer.WriteFile(p, d, m)
}

func (w refusingWriter) Remove(p string) error {
	if err := w.refuse(p); err != nil {
		return err
	}
	return w.Writer.Remove(p)
}

// TestTargetRefusingEveryWrite: for every target of the apply in turn, and
// each errno a refusing target gives, apply fails, the tree is as before,
// no generation is kept, and the next apply works.
func TestTargetRefusingEveryWrite(t *testing.T) {
	ctx := context.Background()
	targets := []string{
		"/proc/sys/net/core/somaxconn",
		"/proc/sys/net/core/netdev_max_backlog",
		"/proc/sys/net/ipv4/conf/eth0.100/rp_filter",
		"/etc/sysctl.d/90-nettune.conf",
	}
	for _, target := range targets {
		for _, errno := range []error{syscall.EPERM, syscall.EROFS, syscall.EACCES, syscall.EIO} {
			t.Run(fmt.Sprintf("%s/%v", filepath.Base(target), errno), func(t *testing.T) {
				e, dir := newEngine(t)
				before := fixture.Digest(t, dir)
				real := e.Env.Root.W
				e.Env.Root.W = refusingWriter{Writer: real, path: e.Env.Root.Path(target), err: errno}
				_, err := e.Apply(ctx, testProfile, nil)
				if err == nil {
					t.Fatal("apply succeeded against a refusing target")
				}
				var rb *RollbackError
				if errors.As(err, &rb) {
					t.Fatalf("rollback kept a journal: %v", err)
				}
				if !errors.Is(err, errno) {
					t.Errorf("error does not carry %v: %v", errno, err)
				}
				if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
					t.Fatalf("tree not restored: %v", diffs)
				}
				// The refusal is still there: apply fails the same way
				// again (not "unfinished generation").
				if _, err := e.Apply(ctx, testProfile, nil); err == nil || errors.Is(err, ErrUnfinished) {
					t.Fatalf("second apply: %v", err)
				}
				e.Env.Root.W = real
				if _, err := e.Apply(ctx, testProfile, nil); err != nil {
					t.Fatalf("apply after the target accepts writes again: %v", err)
				}
			})
		}
	}
}

// TestRevertOfRefusingTargetAlreadyAtPrior: revert whose write fails but
// whose read-back already equals the prior value has succeeded.
func TestRevertOfRefusingTargetAlreadyAtPrior(t *testing.T) {
	ctx := context.Background()
	e, dir := newEngine(t)
	before := fixture.Digest(t, dir)
	if _, err := e.Apply(ctx, testProfile, nil); err != nil {
		t.Fatal(err)
	}
	// Someone put the prior value back by hand, then made the file refuse
	// writes.
	p := e.Env.Root.Path("/proc/sys/net/core/somaxconn")
	if err := os.WriteFile(p, []byte("4096\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Env.Root.W = refusingWriter{Writer: e.Env.Root.W, path: p, err: syscall.EPERM}
	if _, err := e.Revert(ctx, RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree not restored: %v", diffs)
	}
}

// TestAbandon: a generation that cannot be reverted is forgotten with
// --abandon, which lists what stays.
func TestAbandon(t *testing.T) {
	ctx := context.Background()
	e, dir := newEngine(t)
	if _, err := e.Apply(ctx, sysctlProfile("a", "net.core.somaxconn", "1000"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, sysctlProfile("b", "net.core.somaxconn", "2000", "vm.swappiness", "7"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Abandon(ctx, 1); err == nil || !strings.Contains(err.Error(), "not the newest") {
		t.Fatalf("abandon of an older generation: %v", err)
	}
	if _, err := e.Abandon(ctx, 9); !errors.Is(err, ErrNothingToRevert) {
		t.Fatalf("abandon of an unknown generation: %v", err)
	}
	ab, err := e.Abandon(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ab.Left) != 3 { // somaxconn, swappiness, the conf file
		t.Fatalf("left %+v", ab.Left)
	}
	for _, c := range ab.Left {
		if c.Object == "net.core.somaxconn" && c.After != "2000" {
			t.Errorf("left somaxconn reported as %q", c.After)
		}
	}
	gens, _ := Generations(e.Env.Root)
	if len(gens) != 1 || gens[0].Number != 1 {
		t.Fatalf("generations after abandon: %+v", gens)
	}
	if got := read(t, e, "/proc/sys/vm/swappiness"); got != "7" {
		t.Errorf("abandon changed the host: swappiness %s", got)
	}
	_ = dir
}

// TestJournalTempFilesCleaned: a process killed while creating a journal
// leaves a temp file; the next apply or revert removes it, and the state
// directory is gone after the last revert.
func TestJournalTempFilesCleaned(t *testing.T) {
	ctx := context.Background()
	for _, next := range []string{"apply", "revert"} {
		t.Run(next, func(t *testing.T) {
			e, dir := newEngine(t)
			before := fixture.Digest(t, dir)
			if next == "revert" {
				if _, err := e.Apply(ctx, testProfile, nil); err != nil {
					t.Fatal(err)
				}
			}
			gdir := e.Env.Root.State(generationsDir)
			if err := os.MkdirAll(gdir, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{".000001.jsonl.4242", ".000002.jsonl.nettune-77"} {
				if err := os.WriteFile(filepath.Join(gdir, name), []byte(`{"op":"open"}`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if next == "apply" {
				if _, err := e.Apply(ctx, testProfile, nil); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.Revert(ctx, RevertOptions{All: true}, nil); err != nil {
				t.Fatal(err)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
				t.Fatalf("tree differs after the last revert: %v", diffs)
			}
		})
	}
}

// TestLockOrphanedInode: B opens the lock file, A releases and unlinks it,
// B flocks the orphaned inode: B must notice, so that B and a new C never
// both hold "the" lock.
func TestLockOrphanedInode(t *testing.T) {
	e, _ := newEngine(t)
	r := e.Env.Root
	a, err := acquire(r)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.OpenFile(r.State("lock"), os.O_RDWR, 0) // B, before A releases
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	a.release(r) // nothing recorded: removes the state dir and the lock file
	c, err := acquire(r)
	if err != nil {
		t.Fatal(err)
	}
	defer c.release(r)
	ok, err := lockAndVerify(fb, r.State("lock"))
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatal("B's flock on the unlinked lock file was taken as the lock while C holds the real one")
	}
}

// TestConcurrentAppliesNeverOverlap runs applies and reverts from many
// goroutines (separate open file descriptions, as separate processes have)
// and checks that no two are ever inside the lock together.
func TestConcurrentAppliesNeverOverlap(t *testing.T) {
	e, _ := newEngine(t)
	r := e.Env.Root
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				lk, err := acquire(r)
				if err != nil {
					continue
				}
				mu.Lock()
				inside++
				if inside > maxInside {
					maxInside = inside
				}
				mu.Unlock()
				mu.Lock()
				inside--
				mu.Unlock()
				lk.release(r)
			}
		}()
	}
	wg.Wait()
	if maxInside > 1 {
		t.Fatalf("%d holders of the lock at once", maxInside)
	}
}

// TestRevertAcrossNamespaces: a generation records the network namespace
// it was applied in; revert from another one refuses and names the command.
func TestRevertAcrossNamespaces(t *testing.T) {
	ctx := context.Background()
	e, dir := newEngine(t)
	e.Env.NetNS = &host.NetNS{Inode: 4026532999, Dev: 4, Name: "blue"}
	if _, err := e.Apply(ctx, testProfile, nil); err != nil {
		t.Fatal(err)
	}
	gens, _ := Generations(e.Env.Root)
	if gens[0].NetNS == nil || gens[0].NetNS.Name != "blue" {
		t.Fatalf("namespace not recorded: %+v", gens[0].NetNS)
	}
	// The lock file records its last holder (pid and time): a refused
	// command takes the lock too, so it is left out of the comparison.
	applied := fixture.Digest(t, dir, "var/lib/nettune/lock")
	e.Env.NetNS = &host.NetNS{Inode: 4026531840, Dev: 4, Initial: true}
	_, err := e.Revert(ctx, RevertOptions{}, nil)
	if !errors.Is(err, ErrOtherNamespace) || !strings.Contains(err.Error(), "ip netns exec blue nettune revert") {
		t.Fatalf("revert from the initial namespace: %v", err)
	}
	if _, err := e.Apply(ctx, sysctlProfile("x", "vm.swappiness", "3"), nil); !errors.Is(err, ErrOtherNamespace) {
		t.Fatalf("apply from another namespace on top of blue's generation: %v", err)
	}
	if diffs := fixture.DiffDigests(applied, fixture.Digest(t, dir, "var/lib/nettune/lock")); len(diffs) > 0 {
		t.Fatalf("refused revert changed the tree: %v", diffs)
	}
	e.Env.NetNS = &host.NetNS{Inode: 4026532999, Dev: 4, Name: "blue"}
	if _, err := e.Revert(ctx, RevertOptions{}, nil); err != nil {
		t.Fatalf("revert in blue: %v", err)
	}
}

// TestPerNamespaceSysctlsNotPersisted: in a non-initial namespace the
// per-namespace sysctls are not written to the host-wide sysctl.d file, and
// a warning says so.
func TestPerNamespaceSysctlsNotPersisted(t *testing.T) {
	e, _ := newEngine(t)
	e.Env.NetNS = &host.NetNS{Inode: 77, Name: "blue"}
	pr, err := e.Plan(context.Background(), sysctlProfile("p", "net.core.somaxconn", "8192", "vm.swappiness", "5"))
	if err != nil {
		t.Fatal(err)
	}
	var conf string
	for _, c := range pr.Changes() {
		if c.Attribute == "content" {
			conf = c.After
		}
	}
	if strings.Contains(conf, "somaxconn") || !strings.Contains(conf, "vm.swappiness = 5") {
		t.Errorf("persistence file from a namespace:\n%s", conf)
	}
	warned := false
	for _, p := range pr.Warnings() {
		warned = warned || strings.Contains(p.Message, "net.core.somaxconn") && strings.Contains(p.Message, "blue")
	}
	if !warned {
		t.Errorf("no warning about the per-namespace sysctl: %+v", pr.Problems)
	}
	// A host-wide parameter missing in the namespace is explained.
	_, err = e.Plan(context.Background(), sysctlProfile("p", "net.core.no_such_global", "1"))
	if err == nil || !strings.Contains(err.Error(), "global to the host") {
		t.Errorf("missing global parameter in a namespace: %v", err)
	}
}

// TestProfileSwitchReturnsOrphans: apply A, then B that no longer sets a
// parameter: the parameter returns to its value before nettune, the
// persistence file drops it, check B is clean, and reverting B gives A's
// value back.
func TestProfileSwitchReturnsOrphans(t *testing.T) {
	ctx := context.Background()
	e, dir := newEngine(t)
	before := fixture.Digest(t, dir)
	a := sysctlProfile("a", "net.core.somaxconn", "1000", "net.core.netdev_budget", "600")
	b := sysctlProfile("b", "net.core.somaxconn", "2000")
	if _, err := e.Apply(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	pr, err := e.Check(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	orphans := 0
	for _, it := range pr.Items {
		if it.Orphan {
			orphans++
			if it.Object != "net.core.netdev_budget" || it.Status != plan.Drift || it.After != "300" {
				t.Errorf("orphan item %+v", it)
			}
		}
	}
	if orphans != 1 {
		t.Fatalf("check B reports %d orphans: %+v", orphans, pr.Items)
	}
	if _, err := e.Apply(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	if got := read(t, e, "/proc/sys/net/core/netdev_budget"); got != "300" {
		t.Errorf("netdev_budget after switching to B = %s, want the value before nettune (300)", got)
	}
	pr, _ = e.Check(ctx, b)
	if n := pr.Count(plan.Drift); n != 0 {
		t.Errorf("check B after apply B: %d drift %+v", n, pr.Items)
	}
	if _, err := e.Revert(ctx, RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if got := read(t, e, "/proc/sys/net/core/netdev_budget"); got != "600" {
		t.Errorf("netdev_budget after reverting B = %s, want A's 600", got)
	}
	if _, err := e.Revert(ctx, RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree differs after reverting both: %v", diffs)
	}
}

// TestProfileSwitchKeepOrphans: --keep-orphans leaves the value and
// releases it: later checks no longer report it.
func TestProfileSwitchKeepOrphans(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t)
	if _, err := e.Apply(ctx, sysctlProfile("a", "net.core.somaxconn", "1000", "net.core.netdev_budget", "600"), nil); err != nil {
		t.Fatal(err)
	}
	b := sysctlProfile("b", "net.core.somaxconn", "2000")
	res, err := e.ApplyWith(ctx, b, ApplyOptions{KeepOrphans: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Released) != 1 {
		t.Fatalf("released %v", res.Released)
	}
	if got := read(t, e, "/proc/sys/net/core/netdev_budget"); got != "600" {
		t.Errorf("kept orphan changed: %s", got)
	}
	pr, _ := e.Check(ctx, b)
	if n := pr.Count(plan.Drift); n != 0 {
		t.Errorf("check after keep-orphans: %+v", pr.Items)
	}
}

// TestRevertOutOfBandChange: a value changed by hand after apply is shown
// with its real value and is not overwritten without Force.
func TestRevertOutOfBandChange(t *testing.T) {
	ctx := context.Background()
	e, dir := newEngine(t)
	if _, err := e.Apply(ctx, testProfile, nil); err != nil {
		t.Fatal(err)
	}
	p := e.Env.Root.Path("/proc/sys/net/core/somaxconn")
	if err := os.WriteFile(p, []byte("12345\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	edited := fixture.Digest(t, dir, "var/lib/nettune/lock")
	rp, err := e.Revert(ctx, RevertOptions{}, nil)
	var me *ModifiedError
	if !errors.As(err, &me) || !errors.Is(err, ErrModifiedSince) || len(me.Modified) != 1 || me.Modified[0].Actual != "12345" {
		t.Fatalf("revert over a hand-made change: %v", err)
	}
	for _, c := range rp.Changes {
		if c.Object == "net.core.somaxconn" && c.Before != "12345" {
			t.Errorf("revert plan shows %q as the current value, not the real 12345", c.Before)
		}
	}
	if diffs := fixture.DiffDigests(edited, fixture.Digest(t, dir, "var/lib/nettune/lock")); len(diffs) > 0 {
		t.Fatalf("refused revert changed the tree: %v", diffs)
	}
	if _, err := e.Revert(ctx, RevertOptions{Force: true}, nil); err != nil {
		t.Fatal(err)
	}
	if got := read(t, e, "/proc/sys/net/core/somaxconn"); got != "4096" {
		t.Errorf("forced revert: somaxconn %s", got)
	}
}

// TestRevertToBounds: 0 (explicit), negative and unrecorded numbers give
// the same error; All reverts everything.
func TestRevertToBounds(t *testing.T) {
	ctx := context.Background()
	e, dir := newEngine(t)
	before := fixture.Digest(t, dir)
	for _, v := range []string{"1000", "2000"} {
		if _, err := e.Apply(ctx, sysctlProfile("p"+v, "net.core.somaxconn", v), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, to := range []int{-1, 5} {
		_, err := e.Revert(ctx, RevertOptions{To: to}, nil)
		if !errors.Is(err, ErrNothingToRevert) || !strings.Contains(err.Error(), fmt.Sprintf("generation %d is not recorded (recorded: [1 2]", to)) {
			t.Errorf("--to %d: %v", to, err)
		}
	}
	rp, err := e.Revert(ctx, RevertOptions{All: true}, nil)
	if err != nil || len(rp.Generations) != 2 {
		t.Fatalf("--all: %+v %v", rp, err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree differs after --all: %v", diffs)
	}
}

// recordingJournal records the journal's fsyncs, and recordingWriter the
// host writes, in one sequence.
type events struct {
	mu  sync.Mutex
	log []string
}

func (ev *events) add(s string) {
	ev.mu.Lock()
	ev.log = append(ev.log, s)
	ev.mu.Unlock()
}

type recordingWriter struct {
	host.Writer
	ev *events
}

func (w recordingWriter) WriteKernel(p, v string) error {
	w.ev.add("write " + filepath.Base(p))
	return w.Writer.WriteKernel(p, v)
}

func (w recordingWriter) WriteFile(p string, d []byte, m fs.FileMode) error {
	w.ev.add("write " + filepath.Base(p))
	return w.Writer.WriteFile(p, d, m)
}

// TestWriteAheadIsDurable: the record of every prior value is fsynced (file
// and directory) before the first host write, and the commit after the
// last. Removing any of those fsyncs fails this test.
func TestWriteAheadIsDurable(t *testing.T) {
	e, _ := newEngine(t)
	ev := &events{}
	e.Env.Root.W = recordingWriter{Writer: e.Env.Root.W, ev: ev}
	e.Journal = OSJournal{Sync: func(f *os.File) error {
		data, _ := os.ReadFile(f.Name())
		st, _ := f.Stat()
		switch {
		case st != nil && st.IsDir():
			ev.add("sync dir")
		case strings.Contains(string(data), `"op":"commit"`):
			ev.add("sync commit")
		case strings.Contains(string(data), `"op":"intent"`) && strings.Contains(string(data), `"before":"4096"`):
			ev.add("sync intent")
		default:
			ev.add("sync other")
		}
		return f.Sync()
	}}
	if _, err := e.Apply(context.Background(), testProfile, nil); err != nil {
		t.Fatal(err)
	}
	first, last := -1, -1
	for i, s := range ev.log {
		if strings.HasPrefix(s, "write ") {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	want := []string{"sync intent", "sync dir"}
	if first != 2 || strings.Join(ev.log[:2], ",") != strings.Join(want, ",") {
		t.Fatalf("before the first host write: %v (want %v)", ev.log[:max(first, 0)], want)
	}
	if last != len(ev.log)-2 || ev.log[len(ev.log)-1] != "sync commit" {
		t.Fatalf("after the last host write: %v", ev.log[last+1:])
	}
}

// TestStateDirSymlinkRefused: under --root, a state directory reached
// through a symlink (here one leading out of the root) is refused before
// anything is written.
func TestStateDirSymlinkRefused(t *testing.T) {
	e, dir := newEngine(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "var/lib/nettune")); err != nil {
		t.Fatal(err)
	}
	before := fixture.Digest(t, dir)
	_, err := e.Apply(context.Background(), testProfile, nil)
	if !errors.Is(err, host.ErrOutsideRoot) {
		t.Fatalf("apply with an escaping state dir: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree changed: %v", diffs)
	}
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		t.Fatalf("wrote outside the root: %v", entries)
	}
}

// loadOnce plans a change only while its marker file is missing, as the
// devices module plans loading vfio-pci only while it is not loaded.
type loadOnce struct{ sysctl.Module }

func (loadOnce) Name() string                    { return "sysctl" }
func (loadOnce) Configured(s *profile.Spec) bool { return len(s.Sysctl) > 0 }
func (loadOnce) PlansEveryObject() bool          { return false }
func (m loadOnce) marker(env *module.Env) string { return env.Root.Path("/run/loaded") }
func (m loadOnce) exists(env *module.Env) bool   { _, err := os.Stat(m.marker(env)); return err == nil }
func (m loadOnce) Revert(_ context.Context, env *module.Env, _ plan.Change) error {
	return env.Root.W.Remove(m.marker(env))
}

func (m loadOnce) Plan(_ context.Context, env *module.Env, _ *profile.Spec) (*module.Result, error) {
	if m.exists(env) {
		return &module.Result{}, nil
	}
	return &module.Result{Items: []plan.Item{{Change: plan.Change{Module: "sysctl", Object: "loader", Attribute: "module",
		Action: plan.Create, After: "loaded", When: plan.Live}, Status: plan.Drift}}}, nil
}

func (m loadOnce) Apply(_ context.Context, env *module.Env, _ plan.Change) error {
	return env.Root.W.WriteFile(m.marker(env), []byte("1\n"), 0o644)
}

func (m loadOnce) Current(_ context.Context, env *module.Env, _ plan.Change) (string, bool, error) {
	if m.exists(env) {
		return "loaded", false, nil
	}
	return "", true, nil
}

// TestNoOrphanForStateTheModuleStopsPlanning: a module that plans a change
// only while it is needed (the devices module loads vfio-pci once) must
// not see its own change as orphaned on the next check of the same
// profile (found by e2e s3 run on its own: check right after apply said
// drift).
func TestNoOrphanForStateTheModuleStopsPlanning(t *testing.T) {
	e, _ := newEngine(t)
	e.Modules = []module.Module{loadOnce{}}
	ctx := context.Background()
	p := sysctlProfile("p", "net.core.somaxconn", "1")
	if res, err := e.Apply(ctx, p, nil); err != nil || len(res.Applied) != 1 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	pr, err := e.Check(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := pr.Count(plan.Drift); n != 0 {
		t.Fatalf("check right after apply: %d drift: %+v", n, pr.Items)
	}
	// Without the section, the load is the profile's no longer: it is
	// returned.
	q := sysctlProfile("q")
	pr, _ = e.Check(ctx, q)
	if len(pr.Items) != 1 || !pr.Items[0].Orphan {
		t.Fatalf("profile without the section: %+v", pr.Items)
	}
}
