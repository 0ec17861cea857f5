// Package irqaffinity maps a NIC's queues to their interrupts and pins
// those interrupts to CPUs.
//
// The mapping reads the MSI vectors of the NIC's PCI function
// (/sys/bus/pci/devices/<pci>/msi_irqs) and the names drivers give their
// vectors in /proc/interrupts (<if>-TxRx-N, i40e-<if>-TxRx-N, <if>-rxtx-N,
// mlx5_compN@pci:<pci>, gve-ntfy-blkN@pci:<pci>, mana_qN@pci:<pci>,
// virtioN-input.N ...), in the layouts of x86 and of arm64 (hwirq and
// Edge/Level columns). Affinities are written to
// /proc/irq/N/smp_affinity_list and verified by reading it back together
// with effective_affinity_list; an IRQ whose affinity the kernel manages
// refuses the write with EIO, which is reported as ErrManaged. The package
// also edits irqbalance's configuration so that the daemon leaves pinned
// IRQs and CPUs alone.
package irqaffinity

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"
)

// IRQ is one numbered line of /proc/interrupts.
type IRQ struct {
	Number int
	// CPUs are the CPUs of the header, in its order (one slice shared by
	// every IRQ of a table), and Counts the interrupts each took.
	CPUs   []int
	Counts []uint32
	// Chip is the interrupt controller ("IR-PCI-MSIX-0000:03:00.0",
	// "IO-APIC", "PCI-MSI").
	Chip string
	// Trigger is the hardware IRQ and flow ("524288-edge", "edge").
	Trigger string
	// Names are the actions' names (more than one for a shared line).
	Names []string
}

// Name is the first action name, "" when none.
func (q IRQ) Name() string {
	if len(q.Names) == 0 {
		return ""
	}
	return q.Names[0]
}

// Count is the number of interrupts CPU cpu took, 0 for a CPU the header
// does not have and for a line read without counts (ParseInterruptLines).
func (q IRQ) Count(cpu int) uint64 {
	if len(q.Counts) != len(q.CPUs) {
		return 0
	}
	if cpu >= 0 && cpu < len(q.CPUs) && q.CPUs[cpu] == cpu {
		return uint64(q.Counts[cpu]) // every CPU online: column i is CPU i
	}
	for i, c := range q.CPUs {
		if c == cpu {
			return uint64(q.Counts[i])
		}
	}
	return 0
}

// Total is the sum of the per-CPU counts (0 for a line read without
// counts).
func (q IRQ) Total() uint64 {
	var n uint64
	for _, c := range q.Counts {
		n += uint64(c)
	}
	return n
}

// flows are the flow handlers' names the kernel prints after a "-": the
// hwirq-and-flow column of current kernels ("524288-edge", "2-fasteoi")
// and the combined chip-and-flow column of old ones ("IO-APIC-edge",
// "PCI-MSI-edge").
var flows = map[string]bool{"edge": true, "level": true, "fasteoi": true, "simple": true, "percpu": true, "percpu_devid": true, "untouched": true, "none": true, "eoi": true, "bad": true}

// isFlow reports whether a field ends with "-" and a flow's name.
func isFlow(s string) bool {
	i := strings.LastIndexByte(s, '-')
	return i >= 0 && flows[s[i+1:]]
}

// isDecimal reports whether s is a non-empty run of ASCII digits (the
// hwirq column; Hyper-V prints 13 digits).
func isDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ParseInterrupts reads /proc/interrupts. Only numbered IRQ lines are
// returned; the architecture's summary lines (NMI, LOC, ERR...) are
// skipped.
func ParseInterrupts(rd io.Reader) ([]IRQ, error) {
	irqs, _, err := ParseInterruptTable(rd)
	return irqs, err
}

// ParseInterruptTable reads /proc/interrupts: the numbered IRQ lines, and
// the architecture's per-CPU summary lines (LOC, RES, NMI...) as counts by
// CPU under their label. Summary lines with a single total (ERR, MIS) are
// counted under CPU -1.
//
// A 256-CPU host with 4,000 queue vectors prints about 11 MB here: the
// counts go into slices that share one backing array, split by hand
// rather than with strings.Fields.
func ParseInterruptTable(rd io.Reader) ([]IRQ, map[string]map[int]uint64, error) {
	return parseInterrupts(rd, true)
}

// ParseInterruptLines reads the numbered IRQ lines of /proc/interrupts
// without their counts (Counts is nil) and without the summary lines: what
// placing IRQs needs. On a 256-CPU host with 4,000 queue vectors the
// counts are a million numbers.
func ParseInterruptLines(rd io.Reader) ([]IRQ, error) {
	irqs, _, err := parseInterrupts(rd, false)
	return irqs, err
}

