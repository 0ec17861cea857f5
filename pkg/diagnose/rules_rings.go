package diagnose

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
)

// ringFullDrops returns the packets a NIC dropped on ring-full over the
// interval (the generic counters and the driver's own, as NT201 reads
// them; an upper bound when a driver counts the same drop twice).
func ringFullDrops(in *Input, name string) (uint64, []string) {
	after, before := in.After.NICStats[name], in.Before.NICStats[name]
	var total uint64
	var ev []string
	keys := make([]string, 0, len(after))
	for c := range after {
		keys = append(keys, c)
	}
	sort.Strings(keys)
	for _, c := range keys {
		stat, driver := strings.CutPrefix(c, "ethtool:")
		if !driver && !slices.Contains(ringDrops, c) {
			continue
		}
		if d := delta(before[c], after[c]); d > 0 {
			if g, ok := countedIn[stat]; driver && ok {
				if _, generic := after[g]; generic {
					continue
				}
			}
			total += d
			ev = append(ev, c+": "+per(d, in.Interval))
		}
	}
	return total, ev
}

// nicSpec returns the spec.nics entry that tunes a NIC, and its index.
func nicSpec(in *Input, name string) (int, bool) {
	for _, n := range profileNICs(in) {
		if n.Name == name {
			return n.Index, true
		}
	}
	return -1, false
}

// ruleRingBelowMax: a NIC drops on ring-full while its receive ring is
// smaller than the hardware allows; the cheapest fix NT201 names, made
// specific.
func ruleRingBelowMax(in *Input) []Finding {
	names := make([]string, 0, len(in.After.NICStats))
	for n := range in.After.NICStats {
		names = append(names, n)
	}
	sort.Strings(names)
	le := &lazyEthtool{root: in.Root}
	defer le.close()
	var out []Finding
	for _, name := range names {
		drops, ev := ringFullDrops(in, name)
		if drops == 0 {
			continue
		}
		eth, err := le.get()
		if err != nil {
			return nil
		}
		r, err := eth.Rings(name)
		if err != nil || r.RXMax == 0 || r.RX >= r.RXMax {
			continue
		}
		remedy := fmt.Sprintf("set spec.nics[].rings.rx: %d (ethtool -G %s rx %d): a larger ring absorbs longer bursts; then check NT201 again", r.RXMax, name, r.RXMax)
		if i, ok := nicSpec(in, name); ok && in.Spec.NICs[i].Rings != nil && in.Spec.NICs[i].Rings.RX != nil {
			remedy = fmt.Sprintf("the profile sets spec.nics[%d].rings.rx: %d; raise it toward the maximum %d (a larger ring costs cache footprint, which latency profiles may have chosen to avoid), or add queues", i, *in.Spec.NICs[i].Rings.RX, r.RXMax)
		}
		out = append(out, Finding{
			Severity: Warning, Object: name,
			Message:  fmt.Sprintf("%s drops packets on ring-full with a receive ring of %d descriptors, below its maximum of %d", name, r.RX, r.RXMax),
			Evidence: strings.Join(ev, "; ") + fmt.Sprintf("; ethtool -g: rx %d, max %d", r.RX, r.RXMax),
			Remedy:   remedy,
		})
	}
	return out
}

// ruleQueuesBelowCores: a NIC receives on fewer queues than both the
// housekeeping CPUs of its NUMA node and the NIC's maximum, so RSS spreads
// its load over fewer CPUs than it could. A profile that sets the NIC's
// channels chose the count; the rule stays silent then.
func ruleQueuesBelowCores(in *Input) []Finding {
	if len(in.Topo.NICs) == 0 {
		return nil
	}
	iso := isolated(in)
	le := &lazyEthtool{root: in.Root}
	defer le.close()
	var out []Finding
	for _, nic := range in.Topo.NICs {
		if i, ok := nicSpec(in, nic.Name); ok && (in.Spec.NICs[i].Channels != nil || in.Spec.NICs[i].RSS != nil) {
			continue
		}
		eth, err := le.get()
		if err != nil {
			return nil
		}
		ch, err := eth.Channels(nic.Name)
		if err != nil {
			continue
		}
		var cpus cpuset.Set
		where := "the host"
		if nic.Node >= 0 && len(in.Topo.Nodes) > 1 {
			cpus, where = in.Topo.CPUsOfNode(nic.Node), fmt.Sprintf("NUMA node %d", nic.Node)
		} else {
			cpus = in.Topo.Online
		}
		hk := cpus.Difference(iso).Len()
		rxq := int(ch.RXQueues())
		maxq := int(ch.MaxCombined)
		if ch.Combined == 0 {
			maxq = int(ch.MaxRX)
		}
		want := min(hk, maxq)
		if rxq == 0 || rxq >= want {
			continue
		}
		out = append(out, Finding{
			Severity: Info, Object: nic.Name,
			Message:  fmt.Sprintf("%s receives on %d queues while %s has %d housekeeping CPUs and the NIC offers up to %d: RSS spreads its load over fewer CPUs than it could", nic.Name, rxq, where, hk, maxq),
			Evidence: fmt.Sprintf("ethtool -l: combined %d rx %d (max combined %d, rx %d); %s CPUs %s, isolated %s", ch.Combined, ch.RX, ch.MaxCombined, ch.MaxRX, where, cpus, iso),
			Remedy:   fmt.Sprintf("set spec.nics[].channels.combined: %d (ethtool -L %s combined %d) and pin the queue IRQs to those CPUs (spec.nics[].irqAffinity)", want, nic.Name, want),
		})
	}
	return out
}

// txDrops are the generic transmit drop counters: packets the driver
// dropped (tx_dropped: no descriptor, link down, a bad packet) and FIFO
// underruns (tx_fifo_errors).
var txDrops = []string{"tx_dropped", "tx_fifo_errors"}

func ruleTxDrops(in *Input) []Finding {
	names := make([]string, 0, len(in.After.NICStats))
	for n := range in.After.NICStats {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Finding
	for _, name := range names {
		after, before := in.After.NICStats[name], in.Before.NICStats[name]
		var total uint64
		var ev []string
		for _, c := range txDrops {
			if d := delta(before[c], after[c]); d > 0 {
				total += d
				ev = append(ev, c+": "+per(d, in.Interval))
			}
		}
		if total == 0 {
			continue
		}
		if d := delta(before["tx_packets"], after["tx_packets"]); d > 0 {
			ev = append(ev, "tx_packets: "+per(d, in.Interval))
		}
		out = append(out, Finding{
			Severity: Warning, Object: name,
			Message:  fmt.Sprintf("%s dropped %d packets on transmit", name, total),
			Evidence: strings.Join(ev, "; "),
			Remedy:   fmt.Sprintf("the driver had no free transmit descriptor or the link went down: raise spec.nics[].rings.tx (ethtool -G %s tx <max>), add transmit queues (spec.nics[].channels) and spread senders over them (spec.nics[].xps); drops in the qdisc above the driver show in tc -s qdisc show dev %s", name, name),
		})
	}
	return out
}

// lazyEthtool opens ethtool for a root at the first rule that needs it
// for a NIC; close closes it when it was opened.
type lazyEthtool struct {
	root *host.Root
	eth  ethtool.Interface
	err  error
}

func (l *lazyEthtool) get() (ethtool.Interface, error) {
	if l.eth == nil && l.err == nil {
		l.eth, l.err = ethtool.Open(l.root)
	}
	return l.eth, l.err
}

func (l *lazyEthtool) close() {
	if l.eth != nil {
		l.eth.Close()
	}
}
