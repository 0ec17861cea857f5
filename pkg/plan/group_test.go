package plan

import (
	"path"
	"strings"
	"testing"
)

func TestQueueGroupOf(t *testing.T) {
	for _, tc := range []struct {
		object string
		want   QueueGroup
		ok     bool
	}{
		{"ens3f0/rx-12", QueueGroup{"ens3f0", "rx queues", "ens3f0/rx-*"}, true},
		{"ens3f0/tx-0", QueueGroup{"ens3f0", "tx queues", "ens3f0/tx-*"}, true},
		{"ens3f0/TxRx-3 (irq 215)", QueueGroup{"ens3f0", "IRQs", "ens3f0/* (irq *)"}, true},
		{"eth0.100/rx-1", QueueGroup{"eth0.100", "rx queues", "eth0.100/rx-*"}, true},
		{"ens3f0", QueueGroup{}, false},
		{"net.core.rps_sock_flow_entries", QueueGroup{}, false},
		{"/etc/default/irqbalance", QueueGroup{}, false},
		{"/etc/sysctl.d/90-nettune.conf", QueueGroup{}, false},
		{"node0/hugepages-2048kB", QueueGroup{}, false},
		{"ens3f0/other", QueueGroup{}, false},
	} {
		got, ok := QueueGroupOf(tc.object)
		if got != tc.want || ok != tc.ok {
			t.Errorf("QueueGroupOf(%q) = %+v, %v; want %+v, %v", tc.object, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzQueueGroupOf: a group's glob matches the object it was made from
// (so the exporter's object label names its members), and names its NIC.
func FuzzQueueGroupOf(f *testing.F) {
	for _, s := range []string{"ens3f0/rx-12", "ens3f0/tx-0", "ens3f0/TxRx-3 (irq 215)", "a/b/rx-1", "x/rx-", "/rx-1", "ens3f0", "n/fp-0 (irq 1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, object string) {
		g, ok := QueueGroupOf(object)
		if !ok {
			return
		}
		if g.NIC == "" || !strings.HasPrefix(object, g.NIC+"/") || !strings.HasPrefix(g.Glob, g.NIC+"/") {
			t.Fatalf("%q: group %+v", object, g)
		}
		// path.Match's * stops at '/': compare the part after the NIC.
		rest := strings.TrimPrefix(object, g.NIC+"/")
		pattern := strings.TrimPrefix(g.Glob, g.NIC+"/")
		if m, err := path.Match(pattern, rest); err != nil || !m && !strings.ContainsAny(rest, "/[]\\") {
			t.Fatalf("%q: glob %q does not match (%v)", object, g.Glob, err)
		}
	})
}
