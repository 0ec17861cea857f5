package irqaffinity

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

func parseFile(t *testing.T, name string) []IRQ {
	t.Helper()
	f, err := os.Open("testdata/interrupts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	irqs, err := ParseInterrupts(f)
	if err != nil {
		t.Fatal(err)
	}
	return irqs
}

func find(irqs []IRQ, n int) IRQ {
	for _, q := range irqs {
		if q.Number == n {
			return q
		}
	}
	return IRQ{Number: -1}
}

func TestParseInterrupts(t *testing.T) {
	for _, tc := range []struct {
		file    string
		irq     int
		chip    string
		trigger string
		names   []string
		cpu1    uint64
		lines   int
	}{
		{"ixgbe.txt", 134, "IR-PCI-MSIX-0000:03:00.0", "0-edge", []string{"eth0-TxRx-0"}, 318031, 9},
		{"ixgbe.txt", 9, "IO-APIC", "9-fasteoi", []string{"acpi"}, 0, 9},
		{"i40e.txt", 52, "IR-PCI-MSI", "1572864-edge", []string{"i40e-0000:3b:00.0:misc"}, 0, 6},
		{"mlx5.txt", 89, "IR-PCI-MSIX-0000:af:00.0", "1-edge", []string{"mlx5_comp0@pci:0000:af:00.0"}, 496592, 9},
		{"virtio.txt", 38, "PCI-MSIX-0000:00:03.0", "1-edge", []string{"virtio2-input.0"}, 2089, 19},
		{"old.txt", 16, "", "IO-APIC-fasteoi", []string{"ehci_hcd:usb1", "eth1"}, 0, 7},
		{"old.txt", 48, "", "PCI-MSI-edge", []string{"eth0-rx-0"}, 834221, 7},
	} {
		irqs := parseFile(t, tc.file)
		if len(irqs) != tc.lines {
			t.Errorf("%s: %d IRQ lines, want %d", tc.file, len(irqs), tc.lines)
		}
		q := find(irqs, tc.irq)
		if q.Number < 0 {
			t.Errorf("%s: IRQ %d missing", tc.file, tc.irq)
			continue
		}
		if q.Chip != tc.chip || q.Trigger != tc.trigger || strings.Join(q.Names, "|") != strings.Join(tc.names, "|") || q.Count(1) != tc.cpu1 {
			t.Errorf("%s IRQ %d = chip %q trigger %q names %q cpu1 %d; want %q %q %q %d", tc.file, tc.irq, q.Chip, q.Trigger, q.Names, q.Count(1), tc.chip, tc.trigger, tc.names, tc.cpu1)
		}
	}
}

func TestParseInterruptsErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"CPU0 CPUX\n",
		"           CPU0\n  3 12 IO-APIC 3-edge foo\n",
	} {
		if _, err := ParseInterrupts(strings.NewReader(in)); err == nil {
			t.Errorf("ParseInterrupts(%q) accepted", in)
		}
	}
	// A line with no name (an IRQ being torn down) parses.
	irqs, err := ParseInterrupts(strings.NewReader("           CPU0       CPU1\n 12:          0          0  IR-PCI-MSI 1-edge\n"))
	if err != nil || len(irqs) != 1 || irqs[0].Name() != "" {
		t.Errorf("nameless line: %+v, %v", irqs, err)
	}
}

