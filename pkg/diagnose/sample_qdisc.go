package diagnose

import (
	"net"

	"github.com/vishvananda/netlink"

	"github.com/nettune/nettune/pkg/host"
)

// qdiscCounters are the statistics of an interface's root qdisc (what
// the first line of tc -s qdisc show dev <if> shows). A root mq or
// mqprio sums its per-queue children (mq_dump), and a classful root
// counts the drops of its leaves (htb_enqueue), so the root alone is the
// interface's queueing discipline without double counting.
type qdiscCounters struct {
	Kind                           string
	Drops, Overlimits, Requeues    uint64
	Packets, Backlog, QueueLengths uint64
}

// readQdiscs reads the root qdisc of every interface of the running
// host's network namespace through netlink (RTM_GETQDISC). There is no
// file for it under a --root snapshot: offline, the map stays empty and
// the rule finds nothing.
func readQdiscs(r *host.Root, s *Sample) {
	if !r.Live() {
		return
	}
	links, err := netlink.LinkList()
	if err != nil {
		return
	}
	s.Qdiscs = map[string]qdiscCounters{}
	for _, l := range links {
		a := l.Attrs()
		if a.Flags&net.FlagLoopback != 0 {
			continue
		}
		qs, err := netlink.QdiscList(l)
		if err != nil {
			continue
		}
		for _, q := range qs {
			qa := q.Attrs()
			if qa.Parent != netlink.HANDLE_ROOT || qa.Statistics == nil || qa.Statistics.Queue == nil {
				continue
			}
			c := qdiscCounters{Kind: q.Type()}
			st := qa.Statistics
			c.Drops, c.Overlimits, c.Requeues = uint64(st.Queue.Drops), uint64(st.Queue.Overlimits), uint64(st.Queue.Requeues)
			c.Backlog, c.QueueLengths = uint64(st.Queue.Backlog), uint64(st.Queue.Qlen)
			if st.Basic != nil {
				c.Packets = uint64(st.Basic.Packets)
			}
			s.Qdiscs[a.Name] = c
		}
	}
}
