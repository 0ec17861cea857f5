// Package hugepages is the nettune module behind spec.hugepages: hugepage
// pools per page size and NUMA node reserved at runtime with read-back (and
// a diagnosis with the boot parameters when the kernel gives fewer pages),
// pools reserved at boot through the kernel command line (pkg/bootloader,
// shared with spec.cpu), hugetlbfs mount points persisted in /etc/fstab and
// mounted live, and the transparent hugepage mode.
//
// Page sizes are checked against what the CPU can map (pdpe1gb for 1G on
// x86) and what the kernel offers (/sys/kernel/mm/hugepages). A pool is
// never shrunk below the pages programs have mapped.
package hugepages

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/bootloader"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Module implements module.Module for spec.hugepages.
type Module struct{}

// Name implements module.Module.
func (Module) Name() string { return "hugepages" }

// Configured implements module.Module.
func (Module) Configured(s *profile.Spec) bool { return s.Hugepages != nil }

// Plan implements module.Module.
func (m Module) Plan(ctx context.Context, env *module.Env, spec *profile.Spec) (*module.Result, error) {
	r := env.Root
	h := spec.Hugepages
	res := &module.Result{}
	topo, err := numa.ReadOnce(ctx, r)
	if err != nil {
		return nil, err
	}
	numaSysfs := len(topo.Nodes) > 0 && isDir(r.Sys("devices/system/node", fmt.Sprintf("node%d", topo.Nodes[0].ID)))
	res.Problems = append(res.Problems, validate(r, h, topo, numaSysfs)...)
	if hasErrors(res.Problems) {
		return res, nil
	}

	// Boot arguments.
	boot := h.DefaultSize != 0
	for _, p := range h.Pages {
		boot = boot || p.Boot
	}
	if boot {
		args := BootArgs(h)
		b, err := bootloader.Plan(r, bootloader.Request{Module: m.Name(), Names: Names, Args: args, Equal: equalBoot,
			Reason: "spec.hugepages: pages reserved at boot, default page size"})
		if err != nil {
			return nil, err
		}
		res.Problems = append(res.Problems, b.Problems...)
		res.Problems = append(res.Problems, replacedBootPools(b.Configured, args)...)
		if b.Item != nil {
			res.Items = append(res.Items, *b.Item)
			if b.Item.Status == plan.OK {
				items, problems := bootEffective(r, h, topo, numaSysfs)
				res.Items = append(res.Items, items...)
				res.Problems = append(res.Problems, problems...)
			}
		}
	}

	// Runtime pools.
	sizes := map[uint64]profile.Size{}
	for _, p := range h.Pages {
		sizes[p.Size.KB()] = p.Size
	}
	ts := targets(h, topo, numaSysfs)
	items, problems := poolItems(r, ts, sizes)
	res.Items = append(res.Items, items...)
	res.Problems = append(res.Problems, problems...)
	res.Problems = append(res.Problems, memoryWarnings(topo, ts, items, sizes)...)

	if h.Transparent != "" {
		it, problems := thpItem(r, h.Transparent)
		res.Problems = append(res.Problems, problems...)
		if it != nil {
			res.Items = append(res.Items, *it)
		}
	}

	if len(h.Mounts) > 0 {
		b, err := os.ReadFile(r.Path(fstabPath))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", fstabPath, err)
		}
		defKB := topo.DefaultHugepageKB
		if h.DefaultSize != 0 {
			defKB = h.DefaultSize.KB()
		}
		for _, mt := range h.Mounts {
			w := resolveMount(mt, defKB)
			items, problems := mountItems(r, w, topo.DefaultHugepageKB, string(b), err == nil)
			res.Items = append(res.Items, items...)
			res.Problems = append(res.Problems, problems...)
		}
	}
	return res, nil
}

func resolveMount(m profile.HugetlbfsMount, defaultKB uint64) wantMount {
	o := mountOpts{pageKB: defaultKB, mode: 0o755}
	if m.PageSize != 0 {
		o.pageKB = m.PageSize.KB()
	}
	if m.Mode != "" {
		v, _ := strconv.ParseUint(m.Mode, 8, 32)
		o.mode = uint32(v)
	}
	if m.UID != nil {
		o.uid = *m.UID
	}
	if m.GID != nil {
		o.gid = *m.GID
	}
	return wantMount{spec: m, opts: o, options: o.options(m)}
}

