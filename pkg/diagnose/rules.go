package diagnose

import (
	"bytes"
	"fmt"
	"github.com/nettune/nettune/pkg/numa"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/isolcpu"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/nettune/nettune/pkg/sysctl"
)

// Rules returns every rule, in ID order. IDs are stable: scripts and
// alerts may match on them.
func Rules() []Rule {
	return []Rule{
		{"NT101", "softnet-dropped", "Packets dropped because a CPU's input backlog was full (2nd column of /proc/net/softnet_stat).", ruleSoftnetDropped, true},
		{"NT102", "softnet-time-squeeze", "The NET_RX softirq ran out of budget or time with work left (3rd column of softnet_stat).", ruleTimeSqueeze, true},
		{"NT103", "softnet-flow-limit", "Packets dropped by the per-flow backlog limit (flow_limit_count in softnet_stat).", ruleFlowLimit, true},
		{"NT104", "listen-drops", "TCP connection attempts dropped at listening sockets (TcpExt ListenOverflows, ListenDrops in /proc/net/netstat): a full accept queue.", ruleListenDrops, true},
		{"NT105", "udp-receive-errors", "UDP datagrams dropped on receive (Udp/Udp6 InErrors, RcvbufErrors, MemErrors in /proc/net/snmp and snmp6): full socket receive buffers or udp_mem pressure.", ruleUDPErrors, true},
		{"NT106", "softirq-hot", "CPUs spending more than half their time in softirq (/proc/stat softirq column), with their NET_RX/NET_TX softirq rates (/proc/softirqs): ksoftirqd takes over and competes with tasks.", ruleSoftirqHot, true},
		{"NT107", "qdisc-drops", "An interface's root qdisc dropped packets or requeued them to a busy driver (netlink qdisc statistics, what tc -s qdisc show prints; the running host only).", ruleQdiscDrops, true},
		{"NT201", "nic-drops", "The NIC dropped packets because its receive ring or FIFO was full.", ruleNICDrops, true},
		{"NT202", "pcie-link-downgraded", "A NIC's PCIe link runs below the card's maximum speed or width (current_link_speed/width vs max_link_speed/width in sysfs); the upstream port's maximum tells a slot that cannot do more from a link that trained down.", rulePCIeLink, false},
		{"NT203", "ring-below-max", "A NIC drops packets on ring-full while its receive ring is below the maximum the hardware allows (ethtool -g).", ruleRingBelowMax, true},
		{"NT204", "queues-below-cores", "A NIC receives on fewer queues than both the housekeeping CPUs of its NUMA node and its own maximum (ethtool -l), and the profile does not set its channels.", ruleQueuesBelowCores, false},
		{"NT205", "nic-tx-drops", "A NIC dropped packets on transmit (tx_dropped, tx_fifo_errors in /sys/class/net/<if>/statistics).", ruleTxDrops, true},
		{"NT207", "coalesce-far-from-profile", "A NIC's interrupt coalescing (ethtool -c) is far from what spec.nics[].coalesce sets: adaptive moderation the other way, a value off, or one at least twice or half the profile's.", ruleCoalesceFar, false},
		{"NT206", "pcie-payload-small", "A NIC's PCIe MaxPayload is below what it and its upstream port support, or its MaxReadReq is 128 bytes (Device Control in config space; needs root to read).", rulePCIePayload, false},
		{"NT210", "napi-defer-without-timer", "A NIC defers hard IRQs (napi_defer_hard_irqs > 0) while its gro_flush_timeout is 0: NAPI then arms no timer and re-enables the IRQ at once, so the deferral does nothing (napi.rst, Software IRQ coalescing; the device-wide sysfs values, not per-NAPI ones set through netlink).", ruleNAPIDeferNoTimer, false},
		{"NT301", "irq-on-isolated-cpu", "Device interrupts were serviced on isolated CPUs.", ruleIRQOnIsolated, true},
		{"NT302", "tick-on-isolated-cpu", "Local timer interrupts keep firing on isolated CPUs.", ruleTickOnIsolated, true},
		{"NT310", "napi-thread-on-isolated-cpu", "A threaded NAPI kernel thread (napi/<if>-<id>) may run on isolated CPUs (Cpus_allowed_list in /proc/<pid>/status): packet processing then preempts the isolated workload; napi.rst recommends pinning each to its IRQ's CPU.", ruleNAPIThreadIsolated, false},
		{"NT401", "irqbalance-unbanned", "irqbalance runs with IRQBALANCE_BANNED_CPUS or IRQBALANCE_BANNED_CPULIST set, which replaces its default ban of the isolated and nohz_full CPUs, and leaves isolated CPUs unbanned: it will move IRQs there.", ruleIRQBalance, false},
		{"NT402", "tuned-active", "A tuned profile is active and may rewrite the same settings.", ruleTuned, false},
		{"NT403", "sysctl-overridden", "A sysctl.d file read after nettune's sets the same key differently.", ruleSysctlOverride, false},
		{"NT404", "socket-memory-beyond-ram", "udp_mem or tcp_mem lets socket buffers grow past the host's memory.", ruleSocketMemory, false},
		{"NT405", "networkmanager-managed", "NetworkManager runs and manages a NIC the profile tunes (managed=true in /run/NetworkManager/devices/<ifindex>): it reapplies its connection's settings on activation.", ruleNetworkManager, false},
		{"NT406", "driverctl-override", "A driverctl override (/etc/driverctl.d/pci-<address>) binds a device the profile binds, or tunes as a kernel NIC, to another driver at every boot.", ruleDriverctl, false},
		{"NT407", "link-file-ethtool", "The systemd .link file udev applies to a profile NIC (first match over /etc, /run, /usr/lib/systemd/network) sets ethtool settings (rings, channels, coalescing, offloads); a warning when they overlap the profile's.", ruleLinkFiles, false},
		{"NT408", "tuned-no-daemon", "tuned is configured without its daemon (daemon = 0 in /etc/tuned/tuned-main.conf) with an active profile: it applies it at boot and exits, invisible to NT402.", ruleTunedNoDaemon, false},
		{"NT501", "hugepages-short", "Fewer hugepages reserved or free than the profile needs.", ruleHugepages, false},
		{"NT502", "gigantic-pages-unsupported", "1G pages are asked for but the CPU has no pdpe1gb.", ruleGigantic, false},
		{"NT503", "thp-always", "Transparent hugepages in 'always' mode on a host with isolated CPUs (khugepaged and compaction stalls).", ruleTHP, false},
		{"NT601", "iommu-missing", "vfio-pci is asked for but no IOMMU is active.", ruleIOMMU, false},
		{"NT602", "numa-mismatch", "CPUs serving a NIC are on a different NUMA node than the NIC.", ruleNUMA, false},
		{"NT603", "governor-not-performance", "Isolated CPUs run a cpufreq governor other than performance.", ruleGovernor, false},
		{"NT604", "kernel-config-missing", "The running kernel is built without an option the profile needs (CONFIG_VFIO, VFIO_PCI, VFIO_NOIOMMU, UIO_PCI_GENERIC, HUGETLBFS, NO_HZ_FULL, RPS, XDP_SOCKETS), read from /boot/config-$(uname -r), /proc/config.gz or /sys/module; without a profile, an info listing the ones it lacks.", ruleKernelConfig, false},
		{"NT605", "clocksource-not-tsc", "The kernel's clocksource is hpet or acpi_pm rather than the TSC (slow clock reads), or the TSC is used without constant_tsc/nonstop_tsc.", ruleClocksource, false},
		{"NT606", "iommu-mode", "The command line asks for an IOMMU the firmware did not enable, or the IOMMU translates kernel-driven NICs' DMA (no iommu=pt).", ruleIOMMUMode, false},
		{"NT701", "boot-args-ignored", "The running kernel was booted with isolcpus, nohz_full or hugepages but did not do what they ask (no NO_HZ_FULL, memory short at boot).", ruleBootIgnored, false},
		{"NT702", "boot-menu-stale", "The boot configuration has kernel arguments that the generated grub.cfg or BLS entries lack: the next boot would not get them.", ruleBootStale, false},
	}
}

