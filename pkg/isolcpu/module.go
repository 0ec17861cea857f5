// Package isolcpus is the nettune module behind spec.cpu: it takes CPUs
// away from the scheduler and the kernel's housekeeping through boot
// arguments (isolcpus=, nohz_full=, rcu_nocbs=, irqaffinity=, C-state and
// P-state limits, further arguments the profile owns) written into the
// host's boot configuration by pkg/bootloader, and sets the cpufreq
// governor at runtime.
//
// The boot arguments are checked against two things: the boot
// configuration (drift when it lacks them) and the running kernel
// (/proc/cmdline, /sys/devices/system/cpu/isolated and nohz_full), which
// only gets them at the next boot: until then check reports
// pending-reboot.
package isolcpu

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nettune/nettune/pkg/bootloader"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Module implements module.Module for spec.cpu.
type Module struct{}

// Name implements module.Module.
func (Module) Name() string { return "cpu" }

// Configured implements module.Module.
func (Module) Configured(s *profile.Spec) bool { return s.CPU != nil }

// Plan implements module.Module.
func (m Module) Plan(ctx context.Context, env *module.Env, spec *profile.Spec) (*module.Result, error) {
	r := env.Root
	c := spec.CPU
	res := &module.Result{}
	topo, err := numa.ReadOnce(ctx, r)
	if err != nil {
		return nil, err
	}
	iso := Resolve(c, topo.Online)
	res.Problems = append(res.Problems, validate(m.Name(), c, iso, topo)...)
	res.Problems = append(res.Problems, vendorWarnings(m.Name(), c, topo.CPUInfo)...)

	names, args := KernelArgs(c, iso)
	for _, e := range checkKernelArgs(c, names[:len(names)-len(c.KernelArgs)]) {
		res.Problems = append(res.Problems, plan.Problem{Severity: plan.Error, Module: m.Name(), Object: "kernelArgs", Message: e})
	}
	if hasErrors(res.Problems) {
		return res, nil
	}
	if len(names) > 0 {
		b, err := bootloader.Plan(r, bootloader.Request{
			Module: m.Name(), Names: names, Args: args, Equal: Equal, Reason: reason(c, iso),
		})
		if err != nil {
			return nil, err
		}
		res.Problems = append(res.Problems, b.Problems...)
		if b.Item != nil {
			res.Items = append(res.Items, *b.Item)
			if b.Item.Status == plan.OK {
				res.Items = append(res.Items, effective(m.Name(), iso, topo)...)
			}
		}
	}
	modeChange := false
	if c.Power != nil && c.Power.AmdPstate != "" {
		it, problems, err := amdPstateItem(r, c.Power.AmdPstate)
		if err != nil {
			return nil, err
		}
		res.Items = append(res.Items, it)
		res.Problems = append(res.Problems, problems...)
		// The governors the driver offers change with its mode: check
		// them after the switch, at apply.
		modeChange = it.Status == plan.Drift
	}
	if c.Power != nil && c.Power.Governor != "" {
		items, problems := governorItems(r, topo, c.Power.Governor, iso.Isolated, modeChange)
		res.Items = append(res.Items, items...)
		res.Problems = append(res.Problems, problems...)
	}
	return res, nil
}

func hasErrors(ps []plan.Problem) bool {
	for _, p := range ps {
		if p.Severity == plan.Error {
			return true
		}
	}
	return false
}

func reason(c *profile.CPU, iso Isolation) string {
	if iso.Isolated.IsEmpty() {
		return "spec.cpu: boot arguments"
	}
	return fmt.Sprintf("spec.cpu: isolate %s, housekeeping %s", iso.Isolated, iso.Housekeeping)
}

// Apply implements module.Module.
func (m Module) Apply(ctx context.Context, env *module.Env, c plan.Change) error {
	switch {
	case c.Object == bootloader.Object:
		return bootloader.Apply(ctx, env, c)
	case c.Attribute == attrGovernor, c.Attribute == attrAmdPstate:
		return writeGovernor(env.Root, c.Path, c.After)
	}
	return fmt.Errorf("unknown cpu change %s %s in journal", c.Object, c.Attribute)
}

// Revert implements module.Module.
func (m Module) Revert(ctx context.Context, env *module.Env, c plan.Change) error {
	switch {
	case c.Object == bootloader.Object:
		return bootloader.Revert(ctx, env, c)
	case c.Attribute == attrGovernor, c.Attribute == attrAmdPstate:
		return writeGovernor(env.Root, c.Path, c.Before)
	}
	return fmt.Errorf("unknown cpu change %s %s in journal", c.Object, c.Attribute)
}

