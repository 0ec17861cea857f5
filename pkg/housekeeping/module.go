// Package housekeeping is the nettune module behind spec.cpu.runtime: the
// isolation that boot arguments cannot do and that TuneD's cpu-partitioning
// profile and the OpenShift Node Tuning Operator do at runtime. It moves
// kernel housekeeping onto spec.cpu's housekeeping CPUs while the host
// runs:
//
//   - unbound workqueues: /sys/devices/virtual/workqueue/cpumask;
//   - the writeback workqueue: /sys/bus/workqueue/devices/writeback/cpumask;
//   - kernel.timer_migration (timers stay where they were armed);
//   - kernel.watchdog_cpumask (lockup detectors on housekeeping CPUs only)
//     and kernel.nmi_watchdog.
//
// Every value is compared by meaning, not by text: the kernel prints CPU
// masks in its own width ("3" for two CPUs, "ff,ffffffff" for forty) and
// CPU lists in ranges, whatever was written. Each write is read back; a
// value the kernel keeps different (a mask ANDed with the possible CPUs)
// is an error, and the engine rolls back.
//
// The settings live until the next boot; nettune-apply.service applies
// them again at boot.
package housekeeping

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/isolcpu"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/nettune/nettune/pkg/sysctl"
)

// Module implements module.Module for spec.cpu.runtime.
type Module struct {
	// Sched sets kthread priorities; nil: the system calls on the live
	// host (tests give a model of the kernel's).
	Sched Scheduler
}

// Name implements module.Module.
func (Module) Name() string { return "housekeeping" }

// Configured implements module.Module: the module belongs to spec.cpu (so
// that --only cpu includes it) and plans nothing without spec.cpu.runtime.
func (Module) Configured(s *profile.Spec) bool { return s.CPU != nil }

// Section implements engine's sectioned: problems point into spec.cpu.
func (Module) Section() string { return "cpu" }

// The attribute says how a value compares.
const (
	attrMask  = "cpumask" // kernel hex mask, 32-bit words separated by commas
	attrList  = "cpulist" // kernel CPU list (ranges)
	attrValue = "value"   // an integer sysctl
)

// Paths of the workqueue masks (the kernel's, under the root).
const (
	UnboundMask   = "/sys/devices/virtual/workqueue/cpumask"
	WritebackMask = "/sys/bus/workqueue/devices/writeback/cpumask"
)

// setting is one desired value.
type setting struct {
	object, attr, path, want, key, why string
}

// Plan implements module.Module.
func (m Module) Plan(ctx context.Context, env *module.Env, spec *profile.Spec) (*module.Result, error) {
	r := env.Root
	c := spec.CPU
	rt := c.Runtime
	res := &module.Result{}
	if rt == nil {
		return res, nil
	}
	topo, err := numa.ReadOnce(ctx, r)
	if err != nil {
		return nil, err
	}
	iso := isolcpu.Resolve(c, topo.Online)
	hk := iso.Housekeeping
	problem := func(sev plan.Severity, obj, remedy, format string, args ...any) {
		res.Problems = append(res.Problems, plan.Problem{Severity: sev, Module: m.Name(), Object: obj, Message: fmt.Sprintf(format, args...), Remedy: remedy})
	}
	nbits := topo.Possible.Max() + 1
	var want []setting
	if rt.Workqueues || rt.Watchdog == "housekeeping" {
		// The kernel refuses (EINVAL) a workqueue mask with no possible
		// CPU, and a set without an online CPU would strand the work.
		if hk.Intersect(topo.Online).IsEmpty() {
			problem(plan.Error, "runtime", "keep at least one online CPU for housekeeping (spec.cpu.housekeeping)",
				"the housekeeping CPUs %q include no online CPU (online: %s): the kernel refuses such a mask with EINVAL", hk.String(), topo.Online)
			return res, nil
		}
	}
	if rt.Workqueues {
		mask := KernelMask(hk, nbits)
		want = append(want,
			setting{"workqueue", attrMask, UnboundMask, mask, "runtime.workqueues", "unbound workqueues (kworker/u*) run on the housekeeping CPUs " + hk.String()},
			setting{"workqueue/writeback", attrMask, WritebackMask, mask, "runtime.workqueues", "dirty-page writeback runs on the housekeeping CPUs " + hk.String()})
	}
	if rt.TimerMigration != nil {
		v := "0"
		why := "timers stay on the CPU that armed them instead of moving to a busy CPU"
		if *rt.TimerMigration {
			v, why = "1", "timers may move to busy CPUs"
		}
		want = append(want, setting{"kernel.timer_migration", attrValue, "", v, "runtime.timerMigration", why})
	}
	switch rt.Watchdog {
	case "housekeeping", "off":
		want = append(want, setting{"kernel.watchdog_cpumask", attrList, "", hk.String(), "runtime.watchdog",
			"the soft and hard lockup detectors run on the housekeeping CPUs only"})
		if rt.Watchdog == "off" {
			want = append(want, setting{"kernel.nmi_watchdog", attrValue, "", "0", "runtime.watchdog",
				"no NMI watchdog interrupts (perf counter overflow) on any CPU"})
		}
	}
	for _, s := range want {
		if s.path == "" {
			if _, dup := spec.Sysctl[s.object]; dup {
				problem(plan.Error, "runtime", "remove "+s.object+" from spec.sysctl, or "+s.key+" from spec.cpu.runtime",
					"%s is set by both spec.sysctl and spec.cpu.%s", s.object, s.key)
				continue
			}
			n, err := sysctl.Resolve(r, s.object)
			if err != nil {
				problem(plan.Warning, "runtime", "", "%v: this kernel cannot do it", err)
				res.Items = append(res.Items, unsupported(m.Name(), s, err.Error()))
				continue
			}
			s.path = r.HostPath(n.Path)
		}
		raw, err := r.ReadString(r.Path(s.path))
		if errors.Is(err, fs.ErrNotExist) {
			problem(plan.Warning, "runtime", "", "%s does not exist: this kernel cannot do it", s.path)
			res.Items = append(res.Items, unsupported(m.Name(), s, s.path+" does not exist on this kernel"))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", s.path, err)
		}
		same, err := Same(s.attr, raw, s.want)
		if err != nil {
			problem(plan.Error, "runtime", "", "%s: %v", s.path, err)
			continue
		}
		it := plan.Item{Change: plan.Change{
			Module: m.Name(), Object: s.object, Attribute: s.attr, Action: plan.Set,
			Before: raw, After: s.want, When: plan.Live, Path: s.path,
			Reason:  "spec.cpu." + s.key + ": " + s.why,
			Command: "echo " + host.ShellQuote(s.want) + " > " + host.ShellQuote(r.Path(s.path)),
		}, Status: plan.OK}
		if !same {
			it.Status = plan.Drift
		}
		res.Items = append(res.Items, it)
	}
	if rt.KthreadPriority != nil {
		items, problems, err := m.kthreadItems(r, iso.Isolated, *rt.KthreadPriority)
		if err != nil {
			return nil, err
		}
		res.Items = append(res.Items, items...)
		res.Problems = append(res.Problems, problems...)
	}
	return res, nil
}