func readSysctl(r *host.Root, name string) string {
	s, err := r.ReadString(r.Proc("sys", strings.ReplaceAll(name, ".", "/")))
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(s), " ")
}

func softnetRule(in *Input, get func(cpu int, after bool) uint64) (total uint64, evidence []string) {
	cpus := make([]int, 0, len(in.After.Softnet))
	for c := range in.After.Softnet {
		cpus = append(cpus, c)
	}
	sort.Ints(cpus)
	for _, c := range cpus {
		d := delta32(get(c, false), get(c, true))
		if d > 0 {
			total += d
			evidence = append(evidence, fmt.Sprintf("cpu%d: %s", c, per(d, in.Interval)))
		}
	}
	return total, evidence
}

func ruleSoftnetDropped(in *Input) []Finding {
	total, ev := softnetRule(in, func(c int, after bool) uint64 {
		if after {
			return uint64(in.After.Softnet[c].Dropped)
		}
		return uint64(in.Before.Softnet[c].Dropped)
	})
	if total == 0 {
		return nil
	}
	return []Finding{{
		Severity: Warning, Object: "/proc/net/softnet_stat",
		Message:  fmt.Sprintf("%d packets dropped: the per-CPU input backlog was full", total),
		Evidence: strings.Join(ev, "; "),
		Remedy:   backlogRemedy(in),
	}}
}

