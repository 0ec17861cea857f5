package isolcpu_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/isolcpu"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

const testdata = "../../testdata/"

var boots = []string{"boot-debian-grub", "boot-ubuntu-grubd", "boot-rhel-bls", "boot-systemd-boot"}

type fakeRunner struct{ calls []string }

func (f *fakeRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	f.calls = append(f.calls, host.CommandLine(name, args...))
	return nil, nil
}

// newRoot unpacks a topology and a boot configuration into one tree.
func newRoot(t *testing.T, topo, boot string) (*host.Root, *fakeRunner) {
	t.Helper()
	dir := fixture.Unpack(t, testdata+"hosts/"+topo+".txtar")
	if boot != "" {
		if err := fixture.UnpackTo(testdata+"hosts/"+boot+".txtar", dir); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	fr := &fakeRunner{}
	r.Exec = fr
	return r, fr
}

// cpuProfile loads a test profile with only its cpu section.
func cpuProfile(t *testing.T, name string) *profile.Profile {
	t.Helper()
	p, err := profile.Load(testdata + "profiles/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.Spec = profile.Spec{CPU: p.Spec.CPU}
	return p
}

func parse(t *testing.T, yaml string) *profile.Spec {
	t.Helper()
	p, err := profile.Parse("test.yaml", []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: t}\nspec:\n  cpu:\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	return &p.Spec
}

func planSpec(t *testing.T, r *host.Root, spec *profile.Spec) *module.Result {
	t.Helper()
	res, err := isolcpu.Module{}.Plan(context.Background(), fixture.Env(r), spec)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func golden(t *testing.T, name string, got string) {
	t.Helper()
	fixture.Golden(t, filepath.Join("testdata", name+".golden"), []byte(got))
}

func TestGoldenPlans(t *testing.T) {
	for _, tc := range []struct{ topo, profile string }{
		{"topo-2node-32cpu-smt", "dpdk-2node"},
		{"topo-1node-8cpu", "dpdk-1node"},
	} {
		for _, boot := range boots {
			r, _ := newRoot(t, tc.topo, boot)
			res := planSpec(t, r, &cpuProfile(t, tc.profile).Spec)
			golden(t, "plan-"+tc.topo+"-"+boot, strings.ReplaceAll(fixture.RenderResult(res), r.Prefix, "ROOT"))
		}
	}
}

func TestKernelArgs(t *testing.T) {
	online := cpuset.MustParse("0-31")
	for _, tc := range []struct {
		yaml  string
		names []string
		args  []string
	}{
		{"    isolated: 2-7\n", []string{"isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity"},
			[]string{"isolcpus=domain,managed_irq,2-7", "nohz_full=2-7", "rcu_nocbs=2-7", "irqaffinity=0-1,8-31"}},
		{"    isolated: 2-7\n    housekeeping: 0-1\n    nohzFull: false\n    irqAffinity: false\n    isolcpusFlags: [managed_irq]\n",
			[]string{"isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity"}, []string{"isolcpus=managed_irq,2-7", "rcu_nocbs=2-7"}},
		{"    power: {maxCState: 0, idlePoll: true, intelPstate: disable}\n    kernelArgs: [skew_tick=1, nosoftlockup]\n",
			[]string{"intel_idle.max_cstate", "processor.max_cstate", "idle", "intel_pstate", "skew_tick", "nosoftlockup"},
			[]string{"intel_idle.max_cstate=0", "processor.max_cstate=0", "idle=poll", "intel_pstate=disable", "skew_tick=1", "nosoftlockup"}},
		{"    power: {governor: performance}\n", nil, nil},
	} {
		c := parse(t, tc.yaml).CPU
		names, args := isolcpu.KernelArgs(c, isolcpu.Resolve(c, online))
		if !slices.Equal(names, tc.names) || !slices.Equal(args, tc.args) {
			t.Errorf("%s: names %q args %q", tc.yaml, names, args)
		}
	}
}

func TestEqual(t *testing.T) {
	a := []string{"isolcpus=domain,managed_irq,2-7", "nohz_full=2-7", "irqaffinity=0,1"}
	for _, b := range [][]string{
		{"nohz-full=2,3,4,5,6,7", "irqaffinity=0-1", "isolcpus=managed_irq,domain,2-7"},
		{"irqaffinity=0-1", "isolcpus=domain,managed_irq,2-4,5-7", "nohz_full=2-7"},
	} {
		if !isolcpu.Equal(a, b) {
			t.Errorf("%q and %q should be equal", a, b)
		}
	}
	for _, b := range [][]string{
		{"isolcpus=domain,2-7", "nohz_full=2-7", "irqaffinity=0-1"},
		{"isolcpus=domain,managed_irq,2-7", "nohz_full=2-6", "irqaffinity=0-1"},
		{"isolcpus=domain,managed_irq,2-7", "nohz_full=2-7"},
	} {
		if isolcpu.Equal(a, b) {
			t.Errorf("%q and %q should differ", a, b)
		}
	}
}

func problemsOf(res *module.Result, sev plan.Severity) string {
	var out []string
	for _, p := range res.Problems {
		if p.Severity == sev {
			out = append(out, p.String())
		}
	}
	return strings.Join(out, "\n")
}

func TestValidation(t *testing.T) {
	r, _ := newRoot(t, "topo-2node-32cpu-smt", "boot-debian-grub")
	for _, tc := range []struct{ yaml, want string }{
		{"    isolated: 30-40\n", "CPUs 32-40 do not exist on this host (CPUs 0-31)"},
		{"    isolated: 8-15,24-31\n", "node 1 would have no housekeeping CPU"},
		// CPUs 8-15 are neither isolated nor housekeeping: allowed, node 1
		// keeps 24-31 for the kernel.
		{"    isolated: 2-7\n    housekeeping: 0-1,16-31\n", ""},
		// Explicit housekeeping all on node 0 while node 1 has isolated CPUs.
		{"    isolated: 2-7,10-15\n    housekeeping: 0-1\n", "node 1 would have no housekeeping CPU"},
		{"    isolated: 2-7\n    kernelArgs: [isolcpus=1]\n", "isolcpus= is generated from the other keys of spec.cpu"},
		{"    kernelArgs: [hugepages=4]\n", "hugepages= belongs to spec.hugepages"},
		{"    kernelArgs: [a=1, a=2]\n", `a= is already given as "a=1"`},
		{"    kernelArgs: [a=$x]\n", "cannot be written into boot configuration safely"},
		{"    power: {governor: schedutil}\n", "CPUs 0-31 cannot use governor schedutil: the driver intel_pstate offers performance, powersave"},
	} {
		res := planSpec(t, r, parse(t, tc.yaml))
		got := problemsOf(res, plan.Error)
		if tc.want == "" {
			if got != "" {
				t.Errorf("%s: unexpected errors %s", tc.yaml, got)
			}
			continue
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: errors %q lack %q", tc.yaml, got, tc.want)
		}
	}

	// An offline CPU.
	fixture.Overwrite(t, r.Sys("devices/system/cpu/online"), []byte("0-30\n"))
	if got := problemsOf(planSpec(t, r, parse(t, "    isolated: 28-31\n")), plan.Error); !strings.Contains(got, "CPU 31 is offline") {
		t.Errorf("offline: %q", got)
	}

	// Warnings: an isolated CPU whose SMT sibling is not isolated.
	r, _ = newRoot(t, "topo-2node-32cpu-smt", "boot-debian-grub")
	if got := problemsOf(planSpec(t, r, parse(t, "    isolated: 4-7,20-22\n")), plan.Warning); !strings.Contains(got, "7 (sibling 23)") {
		t.Errorf("SMT warning: %q", got)
	}
	// A kernel without NO_HZ_FULL, and intel_pstate on a host that is not Intel.
	r, _ = newRoot(t, "topo-1node-8cpu", "boot-debian-grub")
	fixture.Overwrite(t, r.Proc("cpuinfo"), []byte("processor\t: 0\nvendor_id\t: AuthenticAMD\n"))
	got := problemsOf(planSpec(t, r, parse(t, "    isolated: 2-7\n    power: {intelPstate: passive}\n")), plan.Warning)
	if !strings.Contains(got, "built without NO_HZ_FULL") || !strings.Contains(got, "intel_pstate=passive is read only by GenuineIntel CPUs' drivers; this host's CPU is AuthenticAMD") {
		t.Errorf("warnings: %q", got)
	}
}

// cpuEngine runs the engine with the cpu module only.
func cpuEngine(r *host.Root) *engine.Engine {
	return &engine.Engine{Env: fixture.Env(r), Modules: []module.Module{isolcpu.Module{}}, Version: "test",
		Now: func() time.Time { return time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC) }}
}

func statuses(pr *engine.PlanResult) map[string]plan.Status {
	out := map[string]plan.Status{}
	for _, it := range pr.Items {
		out[it.Object+"/"+it.Attribute] = it.Status
	}
	return out
}

// TestRoundTrip applies the 2-node profile through the engine on every
// boot configuration: the command line is pending a reboot, the governor
// is set, and revert gives back the tree byte for byte.
func TestRoundTrip(t *testing.T) {
	for _, boot := range boots {
		t.Run(boot, func(t *testing.T) {
			r, fr := newRoot(t, "topo-2node-32cpu-smt", boot)
			before := fixture.Digest(t, r.Prefix)
			e := cpuEngine(r)
			p := cpuProfile(t, "dpdk-2node")
			res, err := e.Apply(context.Background(), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Applied) != 1+20 {
				t.Errorf("applied %d changes", len(res.Applied))
			}
			if len(fr.calls) == 0 {
				t.Error("boot menu not regenerated")
			}
			if got, _ := r.ReadString(r.Sys("devices/system/cpu/cpu12/cpufreq/scaling_governor")); got != "performance" {
				t.Errorf("cpu12 governor %q", got)
			}
			if got, _ := r.ReadString(r.Sys("devices/system/cpu/cpu0/cpufreq/scaling_governor")); got != "powersave" {
				t.Errorf("housekeeping cpu0 governor changed to %q", got)
			}
			pr, err := e.Check(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			st := statuses(pr)
			if len(st) != 21 || st["kernel-cmdline/"+pr.Items[0].Attribute] != plan.PendingReboot || st["cpu12/scaling_governor"] != plan.OK {
				t.Errorf("after apply: %v", st)
			}
			if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
				t.Fatal(err)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
				t.Errorf("tree differs after revert: %v", diffs)
			}
			if r.Exists(r.State()) {
				t.Error("state directory left behind")
			}
			pr, _ = e.Check(context.Background(), p)
			if pr.Count(plan.Drift) != 21 {
				t.Errorf("after revert: %v", statuses(pr))
			}
		})
	}
}

// TestFaultInjection fails every write of an apply in turn: the engine's
// rollback must leave the tree as it was. The tree is reused from one
// failure to the next, so a rollback that leaves anything behind also
// shows up in every later round.
func TestFaultInjection(t *testing.T) {
	for _, boot := range boots {
		r, _ := newRoot(t, "topo-2node-32cpu-smt", boot)
		before := fixture.Digest(t, r.Prefix)
		fw := &fixture.FailingWriter{W: r.W}
		r.W = fw
		e := cpuEngine(r)
		p := cpuProfile(t, "dpdk-2node")
		if _, err := e.Apply(context.Background(), p, nil); err != nil {
			t.Fatal(err)
		}
		total := fw.Calls
		if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= total; n++ {
			fw.Calls, fw.FailAt, fw.Err, fw.Failed = 0, n, syscall.EBUSY, ""
			_, err := e.Apply(context.Background(), p, nil)
			if !errors.Is(err, syscall.EBUSY) {
				t.Fatalf("%s write %d (%s): %v", boot, n, fw.Failed, err)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
				t.Fatalf("%s write %d (%s): %v", boot, n, fw.Failed, diffs)
			}
			if r.Exists(r.State()) {
				t.Fatalf("%s write %d (%s): state directory left behind", boot, n, fw.Failed)
			}
		}
	}
}

func TestGovernorUnsupported(t *testing.T) {
	r, _ := newRoot(t, "topo-1node-8cpu", "")
	res := planSpec(t, r, parse(t, "    power: {governor: performance}\n"))
	if len(res.Items) != 1 || res.Items[0].Status != plan.Unsupported || res.Items[0].Object != "cpu0-7" {
		t.Errorf("items %+v", res.Items)
	}
	if !strings.Contains(problemsOf(res, plan.Warning), "CPUs 0-7 have no cpufreq") {
		t.Errorf("problems %v", res.Problems)
	}
}

func TestGovernorReadBack(t *testing.T) {
	r, _ := newRoot(t, "topo-2node-32cpu-smt", "")
	res := planSpec(t, r, parse(t, "    power: {governor: performance}\n"))
	c := res.Items[3].Change
	// A driver that refuses the value leaves the old one: read-back fails.
	r.W = refusingWriter{}
	err := isolcpu.Module{}.Apply(context.Background(), fixture.Env(r), c)
	if !errors.Is(err, module.ErrVerify) {
		t.Errorf("Apply = %v, want ErrVerify", err)
	}
}

// refusingWriter behaves like a sysfs attribute that accepts the write and
// keeps its value.
type refusingWriter struct{ host.OSWriter }

func (refusingWriter) WriteKernel(string, string) error { return nil }

// TestPrivilegedGovernor sets and restores cpu0's governor on the real
// kernel.
func TestPrivilegedGovernor(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/sys/devices/system/cpu/cpu0/cpufreq"); err != nil {
		t.Skip("this machine exposes no cpufreq (/sys/devices/system/cpu/cpu0/cpufreq missing): nothing to set")
	}
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	avail, _ := r.ReadString("/sys/devices/system/cpu/cpu0/cpufreq/scaling_available_governors")
	cur, _ := r.ReadString("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
	var other string
	for _, g := range strings.Fields(avail) {
		if g != cur {
			other = g
			break
		}
	}
	if other == "" {
		t.Skipf("cpu0 offers only governor %q", cur)
	}
	res := planSpec(t, r, parse(t, "    isolated: \"\"\n    power: {governor: "+other+"}\n"))
	var c *plan.Change
	for _, it := range res.Items {
		if it.Object == "cpu0" {
			c = &it.Change
		}
	}
	if c == nil {
		t.Fatalf("no item for cpu0: %+v", res.Items)
	}
	if err := (isolcpu.Module{}).Apply(context.Background(), fixture.Env(r), *c); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := (isolcpu.Module{}).Revert(context.Background(), fixture.Env(r), *c); err != nil {
			t.Error(err)
		}
		if got, _ := r.ReadString("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"); got != cur {
			t.Errorf("governor not restored: %q, want %q", got, cur)
		}
	}()
	if got, _ := r.ReadString("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"); got != other {
		t.Errorf("governor %q, want %q", got, other)
	}
}
