package diagnose

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
)

// NAPI rules (Documentation/networking/napi.rst): the software IRQ
// coalescing pair napi_defer_hard_irqs / gro_flush_timeout, and threaded
// NAPI's kernel threads.

// napiSpecIndex returns the spec.nics index that tunes name, or -1.
func napiSpecIndex(in *Input, name string) int {
	if i, ok := nicSpec(in, name); ok {
		return i
	}
	return -1
}

// ruleNAPIDeferNoTimer: napi_defer_hard_irqs counts empty polls during
// which NAPI re-arms its timer instead of the device IRQ; the timer's delay
// is gro_flush_timeout, and with it at 0 napi_complete_done arms nothing
// and re-enables the IRQ at once: the deferral does nothing.
func ruleNAPIDeferNoTimer(in *Input) []Finding {
	entries, err := os.ReadDir(in.Root.Sys("class/net"))
	if err != nil {
		return nil
	}
	var out []Finding
	for _, e := range entries {
		name := e.Name()
		if name == "lo" || e.Type().IsRegular() {
			continue
		}
		d, err1 := in.Root.ReadString(in.Root.Sys("class/net", name, "napi_defer_hard_irqs"))
		g, err2 := in.Root.ReadString(in.Root.Sys("class/net", name, "gro_flush_timeout"))
		if err1 != nil || err2 != nil {
			continue
		}
		defer_, err1 := strconv.ParseUint(strings.TrimSpace(d), 10, 64)
		timeout, err2 := strconv.ParseUint(strings.TrimSpace(g), 10, 64)
		if err1 != nil || err2 != nil || defer_ == 0 || timeout != 0 {
			continue
		}
		remedy := fmt.Sprintf("set spec.nics[].groFlushTimeout for %s (e.g. 20us; echo 20000 > /sys/class/net/%s/gro_flush_timeout), or napiDeferHardIrqs: 0 if deferral is not wanted", name, name)
		if i := napiSpecIndex(in, name); i >= 0 && in.Spec.NICs[i].NAPIDeferHardIrqs != nil {
			remedy = fmt.Sprintf("spec.nics[%d] sets napiDeferHardIrqs: %d; add groFlushTimeout (e.g. 20us) to the same entry, or drop napiDeferHardIrqs", i, *in.Spec.NICs[i].NAPIDeferHardIrqs)
		}
		out = append(out, Finding{
			Severity: Warning, Object: name,
			Message:  fmt.Sprintf("%s defers hard IRQs for %d empty polls, but gro_flush_timeout is 0: without the timer NAPI re-enables the IRQ at once, and the deferral has no effect", name, defer_),
			Evidence: fmt.Sprintf("/sys/class/net/%s/napi_defer_hard_irqs: %d; gro_flush_timeout: 0", name, defer_),
			Remedy:   remedy,
		})
	}
	return out
}

// CPUsAllowed reads the Cpus_allowed_list line of /proc/<pid>/status.
func CPUsAllowed(status string) (cpuset.Set, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == "Cpus_allowed_list" {
			return cpuset.Parse(strings.TrimSpace(v))
		}
	}
	return cpuset.Set{}, fmt.Errorf("no Cpus_allowed_list line")
}

// ruleNAPIThreadIsolated: the kernel threads of threaded NAPI
// (napi/<if>-<id>) may run on isolated CPUs, where they take the CPU from
// the isolated workload whenever packets arrive; napi.rst recommends
// pinning each to the CPU that services its IRQ.
func ruleNAPIThreadIsolated(in *Input) []Finding {
	iso := isolated(in)
	if iso.IsEmpty() {
		return nil
	}
	entries, err := os.ReadDir(in.Root.Proc())
	if err != nil {
		return nil
	}
	type thread struct {
		comm, pid string
		on        cpuset.Set
	}
	byIf := map[string][]thread{}
	for _, e := range entries {
		pid := e.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		comm, err := in.Root.ReadString(in.Root.Proc(pid, "comm"))
		if err != nil || !strings.HasPrefix(comm, "napi/") {
			continue
		}
		status, err := in.Root.ReadString(in.Root.Proc(pid, "status"))
		if err != nil {
			continue
		}
		allowed, err := CPUsAllowed(status)
		if err != nil {
			continue
		}
		if on := allowed.Intersect(iso); !on.IsEmpty() {
			ifname := strings.TrimPrefix(comm, "napi/")
			if i := strings.LastIndexByte(ifname, '-'); i > 0 {
				ifname = ifname[:i]
			}
			byIf[ifname] = append(byIf[ifname], thread{comm, pid, on})
		}
	}
	names := make([]string, 0, len(byIf))
	for n := range byIf {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Finding
	for _, n := range names {
		ts := byIf[n]
		sort.Slice(ts, func(i, j int) bool { return ts[i].comm < ts[j].comm })
		var ev []string
		var all cpuset.Set
		for _, t := range ts {
			ev = append(ev, fmt.Sprintf("%s (pid %s): may run on isolated CPUs %s", t.comm, t.pid, t.on))
			all = all.Union(t.on)
		}
		out = append(out, Finding{
			Severity: Warning, Object: n,
			Message:  fmt.Sprintf("%d threaded NAPI thread(s) of %s may run on isolated CPUs %s", len(ts), n, all),
			Evidence: strings.Join(ev, "; "),
			Remedy:   fmt.Sprintf("pin each napi/%s-* thread to the housekeeping CPU that services its queue's IRQ (taskset -pc CPU PID; napi.rst recommends the IRQ's CPU), or turn threaded NAPI off (spec.nics[].threadedNapi: false)", n),
		})
	}
	return out
}