func ruleTimeSqueeze(in *Input) []Finding {
	total, ev := softnetRule(in, func(c int, after bool) uint64 {
		if after {
			return uint64(in.After.Softnet[c].TimeSqueezed)
		}
		return uint64(in.Before.Softnet[c].TimeSqueezed)
	})
	if total == 0 {
		return nil
	}
	return []Finding{{
		Severity: Warning, Object: "/proc/net/softnet_stat",
		Message:  fmt.Sprintf("the receive softirq stopped %d times with packets left (time_squeeze)", total),
		Evidence: strings.Join(ev, "; "),
		Remedy:   budgetRemedy(in),
	}}
}

func ruleFlowLimit(in *Input) []Finding {
	total, ev := softnetRule(in, func(c int, after bool) uint64 {
		if after {
			return uint64(in.After.Softnet[c].FlowLimitCount)
		}
		return uint64(in.Before.Softnet[c].FlowLimitCount)
	})
	if total == 0 {
		return nil
	}
	return []Finding{{
		Severity: Info, Object: "/proc/net/softnet_stat",
		Message:  fmt.Sprintf("%d packets of large flows were dropped by the flow limit", total),
		Evidence: strings.Join(ev, "; "),
		Remedy:   "intended protection against one flow filling the backlog; if unwanted, raise spec.sysctl net.core.flow_limit_table_len or clear net.core.flow_limit_cpu_bitmap",
	}}
}

// ringDrops are the counters that mean "the NIC had nowhere to put it".
var ringDrops = []string{"rx_missed_errors", "rx_fifo_errors", "rx_over_errors"}

// countedIn names, for driver statistics that count drops the generic
// counters already hold, the generic counter. A driver statistic with the
// name of a generic counter is that counter (ixgbe, igb and e1000e list
// their net_device statistics in ethtool -S); rx_no_buffer_count (Intel's
// RNBC) counts packets that found no free descriptor, and those the NIC
// then drops are its missed packets (MPC), which is rx_missed_errors.
var countedIn = map[string]string{
	"rx_missed_errors":   "rx_missed_errors",
	"rx_fifo_errors":     "rx_fifo_errors",
	"rx_over_errors":     "rx_over_errors",
	"rx_no_buffer_count": "rx_missed_errors",
}

