package diagnose

import (
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/nettune/nettune/pkg/host"
)

func TestRuleQdiscDrops(t *testing.T) {
	s := func(q map[string]qdiscCounters) *Sample { return &Sample{Qdiscs: q} }
	in := &Input{Interval: 2 * time.Second,
		Before: s(map[string]qdiscCounters{
			"eth1": {Kind: "mq", Drops: 10, Packets: 1000},
			"eth2": {Kind: "mq", Requeues: 5},
			"eth3": {Kind: "pfifo_fast", Drops: 7},
			"eth4": {Kind: "mq", Drops: 3},
		}),
		After: s(map[string]qdiscCounters{
			"eth1": {Kind: "mq", Drops: 410, Packets: 3000, Backlog: 1514, QueueLengths: 1},
			"eth2": {Kind: "mq", Requeues: 25},
			"eth3": {Kind: "fq", Drops: 9},   // replaced: its counts are not the old one's
			"eth4": {Kind: "mq", Drops: 3},   // quiet
			"eth5": {Kind: "mq", Drops: 100}, // appeared between the samples
		}),
	}
	got := ruleQdiscDrops(in)
	if len(got) != 2 {
		t.Fatalf("findings %+v, want eth1 and eth2", got)
	}
	if f := got[0]; f.Object != "eth1" || f.Severity != Warning || !strings.Contains(f.Message, "dropped 400 packets") || !strings.Contains(f.Evidence, "dropped: 400 in 2s (200.0/s)") || !strings.Contains(f.Remedy, "txqueuelen") {
		t.Errorf("eth1: %+v", f)
	}
	if f := got[1]; f.Object != "eth2" || f.Severity != Info || !strings.Contains(f.Message, "requeued 20") {
		t.Errorf("eth2: %+v", f)
	}
	// Without counters (offline, or no interval) nothing fires.
	if f := ruleQdiscDrops(&Input{Before: &Sample{}, After: &Sample{}}); len(f) != 0 {
		t.Errorf("no counters: %+v", f)
	}
}

// TestPrivilegedQdiscDrops: a real qdisc that drops (tbf with a one-packet
// queue on a veth in a fresh network namespace) is read through netlink
// and fires NT107; the interface without drops does not.
func TestPrivilegedQdiscDrops(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the namespace
		orig, err := netns.Get()
		if err != nil {
			t.Error(err)
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { netns.Set(orig); ns.Close() }()
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ntqa"}, PeerName: "ntqb"}); err != nil {
			t.Error(err)
			return
		}
		a, _ := netlink.LinkByName("ntqa")
		b, _ := netlink.LinkByName("ntqb")
		for _, l := range []netlink.Link{a, b} {
			if err := netlink.LinkSetUp(l); err != nil {
				t.Error(err)
				return
			}
		}
		addr, _ := netlink.ParseAddr("10.77.0.1/24")
		if err := netlink.AddrAdd(a, addr); err != nil {
			t.Error(err)
			return
		}
		mac, _ := net.ParseMAC("02:00:00:00:77:02")
		if err := netlink.NeighAdd(&netlink.Neigh{LinkIndex: a.Attrs().Index, IP: net.ParseIP("10.77.0.2"), HardwareAddr: mac, State: netlink.NUD_PERMANENT}); err != nil {
			t.Error(err)
			return
		}
		// 8 kbit/s with room for one frame: the second of a burst waits,
		// the rest are dropped.
		tbf := &netlink.Tbf{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: a.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}, Rate: 1000, Limit: 1600, Buffer: netlink.Xmittime(1000, 1600)}
		if err := netlink.QdiscAdd(tbf); err != nil {
			t.Errorf("add tbf: %v", err)
			return
		}
		before := &Sample{}
		readQdiscs(r, before)
		conn, err := net.Dial("udp4", "10.77.0.2:9")
		if err != nil {
			t.Error(err)
			return
		}
		for i := 0; i < 50; i++ {
			conn.Write(make([]byte, 1000)) // drops are the point
		}
		conn.Close()
		after := &Sample{}
		readQdiscs(r, after)
		got := ruleQdiscDrops(&Input{Before: before, After: after, Interval: time.Second})
		if len(got) != 1 || got[0].Object != "ntqa" || got[0].Severity != Warning || !strings.Contains(got[0].Evidence, "qdisc tbf") {
			t.Errorf("findings %+v (before %+v, after %+v)", got, before.Qdiscs, after.Qdiscs)
		}
		if c := after.Qdiscs["ntqa"]; c.Drops < 40 {
			t.Errorf("tbf counted %d drops of 50 sends", c.Drops)
		}
	}()
	<-done
}
