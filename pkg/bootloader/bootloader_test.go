package bootloader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
)

const hosts = "../../testdata/hosts/"

// fakeRunner records the programs nettune runs and fails the Nth run.
type fakeRunner struct {
	calls  []string
	failAt int
}

func (f *fakeRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := host.CommandLine(name, args...)
	f.calls = append(f.calls, line)
	if len(f.calls) == f.failAt {
		return nil, fmt.Errorf("run %s: exit status 1: /etc/grub.d/10_linux: syntax error", line)
	}
	return nil, nil
}

// root unpacks a boot configuration overlay into a fresh tree with a fake
// runner.
func root(t *testing.T, overlay string) (*host.Root, *fakeRunner) {
	t.Helper()
	dir := fixture.Unpack(t, hosts+overlay+".txtar")
	if err := os.MkdirAll(filepath.Join(dir, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	fr := &fakeRunner{}
	r.Exec = fr
	return r, fr
}

func testEnv(r *host.Root) *module.Env {
	return &module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Profile: "t"}
}

var (
	cpuReq = Request{Module: "cpu", Names: []string{"isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity"},
		Args: []string{"isolcpus=managed_irq,domain,2-7", "nohz_full=2-7", "rcu_nocbs=2-7", "irqaffinity=0-1"}}
	hpReq = Request{Module: "hugepages", Names: []string{"default_hugepagesz", "hugepagesz", "hugepages"},
		Args: []string{"default_hugepagesz=1G", "hugepagesz=1G", "hugepages=4"}, Equal: slices.Equal[[]string]}
)

func mustPlan(t *testing.T, r *host.Root, q Request) *Result {
	t.Helper()
	res, err := Plan(r, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		if p.Severity == plan.Error {
			t.Fatalf("unexpected error problem: %v", p)
		}
	}
	if res.Item == nil {
		t.Fatalf("no item; problems %v", res.Problems)
	}
	return res
}

func read(t *testing.T, r *host.Root, p string) string {
	t.Helper()
	b, err := os.ReadFile(r.Path(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDetect(t *testing.T) {
	for overlay, want := range map[string]Target{
		"boot-debian-grub":     {Kind: GRUB, Path: "/etc/default/grub", Variable: VarLinuxDefault},
		"boot-ubuntu-grubd":    {Kind: GRUBDropIn, Path: "/etc/default/grub.d/99-nettune-cpu.cfg"},
		"boot-rhel-bls":        {Kind: Grubby, Path: "/etc/default/grub", Variable: VarLinux},
		"boot-systemd-boot":    {Kind: KernelInstall, Path: "/etc/kernel/cmdline"},
		"topo-1node-8cpu":      {},
		"topo-2node-32cpu-smt": {},
	} {
		r, _ := root(t, overlay)
		got, err := Detect(r, "cpu")
		if want.Kind == "" {
			if !errors.Is(err, ErrNoBootloader) {
				t.Errorf("%s: Detect = %+v, %v; want ErrNoBootloader", overlay, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s: Detect = %+v, %v; want %+v", overlay, got, err, want)
		}
	}
}

// roundTrip applies the cpu request through one boot configuration and
// reverts it, checking each step.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		overlay string
		action  plan.Action
		file    string
		want    string // the changed line of the edited file
		calls   []string
	}{
		{"boot-debian-grub", plan.Set, "/etc/default/grub",
			`GRUB_CMDLINE_LINUX_DEFAULT="quiet  mitigations=off isolcpus=managed_irq,domain,2-7 nohz_full=2-7 rcu_nocbs=2-7 irqaffinity=0-1"`,
			[]string{"update-grub"}},
		{"boot-ubuntu-grubd", plan.Create, "/etc/default/grub.d/99-nettune-cpu.cfg",
			`GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT:+$GRUB_CMDLINE_LINUX_DEFAULT }isolcpus=managed_irq,domain,2-7 nohz_full=2-7 rcu_nocbs=2-7 irqaffinity=0-1"`,
			[]string{"update-grub"}},
		{"boot-rhel-bls", plan.Set, "/etc/default/grub",
			`GRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet isolcpus=managed_irq,domain,2-7 nohz_full=2-7 rcu_nocbs=2-7 irqaffinity=0-1"`,
			[]string{`grubby --update-kernel=ALL '--remove-args=isolcpus nohz_full rcu_nocbs irqaffinity' '--args=isolcpus=managed_irq,domain,2-7 nohz_full=2-7 rcu_nocbs=2-7 irqaffinity=0-1'`}},
		{"boot-systemd-boot", plan.Set, "/etc/kernel/cmdline",
			"root=UUID=4f0a3c9e-6b1d-4b7e-9f5a-2c3d4e5f6a7b rw quiet isolcpus=managed_irq,domain,2-7 nohz_full=2-7 rcu_nocbs=2-7 irqaffinity=0-1",
			[]string{"kernel-install add 6.1.0-17-amd64 /usr/lib/modules/6.1.0-17-amd64/vmlinuz", "kernel-install add 6.1.0-18-amd64 /usr/lib/modules/6.1.0-18-amd64/vmlinuz"}},
	} {
		t.Run(tc.overlay, func(t *testing.T) {
			r, fr := root(t, tc.overlay)
			before := fixture.Digest(t, r.Prefix)
			res := mustPlan(t, r, cpuReq)
			it := res.Item
			if it.Status != plan.Drift || it.Action != tc.action || it.Before != "" || it.After != strings.Join(cpuReq.Args, " ") || it.When != plan.Boot || it.Path != tc.file {
				t.Fatalf("item = %+v", it)
			}
			if !strings.Contains(it.Command, tc.calls[0]) {
				t.Errorf("command %q lacks %q", it.Command, tc.calls[0])
			}
			if err := Apply(context.Background(), testEnv(r), it.Change); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fr.calls, tc.calls) {
				t.Errorf("ran %q, want %q", fr.calls, tc.calls)
			}
			if content := read(t, r, tc.file); !slices.Contains(splitLines(content), tc.want) {
				t.Errorf("%s lacks line %q:\n%s", tc.file, tc.want, content)
			}
			// The boot configuration has them, the running kernel not yet.
			res = mustPlan(t, r, cpuReq)
			if res.Item.Status != plan.PendingReboot || res.Item.Before != it.After {
				t.Errorf("after apply: %+v", res.Item)
			}
			// Applying again writes nothing and runs nothing.
			if err := Apply(context.Background(), testEnv(r), it.Change); err != nil {
				t.Fatal(err)
			}
			if len(fr.calls) != len(tc.calls) {
				t.Errorf("second apply ran %q", fr.calls[len(tc.calls):])
			}
			if err := Revert(context.Background(), testEnv(r), it.Change); err != nil {
				t.Fatal(err)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
				t.Errorf("tree differs after revert: %v", diffs)
			}
			if len(fr.calls) != 2*len(tc.calls) {
				t.Errorf("revert did not regenerate: %q", fr.calls)
			}
			if err := Revert(context.Background(), testEnv(r), it.Change); err != nil {
				t.Errorf("second revert: %v", err)
			}
			if res = mustPlan(t, r, cpuReq); res.Item.Status != plan.Drift {
				t.Errorf("after revert: %+v", res.Item)
			}
		})
	}
}

// TestTwoModules: cpu and hugepages share the command line; each change
// touches only its own arguments, in either revert order.
func TestTwoModules(t *testing.T) {
	for _, overlay := range []string{"boot-debian-grub", "boot-ubuntu-grubd", "boot-rhel-bls", "boot-systemd-boot"} {
		for _, cpuFirst := range []bool{true, false} {
			r, _ := root(t, overlay)
			before := fixture.Digest(t, r.Prefix)
			c1 := mustPlan(t, r, cpuReq).Item.Change
			c2 := mustPlan(t, r, hpReq).Item.Change
			for _, c := range []plan.Change{c1, c2} {
				if err := Apply(context.Background(), testEnv(r), c); err != nil {
					t.Fatal(err)
				}
			}
			for _, q := range []Request{cpuReq, hpReq} {
				if res := mustPlan(t, r, q); res.Item.Status != plan.PendingReboot {
					t.Errorf("%s %s: %+v", overlay, q.Module, res.Item)
				}
			}
			order := []plan.Change{c2, c1}
			if cpuFirst {
				order = []plan.Change{c1, c2}
			}
			for _, c := range order {
				if err := Revert(context.Background(), testEnv(r), c); err != nil {
					t.Fatal(err)
				}
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
				t.Errorf("%s (cpu reverted first: %v): %v", overlay, cpuFirst, diffs)
			}
			if entries, _ := os.ReadDir(r.State()); len(entries) > 0 {
				t.Errorf("%s: state directory not cleaned: %v", overlay, entries)
			}
		}
	}
}

func TestRegenerationFailureRestoresFile(t *testing.T) {
	for _, overlay := range []string{"boot-debian-grub", "boot-ubuntu-grubd", "boot-rhel-bls", "boot-systemd-boot"} {
		for _, failAt := range []int{1, 2} {
			r, fr := root(t, overlay)
			before := fixture.Digest(t, r.Prefix)
			c := mustPlan(t, r, cpuReq).Item.Change
			fr.failAt = failAt
			err := Apply(context.Background(), testEnv(r), c)
			runs := len(fr.calls)
			if failAt > runs && err == nil {
				continue // only kernel-install runs twice
			}
			if err == nil || !strings.Contains(err.Error(), "syntax error") || !strings.Contains(err.Error(), "restored") {
				t.Fatalf("%s: Apply error = %v", overlay, err)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
				t.Errorf("%s: tree differs after failed regeneration: %v", overlay, diffs)
			}
			// kernel-install: the kernel whose entry was already rewritten is
			// regenerated again from the restored file.
			if overlay == "boot-systemd-boot" && failAt == 2 && (len(fr.calls) != 3 || fr.calls[2] != fr.calls[0]) {
				t.Errorf("runs after failure: %q", fr.calls)
			}
		}
	}
}

// TestFaultInjection fails every write of apply and of revert in turn; the
// tree must come back byte for byte, as the engine's rollback does it.
func TestFaultInjection(t *testing.T) {
	for _, overlay := range []string{"boot-debian-grub", "boot-ubuntu-grubd", "boot-rhel-bls", "boot-systemd-boot"} {
		for _, q := range []Request{cpuReq, hpReq} {
			counter := func() int {
				r, _ := root(t, overlay)
				fw := &fixture.FailingWriter{W: r.W}
				r.W = fw
				c := mustPlan(t, r, q).Item.Change
				if err := Apply(context.Background(), testEnv(r), c); err != nil {
					t.Fatal(err)
				}
				if err := Revert(context.Background(), testEnv(r), c); err != nil {
					t.Fatal(err)
				}
				return fw.Calls
			}
			total := counter()
			if total < 2 {
				t.Fatalf("%s: only %d writes", overlay, total)
			}
			for n := 1; n <= total; n++ {
				r, _ := root(t, overlay)
				before := fixture.Digest(t, r.Prefix)
				fw := &fixture.FailingWriter{W: r.W, FailAt: n, Err: syscall.EIO}
				r.W = fw
				c := mustPlan(t, r, q).Item.Change
				if err := Apply(context.Background(), testEnv(r), c); err != nil {
					if !errors.Is(err, syscall.EIO) {
						t.Errorf("%s write %d: %v", overlay, n, err)
					}
				}
				// Rollback, or the revert under test (which may fail once and
				// is retried, as 'nettune revert' is).
				if err := Revert(context.Background(), testEnv(r), c); err != nil {
					if err := Revert(context.Background(), testEnv(r), c); err != nil {
						t.Fatalf("%s write %d (%s): retry: %v", overlay, n, fw.Failed, err)
					}
				}
				if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
					t.Errorf("%s %s write %d (%s): %v", overlay, q.Module, n, fw.Failed, diffs)
				}
				if entries, _ := os.ReadDir(r.State()); len(entries) > 0 {
					t.Errorf("%s %s write %d (%s): state directory keeps %v", overlay, q.Module, n, fw.Failed, entries)
				}
			}
		}
	}
}

func TestOfflineRootSkipsRegeneration(t *testing.T) {
	r, _ := root(t, "boot-debian-grub")
	r.Exec = host.OfflineRunner{Root: r.Prefix}
	res := mustPlan(t, r, cpuReq)
	var warned bool
	for _, p := range res.Problems {
		warned = warned || (p.Severity == plan.Warning && strings.Contains(p.Message, "update-grub will not run"))
	}
	if !warned {
		t.Errorf("no offline warning: %v", res.Problems)
	}
	if err := Apply(context.Background(), testEnv(r), res.Item.Change); err != nil {
		t.Fatal(err)
	}
	res = mustPlan(t, r, cpuReq)
	if res.Item.Status != plan.PendingReboot {
		t.Errorf("after offline apply: %+v", res.Item)
	}
	// grub.cfg was not regenerated: check says so.
	var stale bool
	for _, p := range res.Problems {
		stale = stale || strings.Contains(p.Message, "/boot/grub/grub.cfg does not")
	}
	if !stale {
		t.Errorf("no warning about the stale grub.cfg: %v", res.Problems)
	}
}

func TestCreateKernelCmdline(t *testing.T) {
	r, fr := root(t, "boot-systemd-boot")
	if err := os.Remove(r.Etc("kernel/cmdline")); err != nil {
		t.Fatal(err)
	}
	before := fixture.Digest(t, r.Prefix)
	res := mustPlan(t, r, cpuReq)
	if res.Item.Action != plan.Create {
		t.Fatalf("item %+v", res.Item)
	}
	if err := Apply(context.Background(), testEnv(r), res.Item.Change); err != nil {
		t.Fatal(err)
	}
	// Seeded from /proc/cmdline without the loader's initrd=.
	want := "root=UUID=4f0a3c9e-6b1d-4b7e-9f5a-2c3d4e5f6a7b rw quiet " + strings.Join(cpuReq.Args, " ") + "\n"
	if got := read(t, r, "/etc/kernel/cmdline"); got != want {
		t.Errorf("/etc/kernel/cmdline = %q, want %q", got, want)
	}
	if err := Revert(context.Background(), testEnv(r), res.Item.Change); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
		t.Errorf("after revert: %v", diffs)
	}
	if len(fr.calls) != 4 {
		t.Errorf("runs: %q", fr.calls)
	}
}

// TestExactRevert: values nettune cannot rebuild word by word (a bare
// value that needed quotes, owned arguments scattered and fewer after
// apply) come back byte for byte from the backup; an operator's edit in
// between is kept.
func TestExactRevert(t *testing.T) {
	for _, tc := range []struct{ name, line string }{
		{"bare value", "GRUB_CMDLINE_LINUX_DEFAULT=quiet"},
		{"scattered owned arguments", `GRUB_CMDLINE_LINUX_DEFAULT="isolcpus=1 quiet rcu_nocbs=1  nohz_full=1 irqaffinity=0 splash"`},
	} {
		r, _ := root(t, "boot-debian-grub")
		grub := read(t, r, "/etc/default/grub")
		grub = strings.Replace(grub, `GRUB_CMDLINE_LINUX_DEFAULT="quiet  mitigations=off"`, tc.line, 1)
		if err := os.WriteFile(r.Etc("default/grub"), []byte(grub), 0o644); err != nil {
			t.Fatal(err)
		}
		before := fixture.Digest(t, r.Prefix)
		q := cpuReq
		q.Args = []string{"isolcpus=managed_irq,domain,2-7"}
		c := mustPlan(t, r, q).Item.Change
		if err := Apply(context.Background(), testEnv(r), c); err != nil {
			t.Fatal(err)
		}
		if err := Revert(context.Background(), testEnv(r), c); err != nil {
			t.Fatal(err)
		}
		if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
			t.Errorf("%s: %v\n%s", tc.name, diffs, read(t, r, "/etc/default/grub"))
		}
	}

	// An operator adds an argument after apply: revert keeps it.
	r, _ := root(t, "boot-debian-grub")
	c := mustPlan(t, r, cpuReq).Item.Change
	if err := Apply(context.Background(), testEnv(r), c); err != nil {
		t.Fatal(err)
	}
	grub := strings.Replace(read(t, r, "/etc/default/grub"), "quiet ", "quiet console=ttyS0 ", 1)
	if err := os.WriteFile(r.Etc("default/grub"), []byte(grub), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Revert(context.Background(), testEnv(r), c); err != nil {
		t.Fatal(err)
	}
	if got := read(t, r, "/etc/default/grub"); !strings.Contains(got, `GRUB_CMDLINE_LINUX_DEFAULT="quiet console=ttyS0  mitigations=off"`) {
		t.Errorf("operator's edit lost:\n%s", got)
	}
}

func TestForeignArguments(t *testing.T) {
	// Debian: the other variable already has an owned argument.
	r, _ := root(t, "boot-debian-grub")
	grub := strings.Replace(read(t, r, "/etc/default/grub"), `GRUB_CMDLINE_LINUX=""`, `GRUB_CMDLINE_LINUX="nohz_full=1"`, 1)
	os.WriteFile(r.Etc("default/grub"), []byte(grub), 0o644)
	res, err := Plan(r, cpuReq)
	if err != nil || !hasProblem(res.Problems, plan.Error, "/etc/default/grub:10 already sets nohz_full=1") {
		t.Errorf("problems %v, %v", res.Problems, err)
	}

	// Ubuntu: a drop-in read before nettune's sets one.
	r, _ = root(t, "boot-ubuntu-grubd")
	p := r.Etc("default/grub.d/50-cloudimg-settings.cfg")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(b), "console=ttyS0", "console=ttyS0 isolcpus=3", 1)), 0o644)
	res, _ = Plan(r, cpuReq)
	if !hasProblem(res.Problems, plan.Error, "50-cloudimg-settings.cfg:11 already sets isolcpus=3") {
		t.Errorf("problems %v", res.Problems)
	}

	// A file at nettune's drop-in path that is not nettune's is refused.
	r, _ = root(t, "boot-ubuntu-grubd")
	os.WriteFile(r.Etc("default/grub.d/99-nettune-cpu.cfg"), []byte("GRUB_CMDLINE_LINUX_DEFAULT=\"x\"\n"), 0o644)
	res, _ = Plan(r, cpuReq)
	if !hasProblem(res.Problems, plan.Error, "not managed by nettune") {
		t.Errorf("problems %v", res.Problems)
	}
}

