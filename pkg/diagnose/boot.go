package diagnose

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nettune/nettune/pkg/bootloader"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/hugepages"
	"github.com/nettune/nettune/pkg/isolcpu"
	"github.com/nettune/nettune/pkg/profile"
)

// bootNames are the kernel parameters whose effect the boot rules know:
// spec.cpu's isolation and spec.hugepages' pools.
var bootNames = append([]string{"isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity"}, hugepages.Names...)

// isolcpusDomain returns the CPUs an isolcpus= value takes out of the
// scheduler domains (what /sys/devices/system/cpu/isolated shows): the
// list after the flags, when the flags include domain or there are none.
func isolcpusDomain(v string) (cpuset.Set, bool) {
	parts := strings.Split(v, ",")
	var flags []string
	for len(parts) > 0 && slices.Contains([]string{"nohz", "domain", "managed_irq"}, parts[0]) {
		flags, parts = append(flags, parts[0]), parts[1:]
	}
	if len(flags) > 0 && !slices.Contains(flags, "domain") {
		return cpuset.Set{}, false
	}
	s, err := cpuset.Parse(strings.Join(parts, ","))
	return s, err == nil
}

// ruleBootIgnored compares the running kernel's command line with what
// the kernel made of it: CPUs isolated, nohz_full active, hugepages
// reserved at boot. A kernel that ignored an argument (no NO_HZ_FULL,
// memory short at boot, a size the CPU cannot map) looks configured and
// booted, yet is not tuned.
func ruleBootIgnored(in *Input) []Finding {
	line, err := bootloader.Running(in.Root)
	if err != nil {
		return nil
	}
	var out []Finding
	add := func(object, msg, evidence, remedy string) {
		out = append(out, Finding{Severity: Warning, Object: object, Message: msg, Evidence: evidence, Remedy: remedy})
	}
	var hugeArgs []string
	for _, a := range line.Kernel() {
		switch a.Name {
		case "isolcpus":
			want, ok := isolcpusDomain(a.Value)
			if !ok || want.IsEmpty() {
				continue
			}
			if miss := want.Difference(in.Topo.Isolated); !miss.IsEmpty() {
				add("isolcpus", fmt.Sprintf("booted with isolcpus=%s but the kernel does not isolate CPUs %s", a.Value, miss),
					fmt.Sprintf("/sys/devices/system/cpu/isolated: %q", in.Topo.Isolated.String()),
					"check dmesg for isolcpus messages (CPUs that do not exist, or the boot CPU) and fix spec.cpu.isolated")
			}
		case "nohz_full":
			want, err := cpuset.Parse(a.Value)
			if err != nil || want.IsEmpty() {
				continue
			}
			miss := want.Difference(in.Topo.NohzFull)
			switch {
			case !in.Topo.NohzFullSupported:
				add("nohz_full", fmt.Sprintf("booted with nohz_full=%s but this kernel has no NO_HZ_FULL: it ignored the argument and the timer tick runs on those CPUs", a.Value),
					"/sys/devices/system/cpu/nohz_full is missing",
					"boot a kernel built with CONFIG_NO_HZ_FULL (many distributions ship one, e.g. a -rt or lowlatency flavour), or set spec.cpu.nohzFull: false")
			case !miss.IsEmpty():
				add("nohz_full", fmt.Sprintf("booted with nohz_full=%s but nohz_full is not active on CPUs %s", a.Value, miss),
					fmt.Sprintf("/sys/devices/system/cpu/nohz_full: %q", in.Topo.NohzFull.String()),
					"check dmesg for NO_HZ messages (the boot CPU cannot be nohz_full; CPUs must exist)")
			}
		case "default_hugepagesz", "hugepagesz", "hugepages":
			hugeArgs = append(hugeArgs, a.Raw)
		}
	}
	defKB := in.Topo.DefaultHugepageKB
	if defKB == 0 {
		defKB = 2048
	}
	for _, p := range hugepages.BootPools(hugeArgs, defKB) {
		size := profile.Size(p.SizeKB) * profile.KiB
		dir := in.Root.Sys("kernel/mm/hugepages", fmt.Sprintf("hugepages-%dkB", p.SizeKB))
		where := ""
		if p.Node >= 0 {
			dir = in.Root.Sys("devices/system/node", fmt.Sprintf("node%d", p.Node), "hugepages", fmt.Sprintf("hugepages-%dkB", p.SizeKB))
			where = fmt.Sprintf(" on node %d", p.Node)
		}
		got, err := in.Root.ReadString(filepath.Join(dir, "nr_hugepages"))
		if err != nil {
			got = "0 (no such pool)"
		}
		var n int
		fmt.Sscan(got, &n)
		if n >= p.Count {
			continue
		}
		add(fmt.Sprintf("hugepages-%s", size),
			fmt.Sprintf("booted to reserve %d %s pages%s but the kernel holds %s", p.Count, size, where, got),
			fmt.Sprintf("/proc/cmdline: %s; %s", strings.Join(hugeArgs, " "), in.Root.HostPath(filepath.Join(dir, "nr_hugepages"))),
			"check dmesg for HugeTLB messages: memory was short at boot, the size is not supported, or the pages were released since; reserve fewer pages or add memory")
	}
	return out
}

// ruleBootStale compares the boot configuration with what the boot
// loader reads: arguments configured in /etc/default/grub (or
// /etc/kernel/cmdline) but missing from the generated grub.cfg or the BLS
// entries do not reach the next boot.
func ruleBootStale(in *Input) []Finding {
	names := slices.Clone(bootNames)
	if in.Spec != nil && in.Spec.CPU != nil {
		n, _ := isolcpu.KernelArgs(in.Spec.CPU, isolcpu.Resolve(in.Spec.CPU, in.Topo.Online))
		for _, x := range n {
			if !slices.Contains(names, x) {
				names = append(names, x)
			}
		}
	}
	_, stale, err := bootloader.Generated(in.Root, names)
	if err != nil {
		if !errors.Is(err, bootloader.ErrNoBootloader) {
			return []Finding{{Severity: Info, Object: bootloader.Object, Message: "cannot read the boot configuration: " + err.Error(), Remedy: "check the files it names"}}
		}
		return nil
	}
	var out []Finding
	for _, p := range stale {
		out = append(out, Finding{Severity: Warning, Object: bootloader.Object, Message: p.Message, Remedy: p.Remedy})
	}
	return out
}
