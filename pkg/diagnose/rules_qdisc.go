package diagnose

import (
	"fmt"
	"sort"
	"strings"
)

// ruleQdiscDrops (NT107): the root qdisc of an interface dropped packets
// between the samples (its queue overflowed, or a policer or shaper
// dropped), or handed packets back for a busy driver (requeues). These
// drops happen above the driver: the NIC's own counters (NT205) do not
// see them.
func ruleQdiscDrops(in *Input) []Finding {
	names := make([]string, 0, len(in.After.Qdiscs))
	for n := range in.After.Qdiscs {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Finding
	for _, name := range names {
		after := in.After.Qdiscs[name]
		before, ok := in.Before.Qdiscs[name]
		if !ok || before.Kind != after.Kind {
			continue // replaced between the samples: its counters restarted
		}
		drops := delta(before.Drops, after.Drops)
		requeues := delta(before.Requeues, after.Requeues)
		if drops == 0 && requeues == 0 {
			continue
		}
		ev := []string{"qdisc " + after.Kind}
		if drops > 0 {
			ev = append(ev, "dropped: "+per(drops, in.Interval))
		}
		if d := delta(before.Overlimits, after.Overlimits); d > 0 {
			ev = append(ev, "overlimits: "+per(d, in.Interval))
		}
		if requeues > 0 {
			ev = append(ev, "requeues: "+per(requeues, in.Interval))
		}
		if d := delta(before.Packets, after.Packets); d > 0 {
			ev = append(ev, "sent: "+per(d, in.Interval))
		}
		if after.Backlog > 0 {
			ev = append(ev, fmt.Sprintf("backlog %d bytes, %d packets", after.Backlog, after.QueueLengths))
		}
		f := Finding{
			Severity: Warning, Object: name,
			Evidence: strings.Join(ev, "; "),
		}
		if drops > 0 {
			f.Message = fmt.Sprintf("the %s qdisc of %s dropped %d packets before they reached the driver", after.Kind, name, drops)
			f.Remedy = fmt.Sprintf("the queue above the driver overflowed (or a shaper or policer of this qdisc dropped: see overlimits): raise spec.nics[].txqueuelen (the limit of pfifo_fast and of mq's children), spread senders over more transmit queues (spec.nics[].channels, spec.nics[].xps), or pace senders with fq; tc -s qdisc show dev %s shows each queue", name)
		} else {
			f.Severity = Info
			f.Message = fmt.Sprintf("the %s qdisc of %s requeued %d packets: the driver's transmit ring was full", after.Kind, name, requeues)
			f.Remedy = fmt.Sprintf("raise spec.nics[].rings.tx (ethtool -G %s tx <max>) or add transmit queues", name)
		}
		out = append(out, f)
	}
	return out
}