func ruleNICDrops(in *Input) []Finding {
	var out []Finding
	names := make([]string, 0, len(in.After.NICStats))
	for n := range in.After.NICStats {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		after, before := in.After.NICStats[name], in.Before.NICStats[name]
		var ev []string
		var total uint64
		counters := append([]string(nil), ringDrops...)
		for c := range after {
			if strings.HasPrefix(c, "ethtool:") {
				counters = append(counters, c)
			}
		}
		sort.Strings(counters[len(ringDrops):])
		d := map[string]uint64{}
		for _, c := range counters {
			d[c] = delta(before[c], after[c])
		}
		for _, c := range counters {
			if d[c] == 0 {
				continue
			}
			stat, driver := strings.CutPrefix(c, "ethtool:")
			if g, ok := countedIn[stat]; driver && ok {
				if _, generic := after[g]; generic {
					// The same drops, already counted (or a subset of them).
					ev = append(ev, fmt.Sprintf("%s: %s (counted in %s)", c, per(d[c], in.Interval), g))
					continue
				}
			}
			total += d[c]
			ev = append(ev, c+": "+per(d[c], in.Interval))
		}
		if total == 0 {
			continue
		}
		out = append(out, Finding{
			Severity: Warning, Object: name,
			Message:  fmt.Sprintf("%s dropped %d packets in hardware: the receive ring was full", name, total),
			Evidence: strings.Join(ev, "; "),
			Remedy:   fmt.Sprintf("raise the ring size (spec.nics[].rings.rx, ethtool -G %s rx <max from ethtool -g>), add queues (spec.nics[].channels) and make sure their IRQs are not on busy CPUs", name),
		})
	}
	return out
}

// isolated is the set of CPUs that should be quiet: what the running
// kernel isolates plus what the profile asks for.
func isolated(in *Input) cpuset.Set {
	s := in.Topo.Isolated.Union(in.Topo.NohzFull)
	if in.Spec != nil && in.Spec.CPU != nil {
		s = s.Union(in.Spec.CPU.Isolated)
	}
	return s
}

func ruleIRQOnIsolated(in *Input) []Finding {
	iso := isolated(in)
	if iso.IsEmpty() {
		return nil
	}
	var ev []string
	var total uint64
	nums := make([]int, 0, len(in.After.IRQs))
	for n := range in.After.IRQs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		irq := in.After.IRQs[n]
		for _, c := range iso.List() {
			if d := delta32(in.Before.IRQs[n].Count(c), irq.Count(c)); d > 0 {
				total += d
				ev = append(ev, fmt.Sprintf("IRQ %d (%s) on cpu%d: %s", n, strings.Join(irq.Names, ", "), c, per(d, in.Interval)))
			}
		}
	}
	if total == 0 {
		return nil
	}
	if len(ev) > 8 {
		ev = append(ev[:8], fmt.Sprintf("and %d more", len(ev)-8))
	}
	return []Finding{{
		Severity: Warning, Object: "cpus " + iso.String(),
		Message:  fmt.Sprintf("%d device interrupts ran on isolated CPUs %s", total, iso),
		Evidence: strings.Join(ev, "; "),
		Remedy:   "pin NIC IRQs to housekeeping CPUs (spec.nics[].irqAffinity), ban the isolated CPUs in irqbalance (spec.irqbalance.mode: ban) and keep isolcpus flag managed_irq (spec.cpu.isolcpusFlags)",
	}}
}

// tickRateLimit: with nohz_full a busy isolated CPU still takes about one
// tick per second; more than this many per second means the tick is on.
const tickRateLimit = 10.0

func ruleTickOnIsolated(in *Input) []Finding {
	iso := isolated(in)
	if iso.IsEmpty() || in.Interval <= 0 {
		return nil
	}
	loc := in.After.Summary["LOC"]
	if loc == nil {
		return nil
	}
	var noisy []string
	for _, c := range iso.List() {
		rate := float64(delta32(in.Before.Summary["LOC"][c], loc[c])) / in.Interval.Seconds()
		if rate > tickRateLimit {
			noisy = append(noisy, fmt.Sprintf("cpu%d: %.0f/s", c, rate))
		}
	}
	if len(noisy) == 0 {
		return nil
	}
	remedy := "find what runs there (a task, a workqueue or a timer keeps the tick on); ps -eLo psr,comm | awk '$1==CPU'"
	asked := in.Spec != nil && in.Spec.CPU != nil && isolcpu.Resolve(in.Spec.CPU, in.Topo.Online).NohzFull
	switch {
	case iso.IsSubsetOf(in.Topo.NohzFull):
	case !in.Topo.NohzFullSupported:
		// nohzFull would be ignored by this kernel: suggesting it would
		// change nothing.
		remedy = "this kernel has no NO_HZ_FULL (/sys/devices/system/cpu/nohz_full is missing), so the tick cannot be stopped: boot a kernel built with CONFIG_NO_HZ_FULL, then " + remedy
	case asked:
		remedy = fmt.Sprintf("the profile asks for nohz_full but the running kernel has nohz_full=%q: reboot to apply it (nettune check shows pending-reboot), or see NT701 if it was booted with it", in.Topo.NohzFull.String())
	default:
		remedy = fmt.Sprintf("enable nohz_full on the isolated CPUs (spec.cpu.nohzFull: true; running kernel has nohz_full=%q)", in.Topo.NohzFull.String())
	}
	return []Finding{{
		Severity: Warning, Object: "cpus " + iso.String(),
		Message:  "local timer interrupts keep firing on isolated CPUs",
		Evidence: strings.Join(noisy, "; "),
		Remedy:   remedy,
	}}
}