func hasErrors(ps []plan.Problem) bool {
	for _, p := range ps {
		if p.Severity == plan.Error {
			return true
		}
	}
	return false
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// validate checks the profile against the host: page sizes the CPU and
// kernel support, nodes that exist and have memory, one kind of pool per
// size.
func validate(r *host.Root, h *profile.Hugepages, topo *numa.Topology, numaSysfs bool) []plan.Problem {
	var out []plan.Problem
	fail := func(obj, remedy, format string, args ...any) {
		out = append(out, plan.Problem{Severity: plan.Error, Module: "hugepages", Object: obj, Message: fmt.Sprintf(format, args...), Remedy: remedy})
	}
	var offered []string
	for _, kb := range topo.HugepageSizesKB {
		offered = append(offered, (profile.Size(kb) * profile.KiB).String())
	}
	checkSize := func(obj string, s profile.Size) bool {
		if topo.HasHugepageSize(s.KB()) {
			return true
		}
		if s == profile.GiB && !topo.CPUInfo.GiganticPages() && topo.CPUInfo.Vendor != "" {
			fail(obj, "use 2M pages", "this CPU cannot map 1G pages (no pdpe1gb flag in /proc/cpuinfo)")
		} else {
			fail(obj, "use one of the offered sizes", "the kernel offers no %s pages (it offers %s)", s, strings.Join(offered, ", "))
		}
		return false
	}
	if h.DefaultSize != 0 {
		checkSize("defaultSize", h.DefaultSize)
	}
	kind := map[uint64]string{} // size -> "boot", "runtime total", "runtime per node"
	for i, p := range h.Pages {
		obj := fmt.Sprintf("pages[%d]", i)
		if !checkSize(obj, p.Size) {
			continue
		}
		k := "at runtime"
		if p.Boot {
			k = "at boot"
		}
		if p.Node == nil {
			k += " as a total"
		} else {
			k += " per node"
		}
		if prev, ok := kind[p.Size.KB()]; ok && prev != k {
			fail(obj, "give each page size either one total or per-node counts, all at boot or all at runtime",
				"%s pages are reserved %s here and %s in another entry", p.Size, k, prev)
		}
		kind[p.Size.KB()] = k
		if p.Node == nil {
			continue
		}
		n, ok := topo.Node(*p.Node)
		switch {
		case !ok:
			fail(obj, "use a node of this host (nettune topology)", "node %d does not exist (nodes: %s)", *p.Node, nodeList(topo))
		case n.MemoryKB == 0:
			fail(obj, "reserve the pages on a node with memory", "node %d has no memory", *p.Node)
		case numaSysfs && !p.Boot && !isDir(r.Sys("devices/system/node", fmt.Sprintf("node%d", n.ID), "hugepages", fmt.Sprintf("hugepages-%dkB", p.Size.KB()))):
			fail(obj, "", "node %d has no %s pool in sysfs", n.ID, p.Size)
		}
		if p.Boot && kernelBefore(r, 5, 16) {
			out = append(out, plan.Problem{Severity: plan.Warning, Module: "hugepages", Object: obj,
				Message: "the running kernel may not know the per-node form hugepages=N:COUNT (Linux 5.16): it would reserve nothing at boot",
				Remedy:  "check the kernel you boot, or give a total without node"})
		}
	}
	paths := map[string]int{}
	for i, mt := range h.Mounts {
		obj := fmt.Sprintf("mounts[%d]", i)
		if mt.PageSize != 0 {
			checkSize(obj, mt.PageSize)
		}
		// One path, one mount: two entries would replace each other on
		// every apply and never be ok.
		p := filepath.Clean(mt.Path)
		if j, ok := paths[p]; ok {
			fail(obj, "keep one entry per mount point; use another path for the other page size",
				"%s is already mounts[%d]: a path can hold one hugetlbfs mount", mt.Path, j)
			continue
		}
		paths[p] = i
	}
	out = append(out, beyondMemory(h, topo)...)
	return out
}

// beyondMemory refuses a pool larger than the memory it comes from
// (MemTotal of its node, or of the host for a total): the kernel would
// reserve what it can at runtime and could leave nothing to boot with.
func beyondMemory(h *profile.Hugepages, topo *numa.Topology) []plan.Problem {
	var out []plan.Problem
	var hostKB uint64
	for _, n := range topo.Nodes {
		hostKB += n.MemoryKB
	}
	for i, p := range h.Pages {
		memKB, where := hostKB, "the host"
		if p.Node != nil {
			n, ok := topo.Node(*p.Node)
			if !ok {
				continue // reported above
			}
			memKB, where = n.MemoryKB, fmt.Sprintf("node %d", n.ID)
		}
		if memKB == 0 || p.Count <= 0 || p.Size.KB() == 0 {
			continue
		}
		if uint64(p.Count) > memKB/p.Size.KB() {
			out = append(out, plan.Problem{Severity: plan.Error, Module: "hugepages", Object: fmt.Sprintf("pages[%d]", i),
				Message: fmt.Sprintf("%d %s pages need %.1f GiB, more than the %.1f GiB of memory %s has (MemTotal)",
					p.Count, p.Size, float64(p.Count)*float64(p.Size.KB())/(1<<20), float64(memKB)/(1<<20), where),
				Remedy: fmt.Sprintf("reserve at most %d %s pages there, and leave memory for the system", memKB/p.Size.KB(), p.Size)})
		}
	}
	return out
}

func nodeList(topo *numa.Topology) string {
	var ids []int
	for _, n := range topo.Nodes {
		ids = append(ids, n.ID)
	}
	return joinInts(ids)
}

// kernelBefore reports whether the running kernel (osrelease) is older
// than major.minor.
func kernelBefore(r *host.Root, major, minor int) bool {
	rel, err := r.ReadString(r.Proc("sys/kernel/osrelease"))
	if err != nil {
		return false
	}
	var a, b int
	if _, err := fmt.Sscanf(rel, "%d.%d", &a, &b); err != nil {
		return false
	}
	return a < major || (a == major && b < minor)
}

// replacedBootPools warns when the boot configuration reserves pages the
// profile does not mention: the hugepage arguments are owned as a group.
func replacedBootPools(configured, want []string) []plan.Problem {
	have, desired := parseBoot(configured, 0), parseBoot(want, 0)
	var lost []string
	for kb, v := range have.pools {
		if _, ok := desired.pools[kb]; !ok {
			lost = append(lost, fmt.Sprintf("%s pages (hugepages=%s)", profile.Size(kb)*profile.KiB, v))
		}
	}
	if len(lost) == 0 {
		return nil
	}
	slices.Sort(lost)
	return []plan.Problem{{Severity: plan.Warning, Module: "hugepages", Object: bootloader.Object,
		Message: fmt.Sprintf("the boot configuration reserves %s, which the profile does not: nettune manages the hugepage boot arguments as one group and drops them", strings.Join(lost, ", ")),
		Remedy:  "add them to spec.hugepages.pages with boot: true to keep them"}}
}

// bootEffective compares what the running kernel reserved with what it
// was booted with.
// A shortfall is check-only drift: apply cannot reserve what the kernel
// could not place at boot.
func bootEffective(r *host.Root, h *profile.Hugepages, topo *numa.Topology, numaSysfs bool) ([]plan.Item, []plan.Problem) {
	var out []plan.Problem
	var items []plan.Item
	if h.DefaultSize != 0 && topo.DefaultHugepageKB != 0 && topo.DefaultHugepageKB != h.DefaultSize.KB() {
		out = append(out, plan.Problem{Severity: plan.Warning, Module: "hugepages", Object: "defaultSize",
			Message: fmt.Sprintf("booted with default_hugepagesz=%s but the default page size is %s (Hugepagesize in /proc/meminfo)", h.DefaultSize, profile.Size(topo.DefaultHugepageKB)*profile.KiB)})
	}
	for _, p := range h.Pages {
		if !p.Boot {
			continue
		}
		if p.Node != nil && !numaSysfs {
			continue
		}
		t := target{sizeKB: p.Size.KB(), node: -1}
		if p.Node != nil {
			t.node = *p.Node
		}
		got := readInt(filepath.Join(t.dir(r), attrPages))
		if got < p.Count {
			items = append(items, plan.Ignored("hugepages", t.object(), "boot-reserved", strconv.Itoa(got), strconv.Itoa(p.Count),
				fmt.Sprintf("booted to reserve %d %s pages but the kernel holds %d (memory was short at boot, or they were released since): apply cannot change that; check dmesg for HugeTLB messages, then reboot with more free memory or lower the count", p.Count, p.Size, got)))
		}
	}
	return items, out
}

// memoryWarnings says when a node has less free memory than the pages it
// is asked to add, and that runtime 1G pages are unreliable.
func memoryWarnings(topo *numa.Topology, ts []target, items []plan.Item, sizes map[uint64]profile.Size) []plan.Problem {
	var out []plan.Problem
	need := map[int]uint64{}
	gig := false
	for _, t := range ts {
		for _, it := range items {
			if it.Object != t.object() || it.Status != plan.Drift {
				continue
			}
			cur, _ := strconv.Atoi(strings.TrimSpace(it.Before))
			if t.count > cur {
				need[t.node] += uint64(t.count-cur) * t.sizeKB
				gig = gig || t.sizeKB >= 1<<20
			}
		}
	}
	for node, kb := range need {
		n, ok := topo.Node(node)
		if !ok || node < 0 {
			if len(topo.Nodes) == 0 {
				continue
			}
			n = topo.Nodes[0]
		}
		if n.FreeKB != 0 && kb > n.FreeKB {
			out = append(out, plan.Problem{Severity: plan.Warning, Module: "hugepages", Object: fmt.Sprintf("node%d", n.ID),
				Message: fmt.Sprintf("the new pages need %.1f GiB on node %d, which has %.1f GiB free: the kernel will likely reserve fewer", float64(kb)/(1<<20), n.ID, float64(n.FreeKB)/(1<<20)),
				Remedy:  "reserve fewer pages, or reserve them at boot"})
		}
	}
	slices.SortFunc(out, func(a, b plan.Problem) int { return strings.Compare(a.Object, b.Object) })
	if gig {
		out = append(out, plan.Problem{Severity: plan.Warning, Module: "hugepages", Object: "pages",
			Message: "1G pages reserved at runtime need 1 GiB of contiguous free memory each, which a running system rarely has",
			Remedy:  "reserve them at boot (boot: true) if apply reports a shortfall"})
	}
	return out
}

// Apply implements module.Module.
func (m Module) Apply(ctx context.Context, env *module.Env, c plan.Change) error {
	r := env.Root
	switch {
	case c.Object == bootloader.Object:
		return bootloader.Apply(ctx, env, c)
	case c.Attribute == attrPages:
		return writePool(env, c, c.After, true)
	case c.Object == thpObject:
		return writeTHP(r, c.After)
	case c.Attribute == attrDir:
		return r.W.Mkdir(r.Path(c.Path), 0o755)
	case c.Attribute == attrFstab:
		return writeFstab(r, c, c.After, c.Action == plan.Create)
	case c.Attribute == attrMount:
		return applyMount(ctx, env, c.Object, c.Before, c.After)
	}
	return fmt.Errorf("unknown hugepages change %s %s in journal", c.Object, c.Attribute)
}

// Revert implements module.Module.
func (m Module) Revert(ctx context.Context, env *module.Env, c plan.Change) error {
	r := env.Root
	switch {
	case c.Object == bootloader.Object:
		return bootloader.Revert(ctx, env, c)
	case c.Attribute == attrPages:
		return writePool(env, c, c.Before, false)
	case c.Object == thpObject:
		if c.Before == "" {
			return nil
		}
		return writeTHP(r, c.Before)
	case c.Attribute == attrDir:
		return removeDir(r, c.Path)
	case c.Attribute == attrFstab:
		return writeFstab(r, c, c.Before, c.Action == plan.Create)
	case c.Attribute == attrMount:
		return applyMount(ctx, env, c.Object, c.After, c.Before)
	}
	return fmt.Errorf("unknown hugepages change %s %s in journal", c.Object, c.Attribute)
}
