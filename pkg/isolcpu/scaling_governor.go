package isolcpu

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
)

const attrGovernor = "scaling_governor"

// governorItems returns one item per CPU for the cpufreq governor: the
// isolated CPUs, or every online CPU when none are isolated. CPUs without
// cpufreq (virtual machines, no driver loaded) give one unsupported item;
// a governor the driver does not offer is an error.
//
// modeChange says the plan also switches the driver's mode (amd_pstate
// active to passive), which changes what it offers: the governor is then
// not checked against what the driver offers now, and apply's read-back
// checks it after the switch.
func governorItems(r *host.Root, topo *numa.Topology, want string, isolated cpuset.Set, modeChange bool) ([]plan.Item, []plan.Problem) {
	cpus := isolated
	if cpus.IsEmpty() {
		cpus = topo.Online
	}
	var items []plan.Item
	var problems []plan.Problem
	var none []int
	refused := map[string][]int{}
	for _, cpu := range cpus.List() {
		dir := r.Sys("devices/system/cpu", fmt.Sprintf("cpu%d", cpu), "cpufreq")
		cur, err := r.ReadString(filepath.Join(dir, attrGovernor))
		if err != nil {
			none = append(none, cpu)
			continue
		}
		driver, _ := r.ReadString(filepath.Join(dir, "scaling_driver"))
		avail, _ := r.ReadString(filepath.Join(dir, "scaling_available_governors"))
		if avail != "" && !modeChange && !slices.Contains(strings.Fields(avail), want) {
			key := fmt.Sprintf("%s offers %s", driver, strings.Join(strings.Fields(avail), ", "))
			refused[key] = append(refused[key], cpu)
			continue
		}
		p := filepath.Join(dir, attrGovernor)
		it := plan.Item{Change: plan.Change{
			Module: "cpu", Object: fmt.Sprintf("cpu%d", cpu), Attribute: attrGovernor, Action: plan.Set,
			Before: cur, After: want, When: plan.Live, Path: r.HostPath(p),
			Reason:  fmt.Sprintf("spec.cpu.power.governor (cpufreq driver %s)", driver),
			Command: "echo " + host.ShellQuote(want) + " > " + host.ShellQuote(p), // p is under the root
		}, Status: plan.OK}
		if cur != want {
			it.Status = plan.Drift
		}
		if modeChange {
			// Switching the driver's mode re-creates the cpufreq
			// policies with the mode's default governor: write it after.
			it.Status = plan.Drift
			it.Reason += "; written again after the amd_pstate mode switch"
		}
		items = append(items, it)
	}
	keys := make([]string, 0, len(refused))
	for k := range refused {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		list := refused[key]
		problems = append(problems, plan.Problem{Severity: plan.Error, Module: "cpu", Object: "power.governor",
			Message: fmt.Sprintf("%s use governor %s: the driver %s", cpuWords(cpuset.Of(list...), "cannot", "cannot"), want, key),
			Remedy:  "pick an offered governor (intel_pstate in active mode offers only performance and powersave; intelPstate: passive gives the generic ones after a reboot)"})
	}
	if len(none) > 0 {
		set := cpuset.Of(none...)
		items = append(items, plan.Item{Change: plan.Change{
			Module: "cpu", Object: "cpu" + set.String(), Attribute: attrGovernor, Action: plan.Set, After: want, When: plan.Live,
			Reason: "spec.cpu.power.governor",
		}, Status: plan.Unsupported, Detail: "no cpufreq: the CPU frequency is not controlled by this kernel (virtual machine, or no frequency driver loaded)"})
		problems = append(problems, plan.Problem{Severity: plan.Warning, Module: "cpu", Object: "power.governor",
			Message: fmt.Sprintf("%s no cpufreq (/sys/devices/system/cpu/cpuN/cpufreq): governor %s cannot be set", cpuWords(set, "has", "have"), want),
			Remedy:  "on bare metal, load the frequency driver (intel_pstate, amd-pstate, acpi-cpufreq); in a virtual machine the host controls the frequency"})
	}
	return items, problems
}

// writeGovernor sets one CPU's governor and reads it back.
func writeGovernor(r *host.Root, hostPath, value string) error {
	p := r.Path(hostPath)
	if err := r.W.WriteKernel(p, value); err != nil {
		return err
	}
	got, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read back %s: %w", hostPath, err)
	}
	if strings.TrimSpace(string(got)) != value {
		return fmt.Errorf("%s: wrote %q, reads back %q: %w", hostPath, value, strings.TrimSpace(string(got)), module.ErrVerify)
	}
	return nil
}
