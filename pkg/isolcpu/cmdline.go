package isolcpu

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/bootloader"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/profile"
)

// flagOrder is the order isolcpus= flags are written in, whatever order
// the profile lists them in, so that the same profile always produces the
// same command line.
var flagOrder = []string{"nohz", "domain", "managed_irq"}

// DefaultFlags are the isolcpus= flags used when the profile names none:
// keep the CPUs out of scheduler domains and out of managed interrupts.
var DefaultFlags = []string{"managed_irq", "domain"}

// hugepageNames belong to spec.hugepages; spec.cpu.kernelArgs may not set
// them.
var hugepageNames = []string{"default_hugepagesz", "hugepagesz", "hugepages"}

// Isolation is the resolved CPU partition of a profile.
type Isolation struct {
	Isolated     cpuset.Set
	Housekeeping cpuset.Set
	Flags        []string
	NohzFull     bool
	RcuNocbs     bool
	IRQAffinity  bool
}

// Resolve applies the defaults of spec.cpu: housekeeping is every online
// CPU that is not isolated; nohz_full, rcu_nocbs and irqaffinity are on
// when CPUs are isolated.
func Resolve(c *profile.CPU, online cpuset.Set) Isolation {
	iso := Isolation{Isolated: c.Isolated, Housekeeping: c.Housekeeping}
	if iso.Housekeeping.IsEmpty() {
		iso.Housekeeping = online.Difference(c.Isolated)
	}
	on := !c.Isolated.IsEmpty()
	iso.NohzFull = on && (c.NohzFull == nil || *c.NohzFull)
	iso.RcuNocbs = on && (c.RcuNocbs == nil || *c.RcuNocbs)
	iso.IRQAffinity = on && (c.IRQAffinity == nil || *c.IRQAffinity)
	flags := c.IsolcpusFlags
	if flags == nil {
		flags = DefaultFlags
		if c.Preset == PresetNTO {
			flags = ntoDefaultFlags
		}
	}
	for _, f := range flagOrder {
		if slices.Contains(flags, f) {
			iso.Flags = append(iso.Flags, f)
		}
	}
	return iso
}

// KernelArgs returns the parameter names spec.cpu owns and the arguments
// it wants, in canonical order: isolation first, then power, then
// kernelArgs in profile order. A name is owned when the profile addresses
// it, even to switch it off (nohzFull: false removes nohz_full=).
func KernelArgs(c *profile.CPU, iso Isolation) (names, args []string) {
	add := func(name string, want bool, arg string) {
		names = append(names, name)
		if want {
			args = append(args, arg)
		}
	}
	if !iso.Isolated.IsEmpty() && c.Preset == PresetNTO {
		n, a := ntoArgs(iso, c.IRQAffinity != nil)
		names, args = append(names, n...), append(args, a...)
	} else if !iso.Isolated.IsEmpty() {
		list := iso.Isolated.String()
		add("isolcpus", true, "isolcpus="+strings.Join(append(slices.Clone(iso.Flags), list), ","))
		add("nohz_full", iso.NohzFull, "nohz_full="+list)
		add("rcu_nocbs", iso.RcuNocbs, "rcu_nocbs="+list)
		add("irqaffinity", iso.IRQAffinity, "irqaffinity="+iso.Housekeeping.String())
	}
	if p := c.Power; p != nil {
		if p.MaxCState != nil {
			add("intel_idle.max_cstate", true, fmt.Sprintf("intel_idle.max_cstate=%d", *p.MaxCState))
			add("processor.max_cstate", true, fmt.Sprintf("processor.max_cstate=%d", *p.MaxCState))
		}
		if p.IdlePoll {
			add("idle", true, "idle=poll")
		}
		if p.IntelPstate != "" {
			add("intel_pstate", true, "intel_pstate="+p.IntelPstate)
		}
	}
	for _, a := range c.KernelArgs {
		add(bootloader.ParseArg(a).Name, true, a)
	}
	return names, args
}

// checkKernelArgs validates spec.cpu.kernelArgs against the arguments the
// other keys generate and against spec.hugepages' names.
func checkKernelArgs(c *profile.CPU, generated []string) []string {
	var errs []string
	seen := map[string]string{}
	for _, a := range c.KernelArgs {
		n := bootloader.ParseArg(a).Name
		switch {
		case a == "--" || strings.ContainsAny(a, "\"'$`\\"):
			errs = append(errs, fmt.Sprintf("kernelArgs %q: quotes, $, ` and \\ cannot be written into boot configuration safely", a))
		case slices.Contains(hugepageNames, n):
			errs = append(errs, fmt.Sprintf("kernelArgs %q: %s= belongs to spec.hugepages (pages[].boot, defaultSize)", a, n))
		case slices.Contains(generated, n):
			errs = append(errs, fmt.Sprintf("kernelArgs %q: %s= is generated from the other keys of spec.cpu; set it there", a, n))
		case seen[n] != "":
			errs = append(errs, fmt.Sprintf("kernelArgs %q: %s= is already given as %q", a, n, seen[n]))
		}
		seen[n] = a
	}
	return errs
}

// Equal compares two lists of spec.cpu arguments by meaning: order does
// not matter, parameter names compare with '-' as '_', CPU lists compare
// as sets and isolcpus flags in any order. A line that differs only in
// such spelling needs no rewrite and no reboot.
func Equal(a, b []string) bool {
	x, y := canonical(a), canonical(b)
	return slices.Equal(x, y)
}

func canonical(args []string) []string {
	out := make([]string, len(args))
	for i, raw := range args {
		a := bootloader.ParseArg(raw)
		v := a.Value
		switch a.Name {
		case "nohz_full", "rcu_nocbs", "irqaffinity", "systemd.cpu_affinity":
			if s, err := cpuset.Parse(v); err == nil {
				v = s.String()
			}
		case "tuned.non_isolcpus":
			if s, err := cpuset.ParseMask(v); err == nil {
				v = s.String()
			}
		case "isolcpus":
			v = canonicalIsolcpus(v)
		}
		out[i] = a.Name
		if a.HasValue {
			out[i] += "=" + v
		}
	}
	sort.Strings(out)
	return out
}

// canonicalIsolcpus rewrites "[flag,...,]cpulist" with flags in canonical
// order and the list in canonical form.
func canonicalIsolcpus(v string) string {
	parts := strings.Split(v, ",")
	var flags []string
	i := 0
	for i < len(parts) && parts[i] != "" && !strings.ContainsAny(parts[i][:1], "0123456789") {
		flags = append(flags, parts[i])
		i++
	}
	s, err := cpuset.Parse(strings.Join(parts[i:], ","))
	if err != nil {
		return v
	}
	var ordered []string
	for _, f := range flagOrder {
		if slices.Contains(flags, f) {
			ordered = append(ordered, f)
		}
	}
	for _, f := range flags {
		if !slices.Contains(flagOrder, f) {
			ordered = append(ordered, f)
		}
	}
	return strings.Join(append(ordered, s.String()), ",")
}
