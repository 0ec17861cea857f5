package nics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/cli"
	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/nics"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/nettune/nettune/pkg/sysctl"
)

const multiFixture = "testdata/multi.txtar"

func newEngine(t *testing.T, dir string, w host.Writer) *engine.Engine {
	t.Helper()
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if w != nil {
		r.W = w
	}
	env := &module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e := engine.New(env, "test", cli.Modules())
	e.Modules = []module.Module{sysctl.Module{}, nics.Module{}, nics.IRQBalance{}}
	return e
}

func loadProfile(t *testing.T, name string) *profile.Profile {
	t.Helper()
	p, err := profile.Load(filepath.Join("testdata/profiles", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// renderPlan is a stable text form of a plan result for golden files.
func renderPlan(pr *engine.PlanResult) string {
	var b strings.Builder
	for _, it := range pr.Items {
		before, after := it.Before, it.After
		if strings.Contains(before, "\n") || strings.Contains(after, "\n") {
			before, after = fmt.Sprintf("(%d lines)", strings.Count(before, "\n")), fmt.Sprintf("(%d lines)", strings.Count(after, "\n"))
		}
		fmt.Fprintf(&b, "%-13s %-6s %-40s %-22s %q -> %q", it.Status, it.Module, it.Object, it.Attribute, before, after)
		if it.Detail != "" {
			fmt.Fprintf(&b, "  [%s]", it.Detail)
		}
		b.WriteString("\n")
	}
	for _, p := range pr.Problems {
		fmt.Fprintf(&b, "%s: %s\n", p.Severity, p)
	}
	return b.String()
}

func golden(t *testing.T, name string, got string) {
	t.Helper()
	fixture.Golden(t, filepath.Join("testdata", name+".golden"), []byte(got))
}

func TestMultiRoundTrip(t *testing.T) {
	dir := fixture.Unpack(t, multiFixture)
	before := fixture.Digest(t, dir)
	e := newEngine(t, dir, nil)
	p := loadProfile(t, "multi.yaml")
	ctx := context.Background()

	pr, err := e.Plan(ctx, p)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, renderPlan(pr))
	}
	golden(t, "multi-plan", renderPlan(pr))
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("plan wrote: %v", diffs)
	}
	res, err := e.Apply(ctx, p, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(res.Applied) != len(pr.Changes()) {
		t.Errorf("applied %d of %d changes", len(res.Applied), len(pr.Changes()))
	}
	chk, err := e.Check(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := chk.Count(plan.Drift); n != 0 {
		t.Errorf("check after apply: %d drift\n%s", n, renderPlan(chk))
	}
	golden(t, "multi-check", renderPlan(chk))
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatalf("revert: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree differs after revert: %v", diffs)
	}
}

// TestMultiFaults fails each write of the apply in turn: the rollback must
// leave the fixture byte-identical.
func TestMultiFaults(t *testing.T) {
	p := loadProfile(t, "multi.yaml")
	ctx := context.Background()
	count := &fixture.FailingWriter{W: host.OSWriter{}}
	dir := fixture.Unpack(t, multiFixture)
	if _, err := newEngine(t, dir, count).Apply(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	n := count.Calls
	if n < 20 {
		t.Fatalf("only %d writes in a full apply", n)
	}
	for _, errno := range []error{syscall.EBUSY, syscall.EINVAL, syscall.EPERM} {
		for i := 1; i <= n; i++ {
			if errno != syscall.EBUSY && i != 1 && i != n/2 && i != n {
				continue // every write fails once with EBUSY; the first, middle and last with the others
			}
			if testing.Short() && i%4 != 1 && i != n {
				continue // -short: a quarter of the writes
			}
			dir := fixture.Unpack(t, multiFixture)
			before := fixture.Digest(t, dir)
			fw := &fixture.FailingWriter{W: host.OSWriter{}, FailAt: i, Err: errno}
			_, err := newEngine(t, dir, fw).Apply(ctx, p, nil)
			if err == nil {
				t.Fatalf("write %d (%s) failed with %v and apply succeeded", i, fw.Failed, errno)
			}
			var rb *engine.RollbackError
			if errors.As(err, &rb) {
				t.Fatalf("write %d (%s): rollback failed: %v", i, fw.Failed, err)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
				t.Fatalf("write %d (%s) failed: tree differs after rollback: %v", i, fw.Failed, diffs)
			}
		}
	}
}

// managedWriter refuses IRQ 135's affinity with EIO, as the kernel does for
// a managed IRQ.
type managedWriter struct{ host.OSWriter }

func (managedWriter) WriteKernel(path, value string) error {
	if strings.HasSuffix(path, "/proc/irq/135/smp_affinity_list") {
		return fmt.Errorf("set %s to %q: write: %w", path, value, syscall.EIO)
	}
	return host.OSWriter{}.WriteKernel(path, value)
}

func TestManagedIRQ(t *testing.T) {
	dir := fixture.Unpack(t, multiFixture)
	before := fixture.Digest(t, dir)
	e := newEngine(t, dir, managedWriter{})
	p := loadProfile(t, "multi.yaml")
	ctx := context.Background()
	res, err := e.Apply(ctx, p, nil)
	if err != nil {
		t.Fatalf("apply with a managed IRQ: %v", err)
	}
	// The refused affinity is reported as unsupported, never as applied.
	for _, c := range res.Applied {
		if strings.Contains(c.Object, "(irq 135)") {
			t.Errorf("managed IRQ reported as applied: %s", c)
		}
	}
	if len(res.Unsupported) != 1 || !strings.Contains(res.Unsupported[0].Change.Object, "(irq 135)") {
		t.Errorf("unsupported: %+v", res.Unsupported)
	}
	chk, err := e.Check(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range chk.Items {
		if strings.Contains(it.Object, "(irq 135)") {
			found = true
			if it.Status != plan.Unsupported || !strings.Contains(it.Detail, "manages") {
				t.Errorf("managed IRQ item: %s %q", it.Status, it.Detail)
			}
		}
	}
	if !found || chk.Count(plan.Drift) != 0 {
		t.Errorf("check after apply:\n%s", renderPlan(chk))
	}
	// irqbalance's ban is the same as planned: it names the managed IRQ
	// too, which irqbalance cannot move either.
	conf, _ := os.ReadFile(filepath.Join(dir, "etc/default/irqbalance"))
	if !strings.Contains(string(conf), "--banirq=135") || !strings.Contains(string(conf), "--banirq=134") {
		t.Errorf("irqbalance configuration:\n%s", conf)
	}
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree differs after revert: %v", diffs)
	}
}
