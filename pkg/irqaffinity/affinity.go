package irqaffinity

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/numa"
)

// ErrManaged is wrapped when the kernel refuses to move an IRQ because it
// manages its affinity itself (managed_irq, the write returns EIO). It is
// also module.ErrUnsupported: the change cannot be made on this host, and
// must never be reported as applied.
var ErrManaged error = managedError{}

type managedError struct{}

func (managedError) Error() string {
	return "the kernel manages this IRQ's affinity (the write returns EIO)"
}

// Is makes errors.Is(err, module.ErrUnsupported) and errors.Is(err,
// module.ErrSkipped) true for ErrManaged: the engine reports such a change
// as unsupported, not applied, and goes on.
func (managedError) Is(target error) bool {
	return target == module.ErrUnsupported || target == module.ErrSkipped
}

// ErrVerify is wrapped when an affinity does not read back as written.
var ErrVerify = errors.New("affinity does not read back as written")

// ListPath is the host path of an IRQ's smp_affinity_list.
func ListPath(irq int) string { return "/proc/irq/" + strconv.Itoa(irq) + "/smp_affinity_list" }

// EffectivePath is the host path of an IRQ's effective_affinity_list.
func EffectivePath(irq int) string {
	return "/proc/irq/" + strconv.Itoa(irq) + "/effective_affinity_list"
}

// DefaultAffinityPath is the mask given to IRQs requested from now on.
const DefaultAffinityPath = "/proc/irq/default_smp_affinity"

// Affinity is what the kernel reports for one IRQ.
type Affinity struct {
	// Raw is smp_affinity_list as read, without the newline.
	Raw       string     `json:"-"`
	Requested cpuset.Set `json:"requested"`
	// Effective is where the IRQ is delivered (a subset of Requested on
	// x86); empty when the kernel does not report it.
	Effective cpuset.Set `json:"effective"`
}

// Read reads an IRQ's requested and effective affinity.
func Read(r *host.Root, irq int) (Affinity, error) {
	raw, err := r.ReadString(r.Path(ListPath(irq)))
	eff, effErr := r.ReadString(r.Path(EffectivePath(irq)))
	return parseAffinity(irq, raw, err, eff, effErr)
}

// ReadMany is Read of many IRQs, the files read in parallel
// (host.Root.ReadStrings); the results are in the order of irqs.
func ReadMany(r *host.Root, irqs []int) ([]Affinity, []error) {
	paths := make([]string, 0, 2*len(irqs))
	for _, irq := range irqs {
		paths = append(paths, r.Path(ListPath(irq)), r.Path(EffectivePath(irq)))
	}
	reads := r.ReadStrings(paths)
	out, errs := make([]Affinity, len(irqs)), make([]error, len(irqs))
	for i, irq := range irqs {
		l, e := reads[2*i], reads[2*i+1]
		out[i], errs[i] = parseAffinity(irq, l.S, l.Err, e.S, e.Err)
	}
	return out, errs
}

// ReadRequested is ReadMany that reads an IRQ's effective_affinity_list
// only when effective says it is wanted, given the IRQ's index and its
// requested CPUs: a planner needs where an IRQ is delivered only for the
// ones already where it wants them (to tell a move still pending), and
// on a host with thousands of queue vectors each file is three system
// calls. Effective is empty for the others.
func ReadRequested(r *host.Root, irqs []int, effective func(i int, requested cpuset.Set) bool) ([]Affinity, []error) {
	paths := make([]string, len(irqs))
	for i, irq := range irqs {
		paths[i] = r.Path(ListPath(irq))
	}
	reads := r.ReadStrings(paths)
	out, errs := make([]Affinity, len(irqs)), make([]error, len(irqs))
	var more []int
	for i, irq := range irqs {
		l := reads[i]
		out[i], errs[i] = parseAffinity(irq, l.S, l.Err, "", os.ErrNotExist)
		if errs[i] == nil && effective(i, out[i].Requested) {
			more = append(more, i)
		}
	}
	paths = paths[:0]
	for _, i := range more {
		paths = append(paths, r.Path(EffectivePath(irqs[i])))
	}
	for k, e := range r.ReadStrings(paths) {
		if e.Err == nil {
			out[more[k]].Effective, _ = cpuset.Parse(e.S)
		}
	}
	return out, errs
}

