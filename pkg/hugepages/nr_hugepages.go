package hugepages

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

const attrPages = "nr_hugepages"

// ErrInUse is returned when a pool would shrink by more pages than are
// free: the pages are mapped by a running program.
var ErrInUse = errors.New("hugepages in use")

// ErrShortfall is returned when the kernel reserves fewer pages than
// asked (memory too small or too fragmented). It wraps module.ErrVerify.
var ErrShortfall = fmt.Errorf("the kernel reserved fewer hugepages than asked: %w", module.ErrVerify)

// target is one runtime pool: a page size on a node (node -1: a kernel
// without NUMA, the global pool).
type target struct {
	sizeKB uint64
	node   int
	count  int
	// index is the entry of spec.hugepages.pages it comes from.
	index  int
	reason string
}

func (t target) object() string {
	if t.node < 0 {
		return fmt.Sprintf("hugepages-%dkB", t.sizeKB)
	}
	return fmt.Sprintf("node%d/hugepages-%dkB", t.node, t.sizeKB)
}

// dir is the sysfs directory of the pool.
func (t target) dir(r *host.Root) string {
	if t.node < 0 {
		return r.Sys("kernel/mm/hugepages", fmt.Sprintf("hugepages-%dkB", t.sizeKB))
	}
	return r.Sys("devices/system/node", fmt.Sprintf("node%d", t.node), "hugepages", fmt.Sprintf("hugepages-%dkB", t.sizeKB))
}

// targets resolves the runtime pools of a profile: a count with a node is
// that node's pool; a count without one is a total, split evenly over the
// nodes that have memory, the remainder going to the lowest nodes — never
// that count on every node.
func targets(h *profile.Hugepages, topo *numa.Topology, numaSysfs bool) []target {
	var out []target
	nodes := topo.NodesWithMemory()
	for i, p := range h.Pages {
		if p.Boot {
			continue
		}
		kb := p.Size.KB()
		switch {
		case !numaSysfs:
			out = append(out, target{kb, -1, p.Count, i, fmt.Sprintf("spec.hugepages.pages[%d]: %d %s pages", i, p.Count, p.Size)})
		case p.Node != nil:
			out = append(out, target{kb, *p.Node, p.Count, i, fmt.Sprintf("spec.hugepages.pages[%d]: %d %s pages on node %d", i, p.Count, p.Size, *p.Node)})
		default:
			n := len(nodes)
			if n == 0 {
				continue
			}
			base, rem := p.Count/n, p.Count%n
			var split []string
			for j, node := range nodes {
				c := base
				if j < rem {
					c++
				}
				split = append(split, strconv.Itoa(c))
				out = append(out, target{kb, node, c, i, ""})
			}
			reason := fmt.Sprintf("spec.hugepages.pages[%d]: %d %s pages split over nodes %s: %s", i, p.Count, p.Size, joinInts(nodes), strings.Join(split, " + "))
			if n == 1 {
				reason = fmt.Sprintf("spec.hugepages.pages[%d]: %d %s pages on node %d, the only node with memory", i, p.Count, p.Size, nodes[0])
			}
			if rem > 0 {
				reason += fmt.Sprintf(" (the remainder, %d, on the lowest node%s)", rem, plural(rem))
			}
			for k := len(out) - n; k < len(out); k++ {
				out[k].reason = reason
			}
		}
	}
	return out
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// poolItems returns the runtime pool items, shrinking ones first (they
// free memory the growing ones may need), then growing ones from the
// largest page size down (1G pages need contiguous memory that 2M
// allocations fragment).
func poolItems(r *host.Root, ts []target, sizes map[uint64]profile.Size) ([]plan.Item, []plan.Problem) {
	var items []plan.Item
	var problems []plan.Problem
	type ordered struct {
		it     plan.Item
		shrink bool
		sizeKB uint64
	}
	var all []ordered
	for _, t := range ts {
		p := filepath.Join(t.dir(r), attrPages)
		raw, err := r.ReadString(p)
		if err != nil {
			problems = append(problems, plan.Problem{Severity: plan.Error, Module: "hugepages", Object: t.object(),
				Message: fmt.Sprintf("read %s: %v", r.HostPath(p), err)})
			continue
		}
		st := readPool(r, t.dir(r), t.sizeKB)
		cur := st.persistent()
		if _, err := strconv.Atoi(strings.TrimSpace(raw)); err != nil {
			problems = append(problems, plan.Problem{Severity: plan.Error, Module: "hugepages", Object: t.object(),
				Message: fmt.Sprintf("%s: %q is not a page count", r.HostPath(p), raw)})
			continue
		}
		it := plan.Item{Change: plan.Change{
			Module: "hugepages", Object: t.object(), Attribute: attrPages, Action: plan.Set,
			Before: strconv.Itoa(cur), After: strconv.Itoa(t.count), When: plan.Live, Path: r.HostPath(p), Reason: t.reason,
			Command: fmt.Sprintf("echo %d > %s", t.count, host.ShellQuote(p)), // p is under the root
		}, Status: plan.OK}
		if cur != t.count {
			it.Status = plan.Drift
		}
		if t.count < cur && cur-t.count > st.freeable() {
			problems = append(problems, inUseProblem(t, sizes[t.sizeKB], cur, st))
		}
		all = append(all, ordered{it, t.count < cur, t.sizeKB})
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].shrink != all[j].shrink {
			return all[i].shrink
		}
		return all[i].sizeKB > all[j].sizeKB
	})
	for _, o := range all {
		items = append(items, o.it)
	}
	return items, problems
}

