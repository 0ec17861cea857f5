package diagnose

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nettune/nettune/pkg/bootloader"
	"github.com/nettune/nettune/pkg/isolcpu"
)

// kernelOption is a kernel build option a packet-processing host may
// need, what needs it, and how the running kernel shows it when its
// config cannot be read.
type kernelOption struct {
	Name string
	// Why says what it is for.
	Why string
	// Need reports whether the profile needs it, and the profile key.
	Need func(in *Input) (key string, ok bool)
	// Present reports whether sysfs shows the running kernel has it
	// (built in or loaded); false proves nothing.
	Present func(in *Input) bool
}

func wantsDriver(in *Input, driver string) (string, bool) {
	if in.Spec == nil {
		return "", false
	}
	for i, d := range in.Spec.Devices {
		if d.Driver == driver {
			return fmt.Sprintf("spec.devices[%d].driver: %s", i, driver), true
		}
	}
	return "", false
}

// sysModule is Present for an option built as a module or built in with
// parameters: /sys/module/<name> exists once it is loaded or built in.
func sysModule(name string) func(in *Input) bool {
	return func(in *Input) bool { return in.Root.Exists(in.Root.Sys("module", name)) }
}

func iommuActive(in *Input) bool {
	entries, err := os.ReadDir(in.Root.Sys("kernel/iommu_groups"))
	return err == nil && len(entries) > 0
}

var kernelOptions = []kernelOption{
	{"CONFIG_VFIO", "the VFIO framework DPDK's vfio-pci binding uses", func(in *Input) (string, bool) { return wantsDriver(in, "vfio-pci") }, sysModule("vfio")},
	{"CONFIG_VFIO_PCI", "the vfio-pci driver", func(in *Input) (string, bool) { return wantsDriver(in, "vfio-pci") }, sysModule("vfio_pci")},
	{"CONFIG_VFIO_NOIOMMU", "vfio's unsafe no-IOMMU mode, for vfio-pci on a host without an IOMMU", func(in *Input) (string, bool) {
		if in.Spec == nil {
			return "", false
		}
		for i, d := range in.Spec.Devices {
			if d.Driver == "vfio-pci" && (d.UnsafeNoIOMMU || !iommuActive(in)) {
				return fmt.Sprintf("spec.devices[%d] (vfio-pci without an IOMMU)", i), true
			}
		}
		return "", false
	}, func(in *Input) bool {
		return in.Root.Exists(in.Root.Sys("module/vfio/parameters/enable_unsafe_noiommu_mode"))
	}},
	{"CONFIG_UIO_PCI_GENERIC", "the uio_pci_generic driver", func(in *Input) (string, bool) { return wantsDriver(in, "uio_pci_generic") }, sysModule("uio_pci_generic")},
	{"CONFIG_HUGETLBFS", "hugepages for DPDK's memory", func(in *Input) (string, bool) {
		if in.Spec != nil && in.Spec.Hugepages != nil && len(in.Spec.Hugepages.Pages) > 0 {
			return "spec.hugepages.pages", true
		}
		return "", false
	}, func(in *Input) bool { return in.Root.Exists(in.Root.Sys("kernel/mm/hugepages")) }},
	{"CONFIG_NO_HZ_FULL", "stopping the tick on isolated CPUs (nohz_full=)", func(in *Input) (string, bool) {
		if in.Spec != nil && in.Spec.CPU != nil && isolcpu.Resolve(in.Spec.CPU, in.Topo.Online).NohzFull {
			return "spec.cpu.nohzFull", true
		}
		return "", false
	}, func(in *Input) bool { return in.Topo.NohzFullSupported }},
	{"CONFIG_RPS", "receive packet steering (rps_cpus)", func(in *Input) (string, bool) {
		if in.Spec == nil {
			return "", false
		}
		for i, n := range in.Spec.NICs {
			if n.RPS != nil || n.RFS != nil {
				return fmt.Sprintf("spec.nics[%d].rps", i), true
			}
		}
		return "", false
	}, func(in *Input) bool {
		for _, nic := range in.Topo.NICs {
			if in.Root.Exists(in.Root.Sys("class/net", nic.Name, "queues/rx-0/rps_cpus")) {
				return true
			}
		}
		return false
	}},
	{"CONFIG_XDP_SOCKETS", "AF_XDP sockets (the net_af_xdp port)", func(in *Input) (string, bool) {
		if in.Spec == nil || in.Spec.Dataplane == nil {
			return "", false
		}
		for i, p := range in.Spec.Dataplane.Ports {
			if strings.HasPrefix(p.Vdev, "net_af_xdp") {
				return fmt.Sprintf("spec.dataplane.ports[%d].vdev: %s", i, p.Vdev), true
			}
		}
		return "", false
	}, func(in *Input) bool { return false }},
}

type configEntry struct {
	size   int64
	mod    time.Time
	values map[string]string
}