// irqbalanceBanned returns the CPUs irqbalance keeps IRQs off, following
// its rule (setup_banned_cpus in irqbalance's cputree.c): a non-empty
// IRQBALANCE_BANNED_CPUS (a mask, deprecated) or else a non-empty
// IRQBALANCE_BANNED_CPULIST replaces the default; without either it bans
// the CPUs the running kernel isolates or runs nohz_full. The variables
// come from the distribution's environment file. override is the
// variable that replaced the default ("" when none did).
func irqbalanceBanned(in *Input) (banned cpuset.Set, file, override string) {
	banned = in.Topo.Isolated.Union(in.Topo.NohzFull)
	for _, f := range []string{"/etc/default/irqbalance", "/etc/sysconfig/irqbalance"} {
		b, err := os.ReadFile(in.Root.Path(f))
		if err != nil {
			continue
		}
		env := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			env[strings.TrimSpace(strings.TrimPrefix(k, "export "))] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
		for _, k := range []string{"IRQBALANCE_BANNED_CPUS", "IRQBALANCE_BANNED_CPULIST"} {
			v := env[k]
			if v == "" {
				continue
			}
			var s cpuset.Set
			if k == "IRQBALANCE_BANNED_CPUS" {
				s, err = cpuset.ParseMask(v)
			} else {
				s, err = cpuset.Parse(v)
			}
			if err != nil {
				s = cpuset.Set{}
			}
			return s, f, k + "=" + v
		}
		return banned, f, ""
	}
	return banned, "", ""
}

func ruleIRQBalance(in *Input) []Finding {
	iso := isolated(in)
	if iso.IsEmpty() || !in.running("irqbalance") {
		return nil
	}
	banned, file, override := irqbalanceBanned(in)
	if override == "" {
		// irqbalance bans what the running kernel isolates; CPUs the
		// profile isolates from the next boot on are banned then.
		return nil
	}
	missing := iso.Difference(banned)
	if missing.IsEmpty() {
		return nil
	}
	return []Finding{{
		Severity: Warning, Object: "irqbalance",
		Message:  fmt.Sprintf("irqbalance is running and may move IRQs onto isolated CPUs %s", missing),
		Evidence: fmt.Sprintf("%s sets %s, which replaces irqbalance's default ban of the isolated and nohz_full CPUs", file, override),
		Remedy:   "spec.irqbalance.mode: ban (IRQBALANCE_BANNED_CPULIST with the isolated CPUs), remove the override, or mode: stop",
	}}
}

func ruleTuned(in *Input) []Finding {
	b, err := os.ReadFile(in.Root.Path("/etc/tuned/active_profile"))
	active := strings.TrimSpace(string(b))
	if err != nil || active == "" || !in.running("tuned") {
		return nil
	}
	return []Finding{{
		Severity: Warning, Object: "tuned",
		Message:  fmt.Sprintf("tuned profile %q is active; it sets sysctls, governors and IRQ affinities of its own and may undo nettune's", active),
		Evidence: "/etc/tuned/active_profile: " + active,
		Remedy:   "tuned-adm off, or make sure the tuned profile and the nettune profile agree",
	}}
}

