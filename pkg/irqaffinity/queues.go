package irqaffinity

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
)

// Queue kinds.
const (
	Combined = "combined"
	RX       = "rx"
	TX       = "tx"
	Other    = "other"
)

// Queue is one interrupt of a NIC.
type Queue struct {
	// Label names the queue as the driver does ("TxRx-3", "rx-0",
	// "comp5", "input.1"); "misc" style vectors keep their whole name.
	Label string `json:"queue"`
	// Kind is combined, rx, tx or other (link, mailbox, config vectors).
	Kind string `json:"kind"`
	// Index is the queue number; -1 for other vectors.
	Index int    `json:"index"`
	IRQ   int    `json:"irq"`
	Name  string `json:"name"`
}

// Device says where a NIC's interrupts come from.
type Device struct {
	// Name is the interface name.
	Name string
	// PCI is the PCI address and PCIDir its sysfs directory under the
	// root ("" for virtual interfaces).
	PCI    string
	PCIDir string
	// Virtio is the virtio device the interface sits on ("virtio2"), "" if
	// none.
	Virtio string
}

// MSIIRQs lists the MSI/MSI-X vectors of a PCI function (its msi_irqs
// directory), or its legacy interrupt line when it has no MSI vectors.
func MSIIRQs(pciDir string) ([]int, error) {
	if pciDir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(filepath.Join(pciDir, "msi_irqs"))
	if err != nil && !host.IsNotExist(err) {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err == nil {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		if b, err := os.ReadFile(filepath.Join(pciDir, "irq")); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
				out = append(out, n)
			}
		}
	}
	sort.Ints(out)
	return out, nil
}

var (
	// pciNamedRe matches the vectors named after the PCI function rather
	// than the interface: mlx5 (mlx5_comp0@pci:0000:af:00.0, and
	// mlx5_async0, mlx5_pages_eq, mlx5_cmd_eq...), gve
	// (gve-ntfy-blk0@pci:..., gve-mgmnt), mana (mana_q0@pci:..., mana_hwc)
	// and ena (ena-mgmnt@pci:...). The queue vectors are the numbered
	// completion/notification ones.
	pciNamedRe = regexp.MustCompile(`^(mlx5_|gve-|mana_|ena-)(\S*?)@pci:(\S+)$`)
	pciQueueRe = map[string]*regexp.Regexp{
		"mlx5_": regexp.MustCompile(`^(comp)(\d+)$`),
		"gve-":  regexp.MustCompile(`^(ntfy-blk)(\d+)$`),
		"mana_": regexp.MustCompile(`^(q)(\d+)$`),
	}
	virtioRe = regexp.MustCompile(`^(virtio\d+)-(input|output)\.(\d+)$`)
	suffixRe = []struct {
		re   *regexp.Regexp
		kind string
	}{
		// rxtx: vmxnet3 (ens160-rxtx-0), ThunderX nicvf.
		{regexp.MustCompile(`^(?:TxRx|txrx|Tx-Rx|rxtx|RxTx|fp|combined)-(\d+)$`), Combined},
		{regexp.MustCompile(`^(?:rx|Rx|RX)-(\d+)$`), RX},
		{regexp.MustCompile(`^(?:tx|Tx|TX)-(\d+)$`), TX},
		{regexp.MustCompile(`^(\d+)$`), Combined},
	}
)