func FuzzParseInterrupts(f *testing.F) {
	for _, name := range []string{"ixgbe.txt", "i40e.txt", "ice.txt", "mlx5.txt", "virtio.txt", "old.txt"} {
		b, err := os.ReadFile("testdata/interrupts/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, name := range []string{"arm64-gicv3-xen.txt", "arm64-thunderx.txt", "mana.txt", "gve.txt", "vmxnet3.txt", "mlx5-azure.txt"} {
		f.Add(readCapture(f, name))
	}
	// Near misses of the kernel's fixed-width columns (fixedCounts): a
	// number filling its column and the separator, a letter in a column,
	// a column of spaces, counts glued to the chip.
	f.Add("           CPU0       CPU1\n 24:123456789012          0  IO-APIC   5-edge      ACPI:Ged\n")
	f.Add("           CPU0       CPU1\n 24:          1        1x0  IO-APIC   5-edge      ACPI:Ged\n")
	f.Add("           CPU0       CPU1       CPU2\n 24:          1                     5  IO-APIC   5-edge      ACPI:Ged\n")
	f.Add("           CPU0       CPU1\n 24:          1          7IO-APIC   5-edge      ACPI:Ged\n")
	// Lines long enough for skipCounts' eight-byte steps: a space inside
	// a column's digits, a byte with the high bit set that is a digit
	// once the bit is dropped, a tab, each in a different word.
	head := "    "
	for c := 0; c < 9; c++ {
		head += fmt.Sprintf("       CPU%d", c)
	}
	head += "\n"
	col := " " + strings.Repeat(" ", 9) + "7"
	for _, bad := range []string{"   12 3456", "        \xb01", "\t        5", "12345678 1"} {
		for _, at := range []int{0, 3, 8} {
			cols := strings.Repeat(col, at) + " " + bad + strings.Repeat(col, 8-at)
			f.Add(head + " 24:" + cols + "  PCI-MSI 1-edge  eth0-TxRx-0\n")
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		irqs, err := ParseInterrupts(strings.NewReader(in))
		if err != nil {
			return
		}
		lines, err := ParseInterruptLines(strings.NewReader(in))
		if err != nil || len(lines) != len(irqs) {
			t.Fatalf("without counts: %d lines, %v; with counts %d", len(lines), err, len(irqs))
		}
		for i, q := range lines {
			w := irqs[i]
			if q.Counts != nil || q.Number != w.Number || q.Chip != w.Chip || q.Trigger != w.Trigger || fmt.Sprint(q.Names) != fmt.Sprint(w.Names) {
				t.Fatalf("without counts %+v, with counts %+v", q, w)
			}
			if q.Count(0) != 0 || q.Total() != 0 {
				t.Fatalf("a line without counts counts %d", q.Total())
			}
		}
		ref, rest := referenceLines(in)
		for i, q := range irqs {
			if q.Number < 0 {
				t.Fatalf("negative IRQ %d", q.Number)
			}
			if ref != nil && fmt.Sprint(q.Counts) != fmt.Sprint(ref[i]) {
				t.Fatalf("IRQ %d: counts %v, strings.Fields reads %v", q.Number, q.Counts, ref[i])
			}
			if ref != nil {
				chip, trig, names := splitDescription(rest[i])
				if q.Chip != chip || q.Trigger != trig || fmt.Sprint(q.Names) != fmt.Sprint(names) {
					t.Fatalf("IRQ %d: chip %q trigger %q names %q, strings.Fields reads %q %q %q", q.Number, q.Chip, q.Trigger, q.Names, chip, trig, names)
				}
			}
			for _, n := range q.Names {
				if n == "" || strings.TrimSpace(n) != n {
					t.Fatalf("IRQ %d: bad name %q", q.Number, n)
				}
			}
		}
	})
}

func TestParseInterruptTableSummary(t *testing.T) {
	in := `           CPU0       CPU1       CPU2
 24:          1          2          3   PCI-MSI 49152-edge      eth0-TxRx-0
LOC:      90000        100         7   Local timer interrupts
ERR:          5
`
	irqs, summary, err := ParseInterruptTable(strings.NewReader(in))
	if err != nil || len(irqs) != 1 {
		t.Fatalf("irqs %v, %v", irqs, err)
	}
	if summary["LOC"][1] != 100 || summary["LOC"][2] != 7 || len(summary["LOC"]) != 3 {
		t.Errorf("LOC = %v", summary["LOC"])
	}
	if summary["ERR"][-1] != 5 || len(summary["ERR"]) != 1 {
		t.Errorf("ERR = %v", summary["ERR"])
	}
}

// referenceLines reads the per-CPU counts of every numbered line the
// plain way (strings.Fields, strconv), and the fields that follow them,
// for ASCII input (the parser splits on ASCII white space only, as the
// kernel prints); nil otherwise.
func referenceLines(in string) ([][]uint32, [][]string) {
	for i := 0; i < len(in); i++ {
		if in[i] >= 0x80 {
			return nil, nil
		}
	}
	var out [][]uint32
	var rest [][]string
	ncpu := -1
	for _, line := range strings.Split(in, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if ncpu < 0 {
			ncpu = len(f)
			continue
		}
		if _, err := strconv.Atoi(strings.TrimSuffix(f[0], ":")); err != nil {
			continue
		}
		counts := make([]uint32, ncpu)
		n := 0
		for ; n < ncpu && n+1 < len(f); n++ {
			s := f[n+1]
			if len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
				break
			}
			v, _ := strconv.ParseUint(s, 10, 64)
			counts[n] = uint32(v)
		}
		out = append(out, counts)
		rest = append(rest, f[1+n:])
	}
	return out, rest
}

// bigInterrupts is /proc/interrupts of a 256-CPU host with 1,040 queue
// IRQs, as the kernel prints it.
func bigInterrupts() string {
	var b strings.Builder
	b.WriteString("     ")
	for c := 0; c < 256; c++ {
		fmt.Fprintf(&b, "   CPU%-5d", c)
	}
	b.WriteString("\n")
	for irq := 0; irq < 1040; irq++ {
		fmt.Fprintf(&b, "%4d:", 200+irq)
		for c := 0; c < 256; c++ {
			fmt.Fprintf(&b, " %10d", (irq*7+c*13)%100000)
		}
		fmt.Fprintf(&b, "  IR-PCI-MSIX-0000:17:00.0  %d-edge      ice-ens1f0-TxRx-%d\n", irq, irq)
	}
	return b.String()
}

// BenchmarkParseInterrupts: the whole table with counts, and the lines
// without them (IRQ placement).
func BenchmarkParseInterrupts(b *testing.B) {
	in := bigInterrupts()
	b.Run("counts", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if _, err := ParseInterrupts(strings.NewReader(in)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lines", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if _, err := ParseInterruptLines(strings.NewReader(in)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