func TestStatus(t *testing.T) {
	// The running kernel has the arguments but the configuration lost them.
	r, _ := root(t, "boot-systemd-boot")
	fixture.Overwrite(t, r.Proc("cmdline"), []byte("root=UUID=x rw quiet "+strings.Join(cpuReq.Args, " ")+"\n"))
	res := mustPlan(t, r, cpuReq)
	if res.Item.Status != plan.Drift || !strings.Contains(res.Item.Detail, "the next boot would lose them") {
		t.Errorf("%+v", res.Item)
	}
	// Same arguments in another order and spelling: nothing to do.
	os.WriteFile(r.Etc("kernel/cmdline"), []byte("root=UUID=x rw quiet nohz_full=2-7 "+strings.Join(cpuReq.Args[2:], " ")+" isolcpus=managed_irq,domain,2-7\n"), 0o644)
	if res := mustPlan(t, r, cpuReq); res.Item.Status != plan.OK {
		t.Errorf("%+v", res.Item)
	}
}

func TestNoBootloader(t *testing.T) {
	r, _ := root(t, "topo-1node-8cpu")
	fixture.Overwrite(t, r.Proc("cmdline"), []byte("console=ttyS0 quiet\n"))
	res, err := Plan(r, cpuReq)
	if err != nil || res.Item != nil || !hasProblem(res.Problems, plan.Error, "cannot persist kernel arguments") {
		t.Errorf("%+v %v", res, err)
	}
	fixture.Overwrite(t, r.Proc("cmdline"), []byte("console=ttyS0 "+strings.Join(cpuReq.Args, " ")+"\n"))
	res, _ = Plan(r, cpuReq)
	if !hasProblem(res.Problems, plan.Warning, "the running kernel has them") {
		t.Errorf("%+v", res.Problems)
	}
}