func inUseProblem(t target, size profile.Size, cur int, st pool) plan.Problem {
	msg := fmt.Sprintf("refusing to shrink the %s pool from %d to %d pages: only %d are free, %d are in use by running programs (%v)",
		size, cur, t.count, st.free, cur-st.free, ErrInUse)
	if st.resv > 0 {
		msg = fmt.Sprintf("refusing to shrink the %s pool from %d to %d pages: %d are free but %d of them are reserved by running programs (resv_hugepages: mapped, not yet touched), and %d are in use: at most %d can go (%v)",
			size, cur, t.count, st.free, min(st.resv, st.free), cur-st.free, st.freeable(), ErrInUse)
	}
	return plan.Problem{Severity: plan.Error, Module: "hugepages", Object: t.object(), Message: msg,
		Remedy: "stop the programs that map them (grep -l huge /proc/*/numa_maps), then apply again"}
}

func readInt(p string) int {
	b, _ := os.ReadFile(p)
	v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return v
}

// pool is what the kernel counts for one pool directory (mm/hugetlb.c).
// nr_hugepages counts every page of the pool, surplus pages included: a
// pool shrunk below the pages programs use keeps those as surplus until
// they are unmapped. Reservations (pages mapped but not touched yet: still
// free, yet promised) are counted per page size only, in the global
// directory, and so are the global free pages they come out of.
type pool struct {
	total, free, surplus int
	resv, globalFree     int
}

// readPool reads the pool in dir, of page size kb.
func readPool(r *host.Root, dir string, kb uint64) pool {
	p := pool{
		total:   readInt(filepath.Join(dir, attrPages)),
		free:    readInt(filepath.Join(dir, "free_hugepages")),
		surplus: readInt(filepath.Join(dir, "surplus_hugepages")),
	}
	global := r.Sys("kernel/mm/hugepages", fmt.Sprintf("hugepages-%dkB", kb))
	p.resv, p.globalFree = readInt(filepath.Join(global, "resv_hugepages")), readInt(filepath.Join(global, "free_hugepages"))
	if dir == global || p.globalFree == 0 && p.resv == 0 {
		p.globalFree = p.free
	}
	return p
}

