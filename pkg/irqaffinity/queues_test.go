package irqaffinity

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/cpuset"
)

func render(qs []Queue) string {
	var parts []string
	for _, q := range qs {
		parts = append(parts, fmt.Sprintf("%d:%s/%s/%d", q.IRQ, q.Label, q.Kind, q.Index))
	}
	return strings.Join(parts, " ")
}

func TestQueues(t *testing.T) {
	for _, tc := range []struct {
		file string
		dev  Device
		msi  []int
		want string
	}{
		{"ixgbe.txt", Device{Name: "eth0", PCI: "0000:03:00.0"}, []int{134, 135, 136, 137, 138},
			"134:TxRx-0/combined/0 135:TxRx-1/combined/1 136:TxRx-2/combined/2 137:TxRx-3/combined/3 138:eth0/other/-1"},
		{"i40e.txt", Device{Name: "ens1f0", PCI: "0000:3b:00.0"}, []int{52, 53, 54, 55, 56},
			"53:TxRx-0/combined/0 54:TxRx-1/combined/1 55:TxRx-2/combined/2 56:TxRx-3/combined/3 52:i40e-0000:3b:00.0:misc/other/-1"},
		{"ice.txt", Device{Name: "ens2", PCI: "0000:5e:00.0"}, []int{200, 201, 202, 203, 204},
			"201:TxRx-0/combined/0 202:TxRx-1/combined/1 203:TxRx-2/combined/2 204:TxRx-3/combined/3 200:ice-0000:5e:00.0:misc/other/-1"},
		// mlx5: vectors of the other port are not ours even by name.
		{"mlx5.txt", Device{Name: "enp175s0f0", PCI: "0000:af:00.0"}, []int{88, 89, 90, 91, 92},
			"89:comp0/combined/0 90:comp1/combined/1 91:comp2/combined/2 92:comp3/combined/3 88:mlx5_async0@pci:0000:af:00.0/other/-1"},
		{"mlx5.txt", Device{Name: "enp175s0f1", PCI: "0000:af:00.1"}, nil,
			"94:comp0/combined/0 95:comp1/combined/1"},
		{"virtio.txt", Device{Name: "eth0", PCI: "0000:00:03.0", Virtio: "virtio2"}, []int{37, 38, 39},
			"38:input.0/rx/0 39:output.0/tx/0 37:virtio2-config/other/-1"},
		// Separate rx and tx vectors: queue pairs stay together.
		{"old.txt", Device{Name: "eth0", PCI: "0000:02:00.0"}, []int{48, 49, 50},
			"48:rx-0/rx/0 49:tx-0/tx/0 50:eth0/other/-1"},
		// No msi_irqs in a snapshot: found by name, other vectors left out.
		{"ixgbe.txt", Device{Name: "eth0", PCI: "0000:03:00.0"}, nil,
			"134:TxRx-0/combined/0 135:TxRx-1/combined/1 136:TxRx-2/combined/2 137:TxRx-3/combined/3"},
		// A name that only contains the interface name as a substring.
		{"ixgbe.txt", Device{Name: "th0", PCI: "0000:09:00.0"}, nil, ""},
	} {
		got := render(Queues(tc.dev, parseFile(t, tc.file), tc.msi))
		if got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.file, tc.dev.Name, got, tc.want)
		}
	}
}

func TestRoundRobin(t *testing.T) {
	qs := Queues(Device{Name: "eth0", PCI: "0000:02:00.0"}, parseFile(t, "old.txt"), []int{48, 49, 50})
	got := RoundRobin(qs, cpuset.MustParse("2-3"))
	if len(got) != 2 || got[48].String() != "2" || got[49].String() != "2" {
		t.Errorf("RoundRobin = %v", got)
	}
	qs = Queues(Device{Name: "eth0", PCI: "0000:03:00.0"}, parseFile(t, "ixgbe.txt"), []int{134, 135, 136, 137, 138})
	got = RoundRobin(qs, cpuset.MustParse("1,3,5"))
	want := map[int]string{134: "1", 135: "3", 136: "5", 137: "1"}
	if len(got) != len(want) {
		t.Errorf("RoundRobin = %v", got)
	}
	for irq, cpu := range want {
		if got[irq].String() != cpu {
			t.Errorf("IRQ %d -> %s, want %s", irq, got[irq], cpu)
		}
	}
	if len(RoundRobin(qs, cpuset.Set{})) != 0 {
		t.Error("no CPUs must assign nothing")
	}
}