func hasProblem(ps []plan.Problem, sev plan.Severity, frag string) bool {
	for _, p := range ps {
		if p.Severity == sev && strings.Contains(p.String(), frag) {
			return true
		}
	}
	return false
}

// TestRegenerationTool: update-grub where Debian has it, grub2-mkconfig on
// a RHEL 7 style host without BLS, an error on a live-like root without
// either.
func TestRegenerationTool(t *testing.T) {
	r, fr := root(t, "boot-debian-grub")
	if err := os.Remove(r.Path("/usr/sbin/update-grub")); err != nil {
		t.Fatal(err)
	}
	res, err := Plan(r, cpuReq)
	if err != nil || !hasProblem(res.Problems, plan.Error, "none of update-grub, grub-mkconfig and grub2-mkconfig is installed") {
		t.Errorf("problems %v, %v", res.Problems, err)
	}
	os.MkdirAll(r.Path("/usr/sbin"), 0o755)
	os.WriteFile(r.Path("/usr/sbin/grub2-mkconfig"), []byte("#!/bin/sh\n"), 0o755)
	c := mustPlan(t, r, cpuReq).Item.Change
	if err := Apply(context.Background(), testEnv(r), c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fr.calls, []string{"grub2-mkconfig -o /boot/grub2/grub.cfg"}) {
		t.Errorf("ran %q", fr.calls)
	}
}