func parseInterrupts(rd io.Reader, withCounts bool) ([]IRQ, map[string]map[int]uint64, error) {
	summary := map[string]map[int]uint64{}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var cpus []int
	header := false
	var out []IRQ
	var backing, scratch []uint32
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		label, pos := nextField(b, 0)
		if len(label) == 0 {
			continue
		}
		if !header {
			for _, f := range strings.Fields(string(b)) {
				n, ok := strings.CutPrefix(f, "CPU")
				id, err := strconv.Atoi(n)
				if !ok || err != nil || id < 0 {
					return nil, nil, fmt.Errorf("/proc/interrupts line %d: header field %q is not CPUn", line, f)
				}
				cpus = append(cpus, id)
			}
			header = true
			continue
		}
		num, ok := strings.CutSuffix(string(label), ":")
		if !ok {
			return nil, nil, fmt.Errorf("/proc/interrupts line %d: %q has no IRQ label", line, label)
		}
		n, err := strconv.Atoi(num)
		if err != nil { // NMI:, LOC:, ERR: ...
			if !withCounts {
				continue
			}
			counts := map[int]uint64{}
			for i, f := range strings.Fields(string(b[pos:])) {
				c, err := strconv.ParseUint(f, 10, 64)
				if err != nil || i >= len(cpus) {
					break
				}
				counts[cpus[i]] = c
			}
			if len(counts) == 1 && len(cpus) > 1 {
				counts = map[int]uint64{-1: counts[cpus[0]]}
			}
			summary[num] = counts
			continue
		}
		if n < 0 {
			return nil, nil, fmt.Errorf("/proc/interrupts line %d: negative IRQ %d", line, n)
		}
		q := IRQ{Number: n, CPUs: cpus}
		counts := scratch
		if withCounts {
			if len(backing) < len(cpus) {
				backing = make([]uint32, len(cpus)*256)
			}
			q.Counts = backing[:len(cpus):len(cpus)]
			backing = backing[len(cpus):]
			counts = q.Counts
		} else if counts == nil {
			scratch = make([]uint32, len(cpus))
			counts = scratch
		}
		if !withCounts {
			if end, ok := skipCounts(b, pos, len(cpus)); ok {
				pos = end
				q.Chip, q.Trigger, q.Names = splitDescription(strings.Fields(string(b[pos:])))
				out = append(out, q)
				continue
			}
		}
		if end, ok := fixedCounts(b, pos, counts); ok {
			pos = end
		} else {
			clear(counts)
			for i := range cpus {
				f, next := nextField(b, pos)
				c, ok := parseCount(f)
				if !ok {
					break
				}
				counts[i] = c
				pos = next
			}
		}
		q.Chip, q.Trigger, q.Names = splitDescription(strings.Fields(string(b[pos:])))
		out = append(out, q)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if !header {
		return nil, nil, fmt.Errorf("/proc/interrupts: no CPU header")
	}
	return out, summary, nil
}

// countWidth is the width of a count column as the kernel prints it
// (show_interrupts: " %10u", seq_put_decimal_ull_width(p, " ", n, 10)): a
// space, then the number right-aligned in ten characters.
const countWidth = 11

// fixedCounts reads the counts of one line laid out as the kernel prints
// them, one column of countWidth bytes per CPU from pos, straight from
// their offsets; false when any column is not a space, optional spaces and
// digits to its end, or the columns are not followed by white space or
// the end of the line. The general parser then reads the line field by
// field, and both read the same numbers from any line this one accepts.
func fixedCounts(b []byte, pos int, counts []uint32) (int, bool) {
	end := pos + countWidth*len(counts)
	if end > len(b) || (end < len(b) && !isSpace(b[end])) {
		return 0, false
	}
	for i := range counts {
		col := b[pos+countWidth*i : pos+countWidth*(i+1)]
		if col[0] != ' ' {
			return 0, false
		}
		j := 1
		for j < countWidth && col[j] == ' ' {
			j++
		}
		if j == countWidth {
			return 0, false
		}
		var v uint32
		for ; j < countWidth; j++ {
			c := col[j] - '0'
			if c > 9 {
				return 0, false
			}
			v = v*10 + uint32(c)
		}
		counts[i] = v
	}
	return end, true
}