// Classify names one interrupt of device d from its /proc/interrupts name.
// ok is false when the name does not belong to d's queues (the caller
// keeps it as an "other" vector when it is one of d's MSI vectors).
func Classify(d Device, name string) (q Queue, ok bool) {
	q = Queue{Label: name, Kind: Other, Index: -1, Name: name}
	if m := pciNamedRe.FindStringSubmatch(name); m != nil {
		if d.PCI == "" || m[3] != d.PCI {
			return q, false
		}
		re := pciQueueRe[m[1]]
		if re == nil {
			return q, true
		}
		qm := re.FindStringSubmatch(m[2])
		if qm == nil {
			return q, true
		}
		n, _ := strconv.Atoi(qm[2])
		return Queue{Label: m[2], Kind: Combined, Index: n, Name: name}, true
	}
	if m := virtioRe.FindStringSubmatch(name); m != nil {
		if d.Virtio == "" || m[1] != d.Virtio {
			return q, false
		}
		n, _ := strconv.Atoi(m[3])
		kind := RX
		if m[2] == "output" {
			kind = TX
		}
		return Queue{Label: m[2] + "." + m[3], Kind: kind, Index: n, Name: name}, true
	}
	if d.Virtio != "" && strings.HasPrefix(name, d.Virtio+"-") {
		return q, true
	}
	if name == d.Name {
		return q, true
	}
	// <if>-<suffix>, possibly behind a driver prefix: i40e-eth0-TxRx-0.
	i := strings.Index(name, d.Name+"-")
	for i >= 0 {
		if i == 0 || name[i-1] == '-' || name[i-1] == '_' {
			suffix := name[i+len(d.Name)+1:]
			for _, s := range suffixRe {
				if m := s.re.FindStringSubmatch(suffix); m != nil {
					n, _ := strconv.Atoi(m[1])
					return Queue{Label: suffix, Kind: s.kind, Index: n, Name: name}, true
				}
			}
			return q, true
		}
		j := strings.Index(name[i+1:], d.Name+"-")
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return q, false
}

// Queues lists device d's interrupts: its MSI vectors named through
// /proc/interrupts, queues first in queue order, then the other vectors.
// When msi is empty (a snapshot without msi_irqs, a device that hides
// them) the queues are found by name among all IRQs.
func Queues(d Device, irqs []IRQ, msi []int) []Queue {
	var out []Queue
	add := func(q IRQ, fromMSI bool) {
		for _, name := range q.Names {
			c, ok := Classify(d, name)
			if ok || fromMSI {
				c.IRQ = q.Number
				if !fromMSI && c.Kind == Other {
					return
				}
				out = append(out, c)
				return
			}
		}
		if fromMSI {
			out = append(out, Queue{Label: q.Name(), Kind: Other, Index: -1, IRQ: q.Number, Name: q.Name()})
		}
	}
	if len(msi) > 0 {
		// The lines of the function's vectors, in msi's order: indexing
		// only msi keeps this linear without copying every line of a
		// host with thousands (it runs once per NIC).
		at := make(map[int]int, len(msi))
		for i, n := range msi {
			at[n] = i
		}
		found := make([]*IRQ, len(msi))
		for i := range irqs {
			if k, ok := at[irqs[i].Number]; ok {
				found[k] = &irqs[i]
			}
		}
		for _, q := range found {
			if q != nil {
				add(*q, true)
			}
		}
	} else {
		for _, q := range irqs {
			add(q, false)
		}
	}
	rank := map[string]int{Combined: 0, RX: 1, TX: 2, Other: 3}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Kind == Other) != (b.Kind == Other) {
			return b.Kind == Other
		}
		if a.Index != b.Index {
			return a.Index < b.Index
		}
		if rank[a.Kind] != rank[b.Kind] {
			return rank[a.Kind] < rank[b.Kind]
		}
		return a.IRQ < b.IRQ
	})
	return out
}

// ReadInterrupts reads and parses /proc/interrupts under the root.
func ReadInterrupts(r *host.Root) ([]IRQ, error) {
	t, err := ReadInterruptTable(r)
	if err != nil {
		return nil, err
	}
	return t.IRQs, nil
}

// Table is /proc/interrupts parsed: ParseInterruptTable's two results.
type Table struct {
	IRQs    []IRQ
	Summary map[string]map[int]uint64
}

// LinesMemoKey is the module.Memo key of ReadInterruptLines's table: the
// planners and the diagnostics of one command share it.
const LinesMemoKey = "/proc/interrupts without counts"

// ReadInterruptLines reads the numbered lines of /proc/interrupts under
// the root without their counts (ParseInterruptLines): a Table whose IRQs
// have nil Counts and whose Summary is nil.
func ReadInterruptLines(r *host.Root) (*Table, error) {
	f, err := r.OpenFile(r.Proc("interrupts"), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	irqs, err := ParseInterruptLines(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.HostPath(r.Proc("interrupts")), err)
	}
	return &Table{IRQs: irqs}, nil
}

// ReadInterruptTable reads and parses /proc/interrupts under the root.
func ReadInterruptTable(r *host.Root) (*Table, error) {
	f, err := r.OpenFile(r.Proc("interrupts"), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	irqs, summary, err := ParseInterruptTable(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.HostPath(r.Proc("interrupts")), err)
	}
	return &Table{IRQs: irqs, Summary: summary}, nil
}
