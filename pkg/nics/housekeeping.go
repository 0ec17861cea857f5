package nics

import (
	"slices"
	"strings"

	"github.com/nettune/nettune/pkg/bootloader"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/isolcpu"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

// rpsExcluded returns the CPUs the kernel drops from rps_cpus masks and a
// phrase saying why. Since 5.9 store_rps_map ANDs the mask with the
// housekeeping CPUs of HK_TYPE_DOMAIN (isolcpus= without flags or with
// "domain") and HK_TYPE_WQ (nohz_full=), and refuses a mask left empty
// (EINVAL). The running kernel tells through
// /sys/devices/system/cpu/isolated (the non-DOMAIN CPUs) and nohz_full,
// with /proc/cmdline for roots that lack those files; spec.cpu says what
// the next boot isolates, so that a plan made before that reboot does not
// plan a mask that will not hold after it.
func rpsExcluded(r *host.Root, t *numa.Topology, c *profile.CPU) (cpuset.Set, string) {
	now := t.Isolated.Union(t.NohzFull)
	if line, err := r.ReadString(r.Proc("cmdline")); err == nil {
		now = now.Union(cmdlineNonHousekeeping(line, t.NohzFullSupported))
	}
	var boot cpuset.Set
	if c != nil && !c.Isolated.IsEmpty() {
		iso := isolcpu.Resolve(c, t.Online)
		if len(iso.Flags) == 0 || slices.Contains(iso.Flags, "domain") || iso.NohzFull {
			boot = iso.Isolated
		}
	}
	var why []string
	if !now.IsEmpty() {
		why = append(why, "isolated or nohz_full in the running kernel ("+now.String()+")")
	}
	if b := boot.Difference(now); !b.IsEmpty() {
		why = append(why, "isolated by spec.cpu from the next boot ("+b.String()+")")
	}
	return now.Union(boot), strings.Join(why, " and ")
}

// cmdlineNonHousekeeping reads isolcpus= and nohz_full= from a kernel
// command line: the CPUs they take out of HK_TYPE_DOMAIN and HK_TYPE_WQ.
// isolcpus= takes the domain CPUs only without flags or with "domain";
// nohz_full= counts only when the kernel has NO_HZ_FULL.
func cmdlineNonHousekeeping(line string, nohzFull bool) cpuset.Set {
	var out cpuset.Set
	for _, a := range bootloader.ParseLine(line).Kernel() {
		switch a.Name {
		case "isolcpus":
			v, domain, flagged := a.Value, false, false
			for {
				f, rest, ok := strings.Cut(v, ",")
				if !ok || !slices.Contains([]string{"nohz", "domain", "managed_irq"}, f) {
					break
				}
				flagged = true
				domain = domain || f == "domain"
				v = rest
			}
			if s, err := cpuset.Parse(v); err == nil && (!flagged || domain) {
				out = out.Union(s)
			}
		case "nohz_full":
			if s, err := cpuset.Parse(a.Value); err == nil && nohzFull {
				out = out.Union(s)
			}
		}
	}
	return out
}