// skipCounts is fixedCounts for a reader that does not keep the counts:
// it accepts the same lines (each column a space, optional spaces and
// digits to its end) without computing a number. Every byte of the
// columns is a space or a digit, each column starts with a space and ends
// with a digit, and a digit is followed by a space only where a column
// ends: then no column has a space after its digits. The bytes are
// tested eight at a time (a 256-CPU line is 2,816 bytes of columns).
func skipCounts(b []byte, pos, n int) (int, bool) {
	end := pos + countWidth*n
	if end > len(b) || (end < len(b) && !isSpace(b[end])) {
		return 0, false
	}
	cols := b[pos:end]
	for k := countWidth - 1; k < len(cols); k += countWidth {
		if cols[k-countWidth+1] != ' ' || cols[k]-'0' > 9 {
			return 0, false
		}
	}
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
		low7 = 0x7f7f7f7f7f7f7f7f
	)
	ends, lastDigit := 0, uint64(0)
	i := 0
	for ; i+8 <= len(cols); i += 8 {
		x := binary.LittleEndian.Uint64(cols[i:]) ^ (0x30 * ones)
		// A digit is 0x00-0x09 now, a space 0x10: the high bit of each
		// byte of d says digit, of sp says space.
		d := ^(((x & low7) + 0x76*ones) | x) & high
		y := x ^ (0x10 * ones)
		sp := ^(((y & low7) + low7) | y) & high
		if d|sp != high {
			return 0, false
		}
		// A digit followed by a space: within the word, and from the
		// last byte of the previous word to the first of this one.
		ends += bits.OnesCount64(d & (sp >> 8))
		if lastDigit != 0 && sp&0x80 != 0 {
			ends++
		}
		lastDigit = d >> 63
	}
	for ; i < len(cols); i++ {
		c := cols[i]
		isDigit := c-'0' <= 9
		if !isDigit && c != ' ' {
			return 0, false
		}
		if lastDigit != 0 && !isDigit {
			ends++
		}
		lastDigit = 0
		if isDigit {
			lastDigit = 1
		}
	}
	return end, ends == n-1 || n == 0
}

// parseCount reads a per-CPU count: decimal digits, which the kernel
// prints from an unsigned int (show_interrupts, "%10u"); a longer number
// is kept modulo 2^32, as the counter itself wraps.
func parseCount(f []byte) (uint32, bool) {
	if len(f) == 0 || len(f) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range f {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return uint32(v), true
}

// nextField returns the field of b that starts at or after i (fields are
// separated by ASCII white space) and the index just past it; empty when
// there is none.
func nextField(b []byte, i int) ([]byte, int) {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	return b[i:j], j
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// The trigger column of kernels built with GENERIC_IRQ_SHOW_LEVEL (arm64,
// arm, riscv...) is "Edge" or "Level", printed after the chip and its
// hwirq: "ITS-MSI 524289 Edge eth1-0", "GICv3  27 Level arch_timer".

// splitDescription splits what follows the counts: chip, flow, then the
// action names separated by ", ". The kernel prints (show_interrupts) the
// chip name, the hwirq when the IRQ has a domain, "Edge"/"Level" when built
// with GENERIC_IRQ_SHOW_LEVEL, "-<flow>" when the flow handler has a name,
// then the actions, so the flow part is one of:
//
//	"524288-edge"            x86: hwirq and flow name glued
//	"IO-APIC-edge"           old x86: chip and flow glued (no hwirq)
//	"524289 Edge"            arm64 ITS-MSI, GICv3: hwirq, then level
//	"Edge -virq"             Xen event channels: no hwirq, level, flow
//
// The chip name may contain spaces ("Hyper-V PCIe MSI").
func splitDescription(f []string) (chip, trigger string, names []string) {
	start, end := -1, -1
	for i, s := range f {
		if isFlow(s) {
			start, end = i, i+1
			break
		}
		if (s == "Edge" || s == "Level") && i > 0 {
			start, end = i, i+1
			if i > 1 && isDecimal(f[i-1]) {
				start = i - 1
			}
			if end < len(f) && strings.HasPrefix(f[end], "-") && len(f[end]) > 1 {
				end++
			}
			break
		}
	}
	var nameFields []string
	switch {
	case start >= 0:
		chip = strings.Join(f[:start], " ")
		trigger = strings.Join(f[start:end], " ")
		nameFields = f[end:]
		// Old kernels glue chip and flow ("IO-APIC-edge"): no chip of its
		// own then, the flow column is all of it.
	case len(f) > 0:
		// "XT-PIC timer": no flow column.
		chip = f[0]
		nameFields = f[1:]
	}
	if len(nameFields) == 0 {
		return chip, trigger, nil
	}
	for _, n := range strings.Split(strings.Join(nameFields, " "), ", ") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return chip, trigger, names
}
