package irqaffinity

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// readCapture reads a real /proc/interrupts capture from testdata. Its
// leading "#" lines say where it comes from and are dropped. Captures
// quoted without the CPU header line (grep output, a mail quoting a few
// lines) get one with as many CPUs as the first line has counts: the
// header is the kernel's "CPUn" list, not part of what was captured.
func readCapture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/interrupts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	for len(lines) > 0 && strings.HasPrefix(lines[0], "#") {
		lines = lines[1:]
	}
	if len(lines) == 0 {
		t.Fatalf("%s: no capture", name)
	}
	first := strings.Fields(lines[0])
	if len(first) > 0 && !strings.HasPrefix(first[0], "CPU") {
		n := 0
		for _, f := range first[1:] {
			if strings.Trim(f, "0123456789") != "" {
				break
			}
			n++
		}
		var hdr strings.Builder
		hdr.WriteString("      ")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&hdr, "     CPU%-5d", i)
		}
		lines = append([]string{hdr.String() + "\n"}, lines...)
	}
	return strings.Join(lines, "")
}

func parseCapture(t *testing.T, name string) []IRQ {
	t.Helper()
	irqs, err := ParseInterrupts(strings.NewReader(readCapture(t, name)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return irqs
}

// TestParseRealLayouts parses the layouts real kernels print: arm64 GICv3
// and ITS-MSI lines carry the hwirq and an Edge/Level column of their own
// (GENERIC_IRQ_SHOW_LEVEL), Xen event channels a "-virq" flow name without
// a hwirq, Hyper-V a chip name with spaces and 13-digit hwirqs.
func TestParseRealLayouts(t *testing.T) {
	for _, tc := range []struct {
		file    string
		irq     int
		chip    string
		trigger string
		names   []string
		cpu0    uint64
	}{
		{"arm64-gicv3-xen.txt", 38, "ITS-MSI", "524289 Edge", []string{"nvme0q1"}, 48},
		{"arm64-gicv3-xen.txt", 11, "GICv3", "27 Level", []string{"arch_timer"}, 4928},
		{"arm64-gicv3-xen.txt", 40, "GICv3", "176 Level", []string{"sysmon-irq"}, 0},
		{"arm64-gicv3-xen.txt", 15, "RC-Event", "0 Level", []string{"LINK_DOWN"}, 0},
		{"arm64-gicv3-xen.txt", 35, "xen-dyn", "Edge -virq", []string{"hvc_console"}, 42},
		{"arm64-gicv3-xen.txt", 43, "xen-dyn-lateeoi", "Edge -event", []string{"evtchn:xenstored"}, 13},
		{"arm64-thunderx.txt", 73, "ITS-MSI", "2623488 Edge", []string{"enp5s0f1-rxtx-0"}, 0},
		{"mana.txt", 27, "Hyper-V PCIe MSI", "4138200989699-edge", []string{"mana_q2@pci:7870:00:00.0"}, 157181},
		{"gve.txt", 25, "PCI-MSI", "65537-edge", []string{"gve-ntfy-blk1@pci:0000:00:04.0"}, 71},
		{"vmxnet3.txt", 64, "PCI-MSI", "1572872-edge", []string{"eth0-event-8"}, 0},
		{"mlx5-azure.txt", 28, "", "PCI-MSI-edge", []string{"mlx5_comp0@pci:8b76:00:02.0"}, 123648},
	} {
		q := find(parseCapture(t, tc.file), tc.irq)
		if q.Number < 0 {
			t.Errorf("%s: IRQ %d missing", tc.file, tc.irq)
			continue
		}
		if q.Chip != tc.chip || q.Trigger != tc.trigger || strings.Join(q.Names, "|") != strings.Join(tc.names, "|") || q.Count(0) != tc.cpu0 {
			t.Errorf("%s IRQ %d = chip %q trigger %q names %q cpu0 %d; want %q %q %q %d", tc.file, tc.irq, q.Chip, q.Trigger, q.Names, q.Count(0), tc.chip, tc.trigger, tc.names, tc.cpu0)
		}
	}
}

// TestQueuesRealDrivers recognises the queue vectors of drivers whose
// names carry no interface name (mana, gve, mlx5: the PCI address) or
// another suffix (vmxnet3 and ThunderX "rxtx-N"), on their real layouts.
func TestQueuesRealDrivers(t *testing.T) {
	for _, tc := range []struct {
		file string
		dev  Device
		msi  []int
		want string
	}{
		{"arm64-thunderx.txt", Device{Name: "enp5s0f1", PCI: "0005:01:00.1"}, []int{73, 89, 92},
			"73:rxtx-0/combined/0 89:enp5s0f1-rbdr-0/other/-1 92:enp5s0f1-qset-err-0/other/-1"},
		{"arm64-thunderx.txt", Device{Name: "enp5s0f1", PCI: "0005:01:00.1"}, nil, "73:rxtx-0/combined/0"},
		{"vmxnet3.txt", Device{Name: "eth0", PCI: "0000:0b:00.0"}, nil,
			"56:rxtx-0/combined/0 57:rxtx-1/combined/1 58:rxtx-2/combined/2 59:rxtx-3/combined/3 60:rxtx-4/combined/4 61:rxtx-5/combined/5 62:rxtx-6/combined/6 63:rxtx-7/combined/7"},
		{"mana.txt", Device{Name: "enP30832s1", PCI: "7870:00:00.0"}, nil,
			"25:q0/combined/0 26:q1/combined/1 27:q2/combined/2 28:q3/combined/3"},
		{"mana.txt", Device{Name: "enP30832s1", PCI: "7870:00:00.1"}, nil, ""},
		{"gve.txt", Device{Name: "ens4", PCI: "0000:00:04.0"}, []int{24, 25, 26},
			"24:ntfy-blk0/combined/0 25:ntfy-blk1/combined/1 26:gve-mgmnt@pci:0000:00:04.0/other/-1"},
		{"gve.txt", Device{Name: "ens4", PCI: "0000:00:04.0"}, nil, "24:ntfy-blk0/combined/0 25:ntfy-blk1/combined/1"},
		{"mlx5-azure.txt", Device{Name: "enP35702s1", PCI: "8b76:00:02.0"}, nil,
			"28:comp0/combined/0 29:comp1/combined/1 30:comp2/combined/2 31:comp3/combined/3 32:comp4/combined/4 33:comp5/combined/5 34:comp6/combined/6 35:comp7/combined/7"},
	} {
		got := render(Queues(tc.dev, parseCapture(t, tc.file), tc.msi))
		if got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.file, tc.dev.Name, got, tc.want)
		}
	}
}