var configCache struct {
	sync.Mutex
	m map[string]configEntry
}

// kernelConfig reads the running kernel's build configuration: the
// distribution's /boot/config-<release>, else /proc/config.gz
// (CONFIG_IKCONFIG_PROC). It returns the options of interest with their
// value (y, m, or "" when not set) and where it read them.
func kernelConfig(in *Input) (map[string]string, string) {
	names := make([]string, len(kernelOptions))
	for i, o := range kernelOptions {
		names[i] = o.Name
	}
	parse := func(r io.Reader) map[string]string {
		out := map[string]string{}
		for _, n := range names {
			out[n] = ""
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.HasPrefix(line, []byte("CONFIG_")) {
				continue
			}
			k, v, ok := bytes.Cut(line, []byte("="))
			if !ok {
				continue
			}
			if _, want := out[string(k)]; want {
				out[string(k)] = string(v)
			}
		}
		return out
	}
	if rel, err := in.Root.ReadString(in.Root.Proc("sys/kernel/osrelease")); err == nil && rel != "" {
		p := in.Root.Path("/boot/config-" + strings.TrimSpace(rel))
		if f, err := os.Open(p); err == nil {
			defer f.Close()
			// The exporter runs the rules at every scrape: a config file
			// (about 250 kB) unchanged since the last one is not parsed
			// again.
			st, err := f.Stat()
			if err != nil {
				return nil, ""
			}
			configCache.Lock()
			defer configCache.Unlock()
			if c, ok := configCache.m[p]; ok && c.size == st.Size() && c.mod.Equal(st.ModTime()) {
				return c.values, in.Root.HostPath(p)
			}
			v := parse(f)
			if configCache.m == nil {
				configCache.m = map[string]configEntry{}
			}
			configCache.m[p] = configEntry{st.Size(), st.ModTime(), v}
			return v, in.Root.HostPath(p)
		}
	}
	if f, err := os.Open(in.Root.Proc("config.gz")); err == nil {
		defer f.Close()
		if z, err := gzip.NewReader(f); err == nil {
			return parse(z), "/proc/config.gz"
		}
	}
	return nil, ""
}

// ruleKernelConfig looks for the kernel options the profile needs (and,
// without a profile, lists the ones this kernel lacks).
func ruleKernelConfig(in *Input) []Finding {
	cfg, src := kernelConfig(in)
	var out []Finding
	var lacking []string
	for _, o := range kernelOptions {
		key, needed := o.Need(in)
		var has, known bool
		value := ""
		if cfg != nil {
			value = cfg[o.Name]
			has, known = value == "y" || value == "m", true
		} else {
			// sysfs proves presence only: absence may be a module not
			// loaded yet, or a partial --root tree.
			has = o.Present(in)
			known = has
		}
		if has || !known {
			continue
		}
		evidence := fmt.Sprintf("%s: %s is not set", src, o.Name)
		if !needed {
			lacking = append(lacking, o.Name)
			continue
		}
		sev := Error
		if o.Name == "CONFIG_NO_HZ_FULL" || o.Name == "CONFIG_RPS" {
			sev = Warning
		}
		out = append(out, Finding{
			Severity: sev, Object: o.Name,
			Message:  fmt.Sprintf("%s asks for %s but the running kernel is built without %s", key, o.Why, o.Name),
			Evidence: evidence,
			Remedy:   fmt.Sprintf("boot a kernel built with %s=y or =m (the distribution's generic or -rt kernel usually is), or drop %s from the profile", o.Name, key),
		})
	}
	if len(lacking) > 0 && in.Spec == nil && cfg != nil {
		out = append(out, Finding{
			Severity: Info, Object: "kernel config",
			Message:  "the running kernel is built without " + strings.Join(lacking, ", "),
			Evidence: src,
			Remedy:   "only matters for profiles that use them (vfio-pci, uio_pci_generic, hugepages, nohz_full, RPS, AF_XDP); boot a kernel built with them before applying such a profile",
		})
	}
	return out
}

// unstableClocksources are the clocksources a kernel falls back to when
// it finds the TSC unusable: reading them costs a port or MMIO access
// (microseconds) where the TSC costs nanoseconds, so every timestamp
// (packet timestamps, clock_gettime in the data plane) slows down.
var unstableClocksources = []string{"hpet", "acpi_pm", "jiffies", "pit"}

