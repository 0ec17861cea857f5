package nics_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/nics"
	"github.com/nettune/nettune/pkg/plan"
)

// napiHost is multi.txtar with napi.txtar over it.
func napiHost(t *testing.T) string {
	t.Helper()
	dir := fixture.Unpack(t, multiFixture)
	if err := fixture.UnpackTo("testdata/napi.txtar", dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// noNAPIKernel answers writes to the threaded file of the devices in
// refuse as modify_napi_threaded does for a device whose NAPI list is
// empty: EOPNOTSUPP, every time, whatever the value (0 included).
type noNAPIKernel struct {
	host.Writer
	refuse map[string]bool
	// refused counts the refused writes.
	refused int
}

func (k *noNAPIKernel) WriteKernel(path, value string) error {
	if filepath.Base(path) == "threaded" && k.refuse[filepath.Base(filepath.Dir(path))] {
		k.refused++
		return fmt.Errorf("set %s to %q: write: %w", path, value, syscall.EOPNOTSUPP)
	}
	return k.Writer.WriteKernel(path, value)
}

func (k *noNAPIKernel) WriteFile(path string, data []byte, perm fs.FileMode) error {
	return k.Writer.WriteFile(path, data, perm)
}

func readSys(t *testing.T, dir, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestNAPIApplyCheckRevert: the three NAPI keys are planned as drift with
// the kernel's units (200us is 200000 ns), applied, in place for check,
// and reverted to the byte.
func TestNAPIApplyCheckRevert(t *testing.T) {
	dir := napiHost(t)
	before := fixture.Digest(t, dir)
	e := newEngine(t, dir, nil)
	p := inlineProfile(t, "  nics:\n    - match: {name: eth0}\n      napiDeferHardIrqs: 2\n      groFlushTimeout: 200us\n      threadedNapi: true\n")
	ctx := context.Background()
	pr, err := e.Plan(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	out := renderPlan(pr)
	for _, want := range []string{
		`eth0                                     gro_flush_timeout      "0" -> "200000"`,
		`eth0                                     napi_defer_hard_irqs   "0" -> "2"`,
		`eth0                                     threaded               "0" -> "1"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %s:\n%s", want, out)
		}
	}
	if n := pr.Count(plan.Drift); n != 3 {
		t.Errorf("%d drift items, want 3:\n%s", n, out)
	}
	for _, it := range pr.Items {
		if it.Path != "" && !strings.HasPrefix(it.Path, "/sys/class/net/eth0/") {
			t.Errorf("%s: path %s", it.Attribute, it.Path)
		}
	}
	if _, err := e.Apply(ctx, p, nil); err != nil {
		t.Fatalf("apply: %v", err)
	}
	eth0 := "sys/class/net/eth0/"
	for f, want := range map[string]string{"napi_defer_hard_irqs": "2", "gro_flush_timeout": "200000", "threaded": "1"} {
		if got := readSys(t, dir, eth0+f); got != want {
			t.Errorf("%s = %s after apply, want %s", f, got, want)
		}
	}
	chk, err := e.Check(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := chk.Count(plan.Drift); n != 0 {
		t.Errorf("check after apply: %d drift\n%s", n, renderPlan(chk))
	}
	// Someone sets the timer back by hand: check shows the drift.
	if err := (host.OSWriter{}).WriteKernel(filepath.Join(dir, eth0+"gro_flush_timeout"), "0"); err != nil {
		t.Fatal(err)
	}
	chk, _ = e.Check(ctx, p)
	if out := renderPlan(chk); chk.Count(plan.Drift) != 1 || !strings.Contains(out, `gro_flush_timeout      "0" -> "200000"`) {
		t.Errorf("check after a manual change:\n%s", out)
	}
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Errorf("tree differs after revert: %v", diffs)
	}
}

// TestNAPIThreadedRefused: a veth without NAPI instances. Plan warns (the
// veth is down, rx-gro off); the kernel refuses every write of threaded,
// the rollback's too. Apply fails with a clear message and rolls back the
// timer it had set, without writing threaded again: the tree is as before.
func TestNAPIThreadedRefused(t *testing.T) {
	dir := napiHost(t)
	before := fixture.Digest(t, dir)
	k := &noNAPIKernel{Writer: host.OSWriter{}, refuse: map[string]bool{"veth0": true}}
	e := newEngine(t, dir, k)
	p := inlineProfile(t, "  nics:\n    - match: {name: veth0}\n      groFlushTimeout: 50000\n      threadedNapi: true\n")
	ctx := context.Background()
	pr, err := e.Plan(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	out := renderPlan(pr)
	if !strings.Contains(out, "veth0 (veth) has NAPI instances only while up with rx-gro on or an XDP program attached, and it is down and rx-gro is off") ||
		!strings.Contains(out, "EOPNOTSUPP") {
		t.Errorf("plan does not warn that threaded will be refused:\n%s", out)
	}
	_, err = e.Apply(ctx, p, nil)
	if err == nil {
		t.Fatal("apply succeeded although the kernel refuses threaded")
	}
	for _, want := range []string{"veth0: the kernel refuses threaded NAPI", "has no NAPI instance now", "remove threadedNapi", "operation not supported", "rolled back; the host is as it was"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("apply error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, module.ErrUnsupported) || !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Errorf("apply error is not unsupported/EOPNOTSUPP: %v", err)
	}
	var rb *engine.RollbackError
	if errors.As(err, &rb) {
		t.Errorf("rollback failed: %v", rb)
	}
	if k.refused != 1 {
		t.Errorf("%d writes of threaded refused, want 1 (the rollback must not write the value that is already there)", k.refused)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Errorf("tree differs after the failed apply: %v", diffs)
	}
	// With rx-gro turned on by the same profile and the veth up, the
	// plan no longer predicts a refusal.
	if err := (host.OSWriter{}).WriteKernel(filepath.Join(dir, "sys/class/net/veth0/flags"), "0x1003"); err != nil {
		t.Fatal(err)
	}
	p = inlineProfile(t, "  nics:\n    - match: {name: veth0}\n      features: {gro: true}\n      threadedNapi: true\n")
	pr, _ = e.Plan(ctx, p)
	if out := renderPlan(pr); strings.Contains(out, "EOPNOTSUPP") {
		t.Errorf("warning with the veth up and rx-gro on:\n%s", out)
	}
}

// TestNAPIReadBack: a kernel that takes the write and keeps its value (the
// sysfs store returned success, the value did not stick) fails the apply
// with a read-back error and leaves the tree as it was.
func TestNAPIReadBack(t *testing.T) {
	dir := napiHost(t)
	before := fixture.Digest(t, dir)
	w := &fixture.ClampingWriter{W: host.OSWriter{}, Keep: func(path, old, value string) string {
		if filepath.Base(path) == "gro_flush_timeout" {
			return old
		}
		return value
	}}
	e := newEngine(t, dir, w)
	p := inlineProfile(t, "  nics:\n    - match: {name: eth0}\n      napiDeferHardIrqs: 5\n      groFlushTimeout: 1ms\n")
	_, err := e.Apply(context.Background(), p, nil)
	if !errors.Is(err, module.ErrVerify) || !strings.Contains(err.Error(), `wrote 1000000, reads back "0"`) {
		t.Fatalf("apply: %v, want a read-back error", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Errorf("tree differs after the failed apply: %v", diffs)
	}
}

// TestNAPIPlanErrors: files the kernel lacks, and threaded busy-poll that
// sysfs can neither set nor restore, are plan errors naming the key.
func TestNAPIPlanErrors(t *testing.T) {
	for _, tc := range []struct{ name, spec, want string }{
		{"old kernel", "  nics:\n    - match: {name: ens2}\n      napiDeferHardIrqs: 2\n",
			"ens2 (ice, 0000:5e:00.0) has no /sys/class/net/ens2/napi_defer_hard_irqs: the kernel predates it (Linux 5.7)"},
		{"busy-poll", "  nics:\n    - match: {name: ens3}\n      threadedNapi: false\n",
			"/sys/class/net/ens3/threaded reads 2 (threaded busy-poll, set through netlink)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := napiHost(t)
			_, err := newEngine(t, dir, nil).Plan(context.Background(), inlineProfile(t, tc.spec))
			if !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "p.yaml:5:3:") {
				t.Errorf("plan error %v, want %q at p.yaml:5:3", err, tc.want)
			}
		})
	}
}

func FuzzParseNAPIValue(f *testing.F) {
	for _, s := range []string{"0\n", "1\n", "2\n", "200000\n", "2147483647\n", "2147483648\n", "18446744073709551615\n", "-1", " 7 ", "0x10", ""} {
		for _, a := range []string{"threaded", "napi_defer_hard_irqs", "gro_flush_timeout"} {
			f.Add(a, s)
		}
	}
	f.Fuzz(func(t *testing.T, attr, raw string) {
		n, err := nics.ParseNAPIValue(attr, raw)
		if err != nil {
			return
		}
		if attr == "threaded" && n > 2 || attr == "napi_defer_hard_irqs" && n > 1<<31-1 {
			t.Errorf("%s %q parsed as %d", attr, raw, n)
		}
		if got, err := nics.ParseNAPIValue(attr, fmt.Sprint(n)); err != nil || got != n {
			t.Errorf("%d does not read back: %d %v", n, got, err)
		}
	})
}

// TestNAPIDeferWithoutTimer: deferral with the timer at 0 (the profile's or
// the device's) is a plan warning; with a timer it is not.
func TestNAPIDeferWithoutTimer(t *testing.T) {
	const warn = "spec.nics[0].napiDeferHardIrqs is 2 but gro_flush_timeout of eth0 stays 0"
	for spec, want := range map[string]bool{
		"      napiDeferHardIrqs: 2\n":                              true,
		"      napiDeferHardIrqs: 2\n      groFlushTimeout: 0\n":    true,
		"      napiDeferHardIrqs: 2\n      groFlushTimeout: 20us\n": false,
		"      napiDeferHardIrqs: 0\n":                              false,
	} {
		pr, err := newEngine(t, napiHost(t), nil).Plan(context.Background(), inlineProfile(t, "  nics:\n    - match: {name: eth0}\n"+spec))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(renderPlan(pr), warn); got != want {
			t.Errorf("%q: warning %v, want %v:\n%s", spec, got, want, renderPlan(pr))
		}
	}
}