func ruleSysctlOverride(in *Input) []Finding {
	if in.Spec != nil && len(in.Spec.Sysctl) > 0 {
		return nil // the sysctl module reports overrides of the profile's keys
	}
	b, err := os.ReadFile(in.Root.Path(sysctl.ConfFile))
	if err != nil {
		return nil
	}
	settings, err := sysctl.ParseConf(bytes.NewReader(b), sysctl.ConfFile)
	if err != nil || len(settings) == 0 {
		return nil
	}
	want := map[string]string{}
	for _, s := range settings {
		want[s.Key] = s.Value
	}
	var out []Finding
	for _, p := range sysctl.Overrides(in.Root, want) {
		if !strings.Contains(p.Message, "wins at boot") {
			continue
		}
		out = append(out, Finding{Severity: Warning, Object: p.Object, Message: p.Message, Remedy: p.Remedy})
	}
	return out
}

// hugeFree sums total and free pages of a size over all nodes.
func hugeTotals(in *Input, kb uint64) (total, free int) {
	for _, n := range in.Topo.Nodes {
		for _, p := range n.Hugepages {
			if p.SizeKB == kb {
				total += p.Total
				free += p.Free
			}
		}
	}
	return total, free
}

func ruleHugepages(in *Input) []Finding {
	if in.Spec == nil || in.Spec.Hugepages == nil {
		return nil
	}
	// Pools reserved at boot are the cpu/hugepages modules' business
	// (pending-reboot until the next boot); the rule looks at runtime pools.
	need := map[uint64]int{}
	for _, p := range in.Spec.Hugepages.Pages {
		if !p.Boot {
			need[p.Size.KB()] += p.Count
		}
	}
	var out []Finding
	for _, kb := range sortedKeys(need) {
		total, free := hugeTotals(in, kb)
		size := profile.Size(kb) * profile.KiB
		switch {
		case total < need[kb]:
			out = append(out, Finding{
				Severity: Error, Object: "hugepages-" + size.String(),
				Message:  fmt.Sprintf("%d %s pages reserved, the profile needs %d", total, size, need[kb]),
				Evidence: fmt.Sprintf("total %d, free %d", total, free),
				Remedy:   fmt.Sprintf("nettune apply; if the kernel cannot find contiguous memory, reserve at boot (spec.hugepages.pages[].boot: true → hugepagesz=%s hugepages=%d)", size, need[kb]),
			})
		case free == 0 && need[kb] > 0:
			out = append(out, Finding{
				Severity: Info, Object: "hugepages-" + size.String(),
				Message:  fmt.Sprintf("all %d %s pages are in use", total, size),
				Evidence: fmt.Sprintf("total %d, free 0", total),
				Remedy:   "expected while the data plane runs; otherwise find the holder in /proc/*/smaps (look for hugetlbfs mappings)",
			})
		}
	}
	return out
}