// persistent is the pool's size: what nettune sets, what a write of
// nr_hugepages asks for.
func (p pool) persistent() int { return p.total - p.surplus }

// freeable is how many pages the pool can give back without taking them
// from running programs: its free pages, but no page another program has
// reserved (the kernel keeps resv_hugepages + the pages in use, and turns
// what it cannot free into surplus).
func (p pool) freeable() int {
	return max(min(p.free, p.globalFree-p.resv), 0)
}

// poolOf returns the page size of an object such as
// "node1/hugepages-1048576kB" or "hugepages-2048kB".
func poolOf(object string) uint64 {
	_, name, _ := strings.Cut("/"+object, "/hugepages-")
	kb, _ := strconv.ParseUint(strings.TrimSuffix(name, "kB"), 10, 64)
	return kb
}

// writePool sets a pool and reads it back. When growing and the kernel
// gives fewer pages than asked, the error says how many it gave and
// offers the boot parameters that reserve them before memory fragments.
// A revert that shrinks below the pages programs still map succeeds: the
// kernel keeps those as surplus pages and frees them when the programs
// unmap them, which is all anyone can do; the log says so.
func writePool(env *module.Env, c plan.Change, value string, apply bool) error {
	r := env.Root
	p := r.Path(c.Path)
	dir, kb := filepath.Dir(p), poolOf(c.Object)
	want, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil {
		return fmt.Errorf("bad page count %q in journal: %w", value, err)
	}
	if apply {
		// The pool may have been taken into use since plan.
		st := readPool(r, dir, kb)
		if cur := st.persistent(); want < cur && cur-want > st.freeable() {
			free := strconv.Itoa(st.free)
			if st.resv > 0 {
				free += fmt.Sprintf(" (%d reserved by programs)", st.resv)
			}
			return fmt.Errorf("shrink %s from %d to %d pages: %s free, %d in use: %w", c.Object, cur, want, free, cur-st.free, ErrInUse)
		}
	}
	if err := r.W.WriteKernel(p, strconv.Itoa(want)); err != nil {
		return err
	}
	if _, err := r.ReadString(p); err != nil {
		return fmt.Errorf("read back %s: %w", c.Path, err)
	}
	st := readPool(r, dir, kb)
	n := st.persistent()
	if n == want {
		if !apply && st.surplus > 0 {
			env.Log.Warn(fmt.Sprintf("%s: the pool is back to %d pages, and %d pages are still mapped by running programs: the kernel keeps them as surplus pages (surplus_hugepages) and returns them to the system when the programs that map them exit", c.Object, want, st.surplus),
				"path", c.Path)
		}
		return nil
	}
	if apply && n < want {
		return fmt.Errorf("%s: asked for %d pages, the kernel reserved %d (%d short): memory is too small or too fragmented for runtime reservation; %s: %w",
			c.Object, want, n, want-n, bootRemedy(c.Object, want), ErrShortfall)
	}
	return fmt.Errorf("%s: wrote %d, reads back %d (nr_hugepages %d, surplus_hugepages %d): %w", c.Object, want, n, st.total, st.surplus, module.ErrVerify)
}

// bootRemedy names the boot parameters that reserve a pool, for the
// object "node1/hugepages-1048576kB" or "hugepages-2048kB".
func bootRemedy(object string, count int) string {
	node, pool, hasNode := strings.Cut(object, "/")
	if !hasNode {
		pool = node
	}
	kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(pool, "hugepages-"), "kB"), 10, 64)
	size := profile.Size(kb) * profile.KiB
	n := fmt.Sprint(count)
	if hasNode {
		n = strings.TrimPrefix(node, "node") + ":" + n
	}
	return fmt.Sprintf("reserve them at boot instead: hugepagesz=%s hugepages=%s on the kernel command line (boot: true on this pool in spec.hugepages.pages; defaultSize: %s adds default_hugepagesz=%s)", size, n, size, size)
}
