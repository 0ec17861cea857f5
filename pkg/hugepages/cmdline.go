package hugepages

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/bootloader"
	"github.com/nettune/nettune/pkg/profile"
)

// Names are the kernel parameters spec.hugepages owns. They are owned as a
// group: hugepages= applies to the hugepagesz= before it, so nettune
// rewrites the whole sequence when the profile reserves anything at boot
// or sets the default size.
var Names = []string{"default_hugepagesz", "hugepagesz", "hugepages"}

// BootArgs returns the boot arguments for spec.hugepages in canonical
// order: default_hugepagesz= first, then one hugepagesz=/hugepages= pair
// per size reserved at boot, smallest size first. A pool without a node
// is a total the kernel spreads over the nodes; pools with nodes use the
// per-node form hugepages=0:N,1:M (Linux 5.16 and later).
func BootArgs(h *profile.Hugepages) []string {
	var args []string
	if h.DefaultSize != 0 {
		args = append(args, "default_hugepagesz="+h.DefaultSize.String())
	}
	bySize := map[profile.Size][]profile.HugepagePool{}
	for _, p := range h.Pages {
		if p.Boot {
			bySize[p.Size] = append(bySize[p.Size], p)
		}
	}
	sizes := slices.Sorted(maps.Keys(bySize))
	for _, s := range sizes {
		args = append(args, "hugepagesz="+s.String(), "hugepages="+bootCount(bySize[s]))
	}
	return args
}

// bootCount is the value of hugepages= for the pools of one size.
func bootCount(pools []profile.HugepagePool) string {
	if len(pools) == 1 && pools[0].Node == nil {
		return strconv.Itoa(pools[0].Count)
	}
	sort.Slice(pools, func(i, j int) bool { return *pools[i].Node < *pools[j].Node })
	var parts []string
	for _, p := range pools {
		parts = append(parts, fmt.Sprintf("%d:%d", *p.Node, p.Count))
	}
	return strings.Join(parts, ",")
}

// bootState is what a sequence of hugepage arguments means to the kernel:
// the default size and, per page size in kB, the reservation (a total or
// "node:count,..." sorted by node).
type bootState struct {
	defaultKB uint64
	pools     map[uint64]string
}

// parseBoot interprets hugepage arguments the way the kernel does:
// hugepages= reserves pages of the size named by the last hugepagesz=
// before it, or of the default size when none precedes it.
func parseBoot(args []string, defaultKB uint64) bootState {
	st := bootState{pools: map[uint64]string{}}
	for _, raw := range args {
		a := bootloader.ParseArg(raw)
		if a.Name == "default_hugepagesz" {
			if s, err := profile.ParseSize(a.Value); err == nil {
				st.defaultKB = s.KB()
			}
		}
	}
	cur := st.defaultKB
	if cur == 0 {
		cur = defaultKB
	}
	for _, raw := range args {
		a := bootloader.ParseArg(raw)
		switch a.Name {
		case "hugepagesz":
			if s, err := profile.ParseSize(a.Value); err == nil {
				cur = s.KB()
			}
		case "hugepages":
			st.pools[cur] = normalizeCount(a.Value)
		}
	}
	return st
}

// normalizeCount sorts the per-node form by node.
func normalizeCount(v string) string {
	if !strings.Contains(v, ":") {
		return v
	}
	parts := strings.Split(v, ",")
	sort.Slice(parts, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.SplitN(parts[i], ":", 2)[0])
		b, _ := strconv.Atoi(strings.SplitN(parts[j], ":", 2)[0])
		return a < b
	})
	return strings.Join(parts, ",")
}

// equalBoot compares two argument sequences by what the kernel makes of
// them, so a differently ordered but equivalent line is not rewritten (a
// rewrite costs a reboot). The default page size of x86 (2M) stands for
// the one a kernel picks without default_hugepagesz=.
func equalBoot(a, b []string) bool {
	const x86Default = 2048
	sa, sb := parseBoot(a, x86Default), parseBoot(b, x86Default)
	return sa.defaultKB == sb.defaultKB && maps.Equal(sa.pools, sb.pools)
}

// BootPool is one reservation a kernel command line asks for: a total
// (Node -1) or one node's count, of one page size.
type BootPool struct {
	SizeKB uint64
	Node   int
	Count  int
}

// BootPools returns the reservations of a command line's hugepage
// arguments, as the kernel reads them (see parseBoot); defaultKB is the
// page size a hugepages= without hugepagesz= before it reserves when there
// is no default_hugepagesz=. Counts that do not parse are left out.
func BootPools(args []string, defaultKB uint64) []BootPool {
	st := parseBoot(args, defaultKB)
	var out []BootPool
	for _, kb := range slices.Sorted(maps.Keys(st.pools)) {
		v := st.pools[kb]
		if !strings.Contains(v, ":") {
			if n, err := strconv.Atoi(v); err == nil {
				out = append(out, BootPool{kb, -1, n})
			}
			continue
		}
		for _, part := range strings.Split(v, ",") {
			node, count, _ := strings.Cut(part, ":")
			nd, err1 := strconv.Atoi(node)
			n, err2 := strconv.Atoi(count)
			if err1 == nil && err2 == nil {
				out = append(out, BootPool{kb, nd, n})
			}
		}
	}
	return out
}