func ruleClocksource(in *Input) []Finding {
	dir := in.Root.Sys("devices/system/clocksource/clocksource0")
	cur, err := in.Root.ReadString(filepath.Join(dir, "current_clocksource"))
	if err != nil {
		return nil
	}
	cur = strings.TrimSpace(cur)
	flags := in.Topo.CPUInfo.Flags
	hasTSC := slices.Contains(flags, "tsc")
	invariant := slices.Contains(flags, "constant_tsc") && slices.Contains(flags, "nonstop_tsc")
	avail, _ := in.Root.ReadString(filepath.Join(dir, "available_clocksource"))
	ev := fmt.Sprintf("current_clocksource: %s; available_clocksource: %s", cur, strings.TrimSpace(avail))
	switch {
	case slices.Contains(unstableClocksources, cur):
		remedy := "check dmesg for 'clocksource' and 'TSC' messages (the watchdog marks the TSC unstable on skew or a firmware bug); update the firmware"
		if hasTSC && invariant {
			remedy += "; this CPU has an invariant TSC (constant_tsc, nonstop_tsc): add tsc=reliable (and clocksource=tsc) to spec.cpu.kernelArgs"
		} else if hasTSC {
			remedy += "; this CPU lacks constant_tsc or nonstop_tsc, so its TSC may drift with frequency or stop in deep C-states"
		}
		return []Finding{{
			Severity: Warning, Object: "clocksource",
			Message:  fmt.Sprintf("the kernel's clocksource is %s, not tsc: every clock read costs a device access, which slows timestamps and clock_gettime", cur),
			Evidence: ev + "; cpu flags: " + tscFlags(flags),
			Remedy:   remedy,
		}}
	case cur == "tsc" && hasTSC && !invariant:
		return []Finding{{
			Severity: Info, Object: "clocksource",
			Message:  "the clocksource is tsc but the CPU does not report an invariant TSC (constant_tsc and nonstop_tsc): its rate may follow frequency changes or stop in deep C-states",
			Evidence: ev + "; cpu flags: " + tscFlags(flags),
			Remedy:   "keep the CPUs out of deep C-states (spec.cpu.power.maxCState) and on a fixed frequency (spec.cpu.power.governor: performance); watch dmesg for the kernel switching clocksource",
		}}
	}
	return nil
}

func tscFlags(flags []string) string {
	var have []string
	for _, f := range []string{"tsc", "constant_tsc", "nonstop_tsc", "tsc_reliable"} {
		if slices.Contains(flags, f) {
			have = append(have, f)
		}
	}
	if len(have) == 0 {
		return "no tsc flags"
	}
	return strings.Join(have, " ")
}

// ruleIOMMUMode compares the IOMMU the command line asks for with what
// the kernel runs, and flags NICs that kernel drivers drive through a
// translating IOMMU (every DMA mapping goes through the IOMMU's page
// tables and IOTLB: iommu=pt avoids that for kernel drivers and keeps
// isolation for vfio).
func ruleIOMMUMode(in *Input) []Finding {
	line, err := bootloader.Running(in.Root)
	if err != nil {
		return nil
	}
	var asked []string
	pt := false
	for _, a := range line.Kernel() {
		switch a.Name {
		case "intel_iommu", "amd_iommu", "iommu":
			asked = append(asked, a.Raw)
			if a.Name == "iommu" && a.Value == "pt" {
				pt = true
			}
			if strings.Contains(a.Value, "off") {
				return nil
			}
		}
	}
	units, _ := os.ReadDir(in.Root.Sys("class/iommu"))
	if len(units) == 0 {
		if slices.ContainsFunc(asked, func(s string) bool { return s == "intel_iommu=on" || s == "amd_iommu=on" }) {
			return []Finding{{
				Severity: Warning, Object: "iommu",
				Message:  fmt.Sprintf("the kernel was booted with %s but no IOMMU is active", strings.Join(asked, " ")),
				Evidence: "/sys/class/iommu is empty or missing",
				Remedy:   "enable VT-d (Intel) or AMD-Vi/IOMMU in the firmware setup; check dmesg for DMAR or AMD-Vi messages",
			}}
		}
		return nil
	}
	if pt {
		return nil
	}
	var translated []string
	for _, nic := range in.Topo.NICs {
		if nic.PCI == "" {
			continue
		}
		t, err := in.Root.ReadString(in.Root.Sys("bus/pci/devices", nic.PCI, "iommu_group/type"))
		if err != nil {
			continue
		}
		if t = strings.TrimSpace(t); t == "DMA" || t == "DMA-FQ" {
			translated = append(translated, fmt.Sprintf("%s (%s): %s", nic.Name, nic.PCI, t))
		}
	}
	if len(translated) == 0 {
		return nil
	}
	var unitNames []string
	for _, u := range units {
		unitNames = append(unitNames, u.Name())
	}
	return []Finding{{
		Severity: Warning, Object: "iommu",
		Message:  "the IOMMU translates the DMA of kernel-driven NICs: every mapping goes through its page tables and IOTLB, which costs packet rate",
		Evidence: fmt.Sprintf("/sys/class/iommu: %s; iommu_group/type: %s", strings.Join(unitNames, " "), strings.Join(translated, "; ")),
		Remedy:   "add iommu=pt to spec.cpu.kernelArgs (passthrough for kernel drivers; vfio-pci keeps its isolation) and reboot",
	}}
}