func unsupported(mod string, s setting, detail string) plan.Item {
	return plan.Item{Change: plan.Change{
		Module: mod, Object: s.object, Attribute: s.attr, Action: plan.Set, After: s.want, When: plan.Live,
		Reason: "spec.cpu." + s.key,
	}, Status: plan.Unsupported, Detail: detail}
}

// Apply implements module.Module.
func (m Module) Apply(_ context.Context, env *module.Env, c plan.Change) error {
	if c.Attribute == attrSched {
		return m.setKthread(env.Root, c.Object, c.After)
	}
	return write(env.Root, c.Attribute, c.Path, c.After)
}

// Revert implements module.Module: the value read before apply goes back,
// compared by meaning (a mask reads back in the kernel's width).
func (m Module) Revert(_ context.Context, env *module.Env, c plan.Change) error {
	if c.Attribute == attrSched {
		return m.setKthread(env.Root, c.Object, c.Before)
	}
	return write(env.Root, c.Attribute, c.Path, c.Before)
}

// Current implements module.Observer.
func (m Module) Current(_ context.Context, env *module.Env, c plan.Change) (string, bool, error) {
	if c.Attribute == attrSched {
		return m.currentKthread(env.Root, c.Object)
	}
	v, err := env.Root.ReadString(env.Root.Path(c.Path))
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", c.Path, err)
	}
	return v, false, nil
}

// write sets one value and reads it back.
func write(r *host.Root, attr, hostPath, value string) error {
	p := r.Path(hostPath)
	if err := r.W.WriteKernel(p, value); err != nil {
		return err
	}
	got, err := r.ReadString(p)
	if err != nil {
		return fmt.Errorf("read back %s: %w", hostPath, err)
	}
	same, err := Same(attr, got, value)
	if err != nil {
		return fmt.Errorf("read back %s: %w", hostPath, err)
	}
	if !same {
		return fmt.Errorf("%s: wrote %q, kernel reads back %q: %w", hostPath, value, got, module.ErrVerify)
	}
	return nil
}

// Same compares a value the kernel prints with a wanted one by meaning:
// masks and lists as CPU sets, integers as numbers.
func Same(attr, got, want string) (bool, error) {
	switch attr {
	case attrMask:
		g, err := cpuset.ParseMask(got)
		if err != nil {
			return false, err
		}
		w, err := cpuset.ParseMask(want)
		if err != nil {
			return false, err
		}
		return g.Equal(w), nil
	case attrList:
		g, err := cpuset.Parse(got)
		if err != nil {
			return false, err
		}
		w, err := cpuset.Parse(want)
		if err != nil {
			return false, err
		}
		return g.Equal(w), nil
	case attrValue:
		g, err := strconv.ParseInt(got, 10, 64)
		if err != nil {
			return false, fmt.Errorf("%q is not an integer", got)
		}
		w, err := strconv.ParseInt(want, 10, 64)
		if err != nil {
			return false, fmt.Errorf("%q is not an integer", want)
		}
		return g == w, nil
	}
	return false, fmt.Errorf("unknown housekeeping attribute %q in journal", attr)
}

// KernelMask formats a CPU set the way the kernel prints a cpumask
// ("%*pb") on a machine with nbits possible CPUs: 32-bit words separated
// by commas, most significant first, every word but the first zero-padded
// to 8 digits, the first one only as wide as its share of nbits ("3" for
// two CPUs, "ff,ffffffff" for forty).
func KernelMask(s cpuset.Set, nbits int) string {
	full := s.Mask(nbits)
	if m := s.Max() + 1; m > nbits {
		nbits = m
	}
	nbits = max(nbits, 1)
	first := nbits % 32
	if first == 0 {
		first = 32
	}
	width := (first + 3) / 4
	return full[8-width:]
}

// PlansEveryObject implements module.Complete: for a profile, Plan names
// every object the module manages, so a setting an earlier apply made and
// the profile no longer asks for (runtime.watchdog removed, or the whole
// runtime block) is an orphan the engine gives back.
func (Module) PlansEveryObject() bool { return true }