// parseAffinity makes an Affinity of the two files of an IRQ (what
// ReadString returned for each): the requested list must read, the
// effective one is left empty when it does not (kernels before 4.15).
func parseAffinity(irq int, raw string, err error, eff string, effErr error) (Affinity, error) {
	if err != nil {
		return Affinity{}, fmt.Errorf("read affinity of IRQ %d: %w", irq, err)
	}
	a := Affinity{Raw: raw}
	if a.Requested, err = cpuset.Parse(raw); err != nil {
		return Affinity{}, fmt.Errorf("%s: %w", ListPath(irq), err)
	}
	if effErr == nil {
		a.Effective, _ = cpuset.Parse(eff)
	}
	return a, nil
}

// Write sets an IRQ's affinity to the CPU list value and reads it back:
// smp_affinity_list must read as written. An IRQ the kernel manages fails
// with ErrManaged. The returned Affinity carries effective_affinity_list as
// the kernel reports it right after the write; see Pending.
func Write(r *host.Root, irq int, value string) (Affinity, error) {
	want, err := cpuset.Parse(value)
	if err != nil {
		return Affinity{}, err
	}
	p := r.Path(ListPath(irq))
	if err := r.W.WriteKernel(p, value); err != nil {
		if errors.Is(err, syscall.EIO) {
			return Affinity{}, fmt.Errorf("IRQ %d: %w: %w", irq, ErrManaged, err)
		}
		return Affinity{}, err
	}
	got, err := Read(r, irq)
	if err != nil {
		return Affinity{}, fmt.Errorf("read back: %w", err)
	}
	if !got.Requested.Equal(want) {
		return got, fmt.Errorf("IRQ %d: wrote %q, smp_affinity_list reads %q: %w", irq, value, got.Raw, ErrVerify)
	}
	return got, nil
}

// Pending reports whether the kernel still delivers an IRQ outside its
// requested CPUs. On x86 without interrupt remapping the move happens when
// the IRQ next fires, so an idle IRQ keeps its old effective CPU for a
// while; this is reported, not treated as a refusal.
func (a Affinity) Pending() bool {
	return !a.Effective.IsEmpty() && !a.Effective.IsSubsetOf(a.Requested)
}

// Managed reports whether the kernel marks an IRQ's affinity as managed,
// when it says so: the IRQ's debugfs entry (GENERIC_IRQ_DEBUGFS, debugfs
// mounted) lists IRQD_AFFINITY_MANAGED. Without debugfs it reports false,
// and the write itself tells (ErrManaged).
func Managed(r *host.Root, irq int) bool {
	b, err := os.ReadFile(r.Sys("kernel/debug/irq/irqs", strconv.Itoa(irq)))
	return err == nil && strings.Contains(string(b), "AFFINITY_MANAGED")
}

// RoundRobin assigns each queue one CPU of cpus in turn, by queue number:
// queue i gets the (i mod n)-th CPU, so the rx and tx vectors of one queue
// pair share a CPU. Other vectors get nothing.
func RoundRobin(qs []Queue, cpus cpuset.Set) map[int]cpuset.Set {
	list := cpus.List()
	out := map[int]cpuset.Set{}
	if len(list) == 0 {
		return out
	}
	for _, q := range qs {
		if q.Kind == Other || q.Index < 0 {
			continue
		}
		out[q.IRQ] = cpuset.Of(list[q.Index%len(list)])
	}
	return out
}

// Balance assigns each queue the CPU of cpus that carries the fewest
// IRQs so far according to load (the IRQs already placed, on every NIC),
// lowest CPU first on a tie, and adds what it places to load. The rx and
// tx vectors of one queue pair share a CPU; other vectors get nothing.
// With an empty load it is RoundRobin; across NICs that share CPUs it
// keeps the per-CPU counts within one queue pair of each other, where
// RoundRobin put queue i of every NIC on the same CPU.
func Balance(qs []Queue, cpus cpuset.Set, load map[int]int) map[int]cpuset.Set {
	list := cpus.List()
	out := map[int]cpuset.Set{}
	if len(list) == 0 {
		return out
	}
	byIndex := map[int]int{}
	for _, q := range qs {
		if q.Kind == Other || q.Index < 0 {
			continue
		}
		cpu, ok := byIndex[q.Index]
		if !ok {
			cpu = list[0]
			for _, c := range list[1:] {
				if load[c] < load[cpu] {
					cpu = c
				}
			}
			byIndex[q.Index] = cpu
		}
		load[cpu]++
		out[q.IRQ] = cpuset.Of(cpu)
	}
	return out
}

// LocalCPUs are the online CPUs of a NIC's NUMA node (every online CPU
// when the node is unknown), without the isolated ones unless
// includeIsolated.
func LocalCPUs(t *numa.Topology, node int, isolated cpuset.Set, includeIsolated bool) cpuset.Set {
	cpus := t.CPUsOfNode(node)
	if !includeIsolated {
		cpus = cpus.Difference(isolated)
	}
	return cpus
}
