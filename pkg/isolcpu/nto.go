package isolcpu

import (
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
)

// PresetNTO is spec.cpu.preset's value for the OpenShift Node Tuning
// Operator's rendering.
const PresetNTO = "nto"

// NTOSource is where the rendering comes from: the NTO's TuneD profile
// template for a PerformanceProfile, at the commit read.
const NTOSource = "openshift/cluster-node-tuning-operator assets/performanceprofile/tuned/openshift-node-performance (commit 0056bf00a90f94f4365f872b1bf0210041d51daa)"

// ntoDefaultFlags are the isolcpus= flags the NTO writes without
// StaticIsolation ("cmdline_isolation=+isolcpus=managed_irq,..."); with
// isolcpusFlags [domain, managed_irq] the profile gets the
// StaticIsolation form.
var ntoDefaultFlags = []string{"managed_irq"}

// ntoArgs renders the isolation arguments the NTO renders for a
// PerformanceProfile with this reserved (housekeeping) / isolated split,
// the real-time workload hint on (its default) and no high power
// consumption hint, in the template's order:
//
//	cmdline_cpu_part:   nohz=on rcu_nocbs=I tuned.non_isolcpus=MASK(R)
//	                    systemd.cpu_affinity=EXPANDED(R) intel_iommu=on iommu=pt
//	cmdline_isolation:  isolcpus=managed_irq,I
//	cmdline_realtime:   nohz_full=I tsc=reliable nosoftlockup nmi_watchdog=0
//	                    mce=off skew_tick=1 rcutree.kthread_prio=11
//
// The CPU-vendor includes (openshift-node-performance-intel-x86 and
// -amd-x86) add intel_pstate=/amd_pstate= and repeat iommu=pt, tsc=reliable,
// nmi_watchdog=0 and mce=off; the P-state mode is power.intelPstate /
// power.amdPstate here. nohzFull: false and rcuNocbs: false drop their
// argument as without the preset; irqaffinity= is not part of the NTO's
// line and is added only when irqAffinity is true.
func ntoArgs(iso Isolation, irqExplicit bool) (names, args []string) {
	add := func(name string, want bool, arg string) {
		names = append(names, name)
		if want {
			args = append(args, arg)
		}
	}
	list := iso.Isolated.String()
	add("nohz", true, "nohz=on")
	add("rcu_nocbs", iso.RcuNocbs, "rcu_nocbs="+list)
	add("tuned.non_isolcpus", true, "tuned.non_isolcpus="+TunedMask(iso.Housekeeping))
	add("systemd.cpu_affinity", true, "systemd.cpu_affinity="+expanded(iso.Housekeeping))
	add("intel_iommu", true, "intel_iommu=on")
	add("iommu", true, "iommu=pt")
	add("isolcpus", true, "isolcpus="+strings.Join(append(append([]string{}, iso.Flags...), list), ","))
	add("nohz_full", iso.NohzFull, "nohz_full="+list)
	for _, a := range []string{"tsc=reliable", "nosoftlockup", "nmi_watchdog=0", "mce=off", "skew_tick=1", "rcutree.kthread_prio=11"} {
		name, _, _ := strings.Cut(a, "=")
		add(name, true, a)
	}
	add("irqaffinity", irqExplicit && iso.IRQAffinity, "irqaffinity="+iso.Housekeeping.String())
	return names, args
}

// TunedMask formats a CPU set as TuneD's cpulist2hex does for
// ${not_isolated_cpumask}: 32-bit words of 8 hex digits separated by
// commas, as many as the highest CPU needs.
func TunedMask(s cpuset.Set) string { return s.Mask(0) }

// expanded writes every CPU of the set, as TuneD's cpulist_invert gives
// ${not_isolated_cores_expanded}: "0,1,2,3".
func expanded(s cpuset.Set) string {
	l := s.List()
	out := make([]string, len(l))
	for i, c := range l {
		out[i] = strconv.Itoa(c)
	}
	return strings.Join(out, ",")
}