func sortedKeys(m map[uint64]int) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// CPUHasFlag reports whether /proc/cpuinfo lists a CPU flag.
func CPUHasFlag(r *host.Root, flag string) (has, known bool) {
	b, err := os.ReadFile(r.Proc("cpuinfo"))
	if err != nil {
		return false, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		for _, f := range strings.Fields(v) {
			if f == flag {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

func ruleGigantic(in *Input) []Finding {
	if in.Spec == nil || in.Spec.Hugepages == nil {
		return nil
	}
	for _, p := range in.Spec.Hugepages.Pages {
		if p.Size != profile.GiB {
			continue
		}
		has, known := CPUHasFlag(in.Root, "pdpe1gb")
		if known && !has {
			return []Finding{{
				Severity: Error, Object: "hugepages-1G",
				Message:  "the profile asks for 1G pages but this CPU has no pdpe1gb flag",
				Evidence: "/proc/cpuinfo flags lack pdpe1gb",
				Remedy:   "use 2M pages (spec.hugepages.pages[].size: 2M)",
			}}
		}
	}
	return nil
}

func ruleTHP(in *Input) []Finding {
	b, err := os.ReadFile(in.Root.Sys("kernel/mm/transparent_hugepage/enabled"))
	if err != nil || !strings.Contains(string(b), "[always]") || isolated(in).IsEmpty() {
		return nil
	}
	return []Finding{{
		Severity: Warning, Object: "transparent_hugepage",
		Message:  "transparent hugepages are 'always' on a host with isolated CPUs: khugepaged scans and compaction stalls add latency",
		Evidence: "/sys/kernel/mm/transparent_hugepage/enabled: " + strings.TrimSpace(string(b)),
		Remedy:   "spec.hugepages.transparent: madvise (or never)",
	}}
}

func ruleIOMMU(in *Input) []Finding {
	if in.Spec == nil {
		return nil
	}
	wants := false
	for _, d := range in.Spec.Devices {
		if d.Driver == "vfio-pci" {
			wants = true
		}
	}
	if !wants {
		return nil
	}
	entries, err := os.ReadDir(in.Root.Sys("kernel/iommu_groups"))
	if err == nil && len(entries) > 0 {
		return nil
	}
	return []Finding{{
		Severity: Error, Object: "/sys/kernel/iommu_groups",
		Message:  "vfio-pci is asked for but no IOMMU is active (no IOMMU groups)",
		Evidence: "/sys/kernel/iommu_groups is empty or missing",
		Remedy:   "enable VT-d/AMD-Vi in the firmware and add intel_iommu=on iommu=pt (or amd_iommu=on) to spec.cpu.kernelArgs, then reboot; or bind uio_pci_generic",
	}}
}

func ruleNUMA(in *Input) []Finding {
	if in.Spec == nil || len(in.Topo.Nodes) < 2 {
		return nil
	}
	var out []Finding
	nodeOfPCI := func(pci string) int {
		pci = profile.NormalizePCI(pci)
		b, err := os.ReadFile(in.Root.Sys("bus/pci/devices", pci, "numa_node"))
		if err != nil {
			return -1
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	check := func(object string, node int, cpus cpuset.Set, key string) {
		if node < 0 || cpus.IsEmpty() {
			return
		}
		local := in.Topo.CPUsOfNode(node)
		if remote := cpus.Difference(local); !remote.IsEmpty() {
			out = append(out, Finding{
				Severity: Warning, Object: object,
				Message:  fmt.Sprintf("%s is on NUMA node %d but CPUs %s are not", object, node, remote),
				Evidence: fmt.Sprintf("node %d CPUs: %s", node, local),
				Remedy:   fmt.Sprintf("use CPUs of node %d in %s", node, key),
			})
		}
	}
	if dp := in.Spec.Dataplane; dp != nil {
		cpus := dp.Lcores
		key := "spec.dataplane.lcores"
		if cpus.IsEmpty() && in.Spec.CPU != nil {
			cpus, key = in.Spec.CPU.Isolated, "spec.cpu.isolated"
		}
		for _, p := range dp.Ports {
			if p.PCI != "" {
				check(p.PCI, nodeOfPCI(p.PCI), cpus, key)
			}
		}
	}
	for i, n := range in.Spec.NICs {
		if n.IRQAffinity == nil || n.IRQAffinity.CPUs.IsEmpty() {
			continue
		}
		for _, nic := range in.Topo.NICs {
			if matchName(n.Match.Name, nic.Name) || (n.Match.PCI != "" && profile.NormalizePCI(n.Match.PCI) == nic.PCI) {
				check(nic.Name, nic.Node, n.IRQAffinity.CPUs, fmt.Sprintf("spec.nics[%d].irqAffinity.cpus", i))
			}
		}
	}
	return out
}

func matchName(glob, name string) bool {
	if glob == "" {
		return false
	}
	ok, _ := filepath.Match(glob, name)
	return ok
}

func ruleGovernor(in *Input) []Finding {
	iso := isolated(in)
	var slow []string
	// Only the isolated CPUs' governors are read.
	ids := iso.List()
	for i, g := range numa.ReadGovernors(in.Root, ids) {
		if g != "" && g != "performance" {
			slow = append(slow, fmt.Sprintf("cpu%d: %s", ids[i], g))
		}
	}
	if len(slow) == 0 {
		return nil
	}
	return []Finding{{
		Severity: Warning, Object: "cpus " + iso.String(),
		Message:  "isolated CPUs are not on the performance governor: frequency ramps add latency and jitter",
		Evidence: strings.Join(slow, "; "),
		Remedy:   "spec.cpu.power.governor: performance",
	}}
}

// profileSysctl returns the value the profile sets for a sysctl (named
// with dots or slashes).
func profileSysctl(in *Input, name string) (string, bool) {
	if in.Spec == nil {
		return "", false
	}
	for k, v := range in.Spec.Sysctl {
		if strings.ReplaceAll(k, "/", ".") == name {
			return string(v), true
		}
	}
	return "", false
}

// budgetRemedy is NT102's remedy. A profile that sets netdev_budget chose
// it (kernel-low-latency lowers it so a softirq run stays short): the
// remedy does not tell it to raise it.
func budgetRemedy(in *Input) string {
	if v, ok := profileSysctl(in, "net.core.netdev_budget"); ok {
		return fmt.Sprintf("the profile sets net.core.netdev_budget to %s, which bounds each softirq run (shorter bursts of kernel work); squeezes are its cost. Spread receive work over more queues and CPUs instead (spec.nics[].channels, RSS, spec.nics[].rps), or raise the budget in the profile if throughput matters more than latency", v)
	}
	return fmt.Sprintf("raise spec.sysctl net.core.netdev_budget (now %s) and net.core.netdev_budget_usecs (now %s)",
		readSysctl(in.Root, "net.core.netdev_budget"), readSysctl(in.Root, "net.core.netdev_budget_usecs"))
}

// backlogRemedy is NT101's remedy, in the same spirit.
func backlogRemedy(in *Input) string {
	if v, ok := profileSysctl(in, "net.core.netdev_max_backlog"); ok {
		return fmt.Sprintf("the profile sets net.core.netdev_max_backlog to %s: spread receive work with RSS/RPS (spec.nics[].rps) so no one CPU's backlog fills, or raise it in the profile", v)
	}
	return fmt.Sprintf("raise spec.sysctl net.core.netdev_max_backlog (now %s), and spread receive work with RSS/RPS (spec.nics[].rps)", readSysctl(in.Root, "net.core.netdev_max_backlog"))
}

// socketMemory are the sysctls whose third value is a ceiling, in pages,
// on all sockets of a protocol together.
var socketMemory = []string{"net.ipv4.udp_mem", "net.ipv4.tcp_mem"}

// ruleSocketMemory warns when udp_mem or tcp_mem (the profile's, else the
// running kernel's) allows more socket buffer memory than the host has:
// the kernel sizes them from memory at boot (the maximum is about 3/16 of
// it), a fixed value copied from a bigger host lets sockets take all
// memory before pressure starts.
func ruleSocketMemory(in *Input) []Finding {
	var memKB uint64
	for _, n := range in.Topo.Nodes {
		memKB += n.MemoryKB
	}
	if memKB == 0 {
		b, _ := os.ReadFile(in.Root.Proc("meminfo"))
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				memKB, _ = strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
	}
	if memKB == 0 {
		return nil
	}
	var out []Finding
	for _, name := range socketMemory {
		v, fromProfile := profileSysctl(in, name)
		if !fromProfile {
			v = readSysctl(in.Root, name)
		}
		f := strings.Fields(strings.NewReplacer("[", " ", "]", " ", ",", " ").Replace(v))
		if len(f) != 3 {
			continue
		}
		pages, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		kb := pages * uint64(os.Getpagesize()) / 1024
		if kb <= memKB {
			continue
		}
		where, remedy := "the running kernel has", "set it from this host's memory, or leave it to the kernel's default (remove it from /etc/sysctl.d)"
		if fromProfile {
			where, remedy = "the profile sets", fmt.Sprintf("remove %s from spec.sysctl (the kernel sizes it from memory at boot) or size it for this host: at most %d pages as its maximum", name, memKB*1024/uint64(os.Getpagesize())*3/16)
		}
		out = append(out, Finding{
			Severity: Warning, Object: name,
			Message:  fmt.Sprintf("%s %s = %s: up to %.1f GiB of socket buffers, more than the %.1f GiB of memory this host has", where, name, strings.Join(f, " "), float64(kb)/(1<<20), float64(memKB)/(1<<20)),
			Evidence: "MemTotal of the NUMA nodes; the third value is the ceiling in pages",
			Remedy:   remedy,
		})
	}
	return out
}