// validate checks the partition against the host: the CPUs exist and are
// online, every node with isolated CPUs keeps a housekeeping CPU, and warns
// about SMT siblings split across the partition and kernels that cannot
// stop the tick.
func validate(mod string, c *profile.CPU, iso Isolation, topo *numa.Topology) []plan.Problem {
	var out []plan.Problem
	fail := func(obj, remedy, format string, args ...any) {
		out = append(out, plan.Problem{Severity: plan.Error, Module: mod, Object: obj, Message: fmt.Sprintf(format, args...), Remedy: remedy})
	}
	warn := func(obj, remedy, format string, args ...any) {
		out = append(out, plan.Problem{Severity: plan.Warning, Module: mod, Object: obj, Message: fmt.Sprintf(format, args...), Remedy: remedy})
	}
	for _, set := range []struct {
		key  string
		cpus cpuset.Set
	}{{"isolated", c.Isolated}, {"housekeeping", c.Housekeeping}} {
		if missing := set.cpus.Difference(topo.Possible); !missing.IsEmpty() {
			fail(set.key, "use CPUs of this host (nettune topology)", "%s not exist on this host (CPUs %s)", cpuWords(missing, "does", "do"), topo.Possible)
			continue
		}
		if off := set.cpus.Difference(topo.Online); !off.IsEmpty() {
			fail(set.key, fmt.Sprintf("bring them online (echo 1 > /sys/devices/system/cpu/cpu%d/online) or leave them out", off.List()[0]),
				"%s offline", cpuWords(off, "is", "are"))
		}
	}
	if both := c.Isolated.Intersect(c.Housekeeping); !both.IsEmpty() {
		fail("housekeeping", "", "%s both isolated and housekeeping", cpuWords(both, "is", "are"))
	}
	if c.Isolated.IsEmpty() {
		return out
	}
	for _, node := range topo.NodesOf(c.Isolated) {
		if iso.Housekeeping.Intersect(topo.CPUsOfNode(node)).IsEmpty() {
			fail("isolated", "keep at least one CPU of every node for the kernel (timers, RCU, IRQs, kworkers)",
				"node %d would have no housekeeping CPU: its CPUs %s are all isolated or not housekeeping", node, topo.CPUsOfNode(node))
		}
	}
	var split []string
	for _, core := range topo.Cores() {
		in, out := core.CPUs.Intersect(c.Isolated), core.CPUs.Difference(c.Isolated)
		if !in.IsEmpty() && !out.IsEmpty() {
			split = append(split, fmt.Sprintf("%s (sibling %s)", in, out))
		}
	}
	if len(split) > 0 {
		warn("isolated", "isolate whole cores (nettune topology shows the siblings) or disable SMT",
			"isolated CPUs share a physical core with CPUs that are not isolated: %s; the sibling's load disturbs them", strings.Join(split, ", "))
	}
	if iso.NohzFull && !topo.NohzFullSupported {
		warn("nohzFull", "use a kernel built with CONFIG_NO_HZ_FULL (most distribution kernels are), or set nohzFull: false",
			"the running kernel has no /sys/devices/system/cpu/nohz_full: it was built without NO_HZ_FULL and would ignore nohz_full=")
	}
	return out
}

// effective compares what the running kernel did with arguments it was
// booted with: a kernel that ignores nohz_full= or isolates other CPUs
// than asked.
//
// Both are check-only drift: the host is not what the profile asks, and no
// apply can change what the running kernel did with its arguments.
func effective(mod string, iso Isolation, topo *numa.Topology) []plan.Item {
	var out []plan.Item
	if iso.Isolated.IsEmpty() {
		return out
	}
	wantDomain := len(iso.Flags) == 0 || slices.Contains(iso.Flags, "domain")
	if wantDomain && !topo.Isolated.Equal(iso.Isolated) {
		out = append(out, plan.Ignored(mod, "isolated", "running", topo.Isolated.String(), iso.Isolated.String(),
			fmt.Sprintf("the running kernel was booted with isolcpus= for %s but isolates %q (/sys/devices/system/cpu/isolated): look for isolcpus errors in dmesg", iso.Isolated, topo.Isolated.String())))
	}
	if iso.NohzFull && topo.NohzFullSupported && !topo.NohzFull.Equal(iso.Isolated) {
		out = append(out, plan.Ignored(mod, "nohzFull", "running", topo.NohzFull.String(), iso.Isolated.String(),
			fmt.Sprintf("the running kernel was booted with nohz_full=%s but reports %q (/sys/devices/system/cpu/nohz_full): look for nohz_full errors in dmesg", iso.Isolated, topo.NohzFull.String())))
	}
	return out
}

// cpuWords names a CPU set with a verb that agrees: "CPU 3 is", "CPUs 2-7 are".
func cpuWords(s cpuset.Set, one, many string) string {
	if s.Len() == 1 {
		return fmt.Sprintf("CPU %s %s", s, one)
	}
	return fmt.Sprintf("CPUs %s %s", s, many)
}
