package isolcpu

import (
	"fmt"
	"strings"

	"github.com/nettune/nettune/pkg/bootloader"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Vendors as /proc/cpuinfo's vendor_id names them.
const (
	vendorIntel = "GenuineIntel"
	vendorAMD   = "AuthenticAMD"
)

// vendorOnly lists kernel parameters that only one CPU vendor's drivers
// read, with what does the job on the other vendor. Names are compared
// with '-' as '_'.
var vendorOnly = []struct {
	name, vendor, instead string
}{
	{"intel_pstate", vendorIntel, "power.amdPstate (amd_pstate= in kernelArgs for the boot-time mode)"},
	{"intel_idle.max_cstate", vendorIntel, "processor.max_cstate= (power.maxCState sets both)"},
	{"intel_iommu", vendorIntel, "amd_iommu= (the AMD IOMMU is on by default; iommu=pt works on both)"},
	{"intel_idle", vendorIntel, "processor.max_cstate="},
	{"amd_pstate", vendorAMD, "intel_pstate= (power.intelPstate)"},
	{"amd_iommu", vendorAMD, "intel_iommu= (intel_iommu=on)"},
	{"amd_prefcore", vendorAMD, ""},
	{"amd_pstate_epp", vendorAMD, ""},
}

// vendorWarnings warns about arguments of spec.cpu that the running CPU's
// drivers never read: intel_pstate=, intel_idle.max_cstate= or
// intel_iommu= on an AMD host, amd_pstate= or amd_iommu= on an Intel one,
// and power.amdPstate on Intel. The arguments are harmless (the kernel
// ignores unknown parameters of drivers that do not load) but do not do
// what the profile expects. A host whose vendor is unknown (arm64, a
// fixture without /proc/cpuinfo) gets no warning.
func vendorWarnings(mod string, c *profile.CPU, info numa.CPUInfo) []plan.Problem {
	v := info.Vendor
	if v != vendorIntel && v != vendorAMD {
		return nil
	}
	cpu := v
	if info.Model != "" {
		cpu += " (" + info.Model + ")"
	}
	var out []plan.Problem
	check := func(obj, arg string) {
		name := bootloader.ParseArg(arg).Name
		for _, o := range vendorOnly {
			if name != o.name || o.vendor == v {
				continue
			}
			remedy := "remove it from the profile for this host"
			if o.instead != "" {
				remedy = "on " + v + " use " + o.instead
			}
			out = append(out, plan.Problem{Severity: plan.Warning, Module: mod, Object: obj,
				Message: fmt.Sprintf("%s is read only by %s CPUs' drivers; this host's CPU is %s: the argument has no effect", arg, o.vendor, cpu),
				Remedy:  remedy})
		}
	}
	if p := c.Power; p != nil {
		if p.IntelPstate != "" {
			check("power.intelPstate", "intel_pstate="+p.IntelPstate)
		}
		if p.AmdPstate != "" && v != vendorAMD {
			out = append(out, plan.Problem{Severity: plan.Warning, Module: mod, Object: "power.amdPstate",
				Message: fmt.Sprintf("amdPstate applies to AMD CPUs; this host's CPU is %s", cpu),
				Remedy:  "use power.intelPstate on Intel CPUs"})
		}
	}
	for _, a := range c.KernelArgs {
		check("kernelArgs", strings.ReplaceAll(a, "-", "_"))
	}
	return out
}
