package nics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/irqaffinity"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/netqueue"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// planner computes the items of spec.nics. It only reads.
type planner struct {
	ctx  context.Context
	env  *module.Env
	r    *host.Root
	spec *profile.Spec
	topo *numa.Topology
	inv  *Inventory
	eth  ethtool.Interface
	irqs []irqaffinity.IRQ
	// managed are the IRQs that cannot be moved (read with irqs).
	managed *managedIRQs
	// isolated are the CPUs isolated now or by the profile.
	isolated cpuset.Set
	// noRPS are the CPUs the kernel leaves out of an rps_cpus mask (not
	// housekeeping for HK_TYPE_DOMAIN or HK_TYPE_WQ, now or after the
	// profile's next boot), and noRPSWhy says where that comes from.
	noRPS    cpuset.Set
	noRPSWhy string
	// irqLoad counts the queue IRQs the plan puts on each CPU, over all
	// NICs, so that the next NIC's queues go to the least loaded CPUs.
	irqLoad map[int]int
	// nbits is the width of the kernel's CPU masks.
	nbits int

	items    []plan.Item
	problems []plan.Problem
	// pinned are the IRQs the plan places and their CPUs, for
	// irqbalance.
	pinned map[int]cpuset.Set
	// queueDirs are the NICs' queue lists (queueList), shared with
	// readAhead under queueMu.
	queueMu   sync.Mutex
	queueDirs map[string]queueDir
}

func (m Module) newPlanner(ctx context.Context, env *module.Env, spec *profile.Spec) (*planner, error) {
	r := env.Root
	topo, err := numa.ReadOnce(ctx, r)
	if err != nil {
		return nil, err
	}
	eth, err := m.open(r)
	if err != nil {
		return nil, err
	}
	if f, ok := eth.(*ethtool.Files); ok {
		eth = f.ForPlan() // the planner only reads
	}
	inv, err := ReadInventory(r, topo, eth)
	if err != nil {
		eth.Close()
		return nil, err
	}
	p := &planner{
		ctx: ctx, env: env, r: r, spec: spec, topo: topo, inv: inv, eth: eth,
		isolated: topo.Isolated, nbits: topo.Possible.Max() + 1,
		pinned: map[int]cpuset.Set{}, irqLoad: map[int]int{},
	}
	if spec.CPU != nil {
		p.isolated = p.isolated.Union(spec.CPU.Isolated)
	}
	p.noRPS, p.noRPSWhy = rpsExcluded(r, topo, spec.CPU)
	return p, nil
}

func (p *planner) problem(sev plan.Severity, object, remedy, format string, args ...any) {
	p.problems = append(p.problems, plan.Problem{Severity: sev, Module: "nics", Object: object, Message: fmt.Sprintf(format, args...), Remedy: remedy})
}

func (p *planner) errorf(object, remedy, format string, args ...any) {
	p.problem(plan.Error, object, remedy, format, args...)
}

func (p *planner) warnf(object, remedy, format string, args ...any) {
	p.problem(plan.Warning, object, remedy, format, args...)
}

// add appends an item, drift when before differs from after by eq.
func (p *planner) add(c plan.Change, same bool, detail string) {
	c.Module = "nics"
	if c.Action == "" {
		c.Action = plan.Set
	}
	if c.When == "" {
		c.When = plan.Live
	}
	it := plan.Item{Change: c, Status: plan.OK, Detail: detail}
	if !same {
		it.Status = plan.Drift
	}
	p.items = append(p.items, it)
}

func (p *planner) permMAC(name string) string {
	a, _ := p.eth.PermAddr(name)
	return a
}

// run plans every entry of spec.nics.
func (p *planner) run() {
	p.items = slices.Grow(p.items, p.itemsEstimate())
	claimed := map[string]int{}
	sockFlows := map[int][]int{}
	for i, entry := range p.spec.NICs {
		label := fmt.Sprintf("nics[%d]", i)
		nics, unbound := p.inv.Select(entry.Match, p.permMAC)
		for _, u := range unbound {
			d := u.Driver
			if d == "" {
				d = "no driver"
			}
			p.warnf(u.PCI, "remove it from the match, or bind it back to its kernel driver (spec.devices) to tune it here",
				"%s matches PCI device %s, which is bound to %s and has no kernel network interface: rings, channels, offloads, IRQs and RPS/XPS do not apply to it (the DPDK application configures it)", label, u.PCI, d)
		}
		if len(nics) == 0 && len(unbound) == 0 {
			p.errorf(label, "fix spec."+label+".match", "match %s selects no NIC; NICs on this host: %s", describeMatch(entry.Match), p.inv.Names())
			continue
		}
		for _, n := range nics {
			if j, dup := claimed[n.Name]; dup {
				p.errorf(n.Name, "make the matches disjoint", "%s is matched by nics[%d] and %s; each NIC may be tuned by one entry", n.Name, j, label)
				continue
			}
			claimed[n.Name] = i
			qs := p.planNIC(label, n, entry)
			if entry.RFS != nil {
				sockFlows[entry.RFS.FlowEntries] = append(sockFlows[entry.RFS.FlowEntries], i)
				p.planFlowCounts(n, entry.RFS.FlowEntries, qs)
			}
		}
	}
	p.planSockFlows(sockFlows)
	if len(p.pinned) > 0 {
		p.checkIRQBalance()
	}
}

func describeMatch(m profile.NICMatch) string {
	var parts []string
	for _, f := range []struct{ k, v string }{{"name", m.Name}, {"pci", m.PCI}, {"driver", m.Driver}, {"mac", m.MAC}} {
		if f.v != "" {
			parts = append(parts, f.k+"="+f.v)
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// ethtoolProblem turns an ethtool read error into a profile error.
func (p *planner) ethtoolProblem(n NIC, what, key string, err error) {
	if errors.Is(err, ethtool.ErrNotSupported) {
		p.errorf(n.Name, "remove "+key+" for this NIC", "%s does not support %s: %v", n, what, err)
		return
	}
	p.errorf(n.Name, "", "read %s of %s: %v", what, n.Name, err)
}

// queueState is what a NIC's channel plan does to its queues.
type queueState struct {
	// changes: the channel counts differ from the profile's.
	changes bool
	// rx, tx are the queue counts after the plan (0 when unknown).
	rx, tx int
	// curRX is the rx queue count now.
	curRX int
}

// planNIC plans one NIC; it returns what the plan does to its queues (for
// rps_flow_cnt).
func (p *planner) planNIC(label string, n NIC, e profile.NIC) queueState {
	var qs queueState
	var queuesItem, rssItem *plan.Item
	// Rings and channels: one change.
	if e.Rings != nil || e.Channels != nil {
		it, st, ok := p.queuesItem(n, e)
		qs = st
		if ok {
			queuesItem = &it
		}
	} else if c, err := p.eth.Channels(n.Name); err == nil {
		qs = queueState{rx: int(c.RXQueues()), tx: int(c.TXQueues()), curRX: int(c.RXQueues())}
	}
	if e.RSS != nil && (e.RSS.Queues > 0 || len(e.RSS.Weights) > 0) {
		if it, ok := p.rssItem(label, n, e.RSS, qs); ok {
			rssItem = &it
		}
	} else if qs.changes && qs.rx > 0 {
		if t, err := p.eth.Indir(n.Name); err == nil && ethtool.MaxQueue(t) >= qs.rx {
			p.warnf(n.Name, fmt.Sprintf("add rss: {queues: %d} to spec.%s so nettune rewrites the table", qs.rx, label),
				"the channel change leaves %d rx queues, but the RSS indirection table still points at queues up to %d: the kernel refuses the change if the table was set by hand, and some drivers keep sending flows to queues that no longer exist", qs.rx, ethtool.MaxQueue(t))
		}
	}
	// RSS after channels, except when channels shrink: the table must
	// stop using the queues that go away before they go.
	switch {
	case rssItem != nil && queuesItem != nil && qs.changes && qs.rx < qs.curRX:
		p.items = append(p.items, *rssItem, *queuesItem)
	default:
		for _, it := range []*plan.Item{queuesItem, rssItem} {
			if it != nil {
				p.items = append(p.items, *it)
			}
		}
	}
	if e.Coalesce != nil {
		p.planCoalesce(label, n, e.Coalesce)
	}
	if len(e.Features) > 0 {
		p.planFeatures(n, e.Features)
	}
	if e.TxQueueLen != nil {
		p.planTxQueueLen(n, *e.TxQueueLen)
	}
	if e.RSS != nil {
		p.planRSSHash(label, n, e.RSS)
		p.planFlowHash(label, n, e.RSS.FlowHash)
	}
	if len(e.NTuple) > 0 {
		p.planNTuple(label, n, e, qs)
	}
	p.planNAPI(label, n, e)
	if e.IRQAffinity != nil {
		p.planAffinity(label, n, e.IRQAffinity, qs)
	}
	if e.RPS != nil {
		p.planSteering(label, n, e.RPS, qs, true)
	}
	if e.XPS != nil {
		p.planSteering(label, n, e.XPS, qs, false)
	}
	return qs
}

func (p *planner) queuesItem(n NIC, e profile.NIC) (plan.Item, queueState, bool) {
	want := kv{}
	var rings ethtool.Rings
	var chans ethtool.Channels
	ok := true
	if e.Rings != nil {
		r, err := p.eth.Rings(n.Name)
		if err != nil {
			p.ethtoolProblem(n, "ring sizes (ethtool -G)", "rings", err)
			ok = false
		} else {
			rings = r
			for _, f := range []struct {
				key  string
				v    *int
				max  uint32
				name string
			}{{"rx-ring", e.Rings.RX, r.RXMax, "rx"}, {"tx-ring", e.Rings.TX, r.TXMax, "tx"}} {
				if f.v == nil {
					continue
				}
				if uint32(*f.v) > f.max {
					p.errorf(n.Name, fmt.Sprintf("use at most %d", f.max), "%s ring size %d is above the maximum %d of %s", f.name, *f.v, f.max, n)
					ok = false
					continue
				}
				want[f.key] = uint32(*f.v)
			}
		}
	}
	st := queueState{}
	c, cerr := p.eth.Channels(n.Name)
	if cerr == nil {
		chans = c
		st = queueState{rx: int(c.RXQueues()), tx: int(c.TXQueues()), curRX: int(c.RXQueues())}
	}
	if e.Channels != nil {
		if cerr != nil {
			p.ethtoolProblem(n, "channels (ethtool -L)", "channels", cerr)
			return plan.Item{}, st, false
		}
		for _, f := range []struct {
			key string
			v   *int
			max uint32
		}{{"combined", e.Channels.Combined, c.MaxCombined}, {"rx", e.Channels.RX, c.MaxRX}, {"tx", e.Channels.TX, c.MaxTX}, {"other", e.Channels.Other, c.MaxOther}} {
			if f.v == nil {
				continue
			}
			if uint32(*f.v) > f.max {
				if f.max == 0 {
					p.errorf(n.Name, "use the channel kinds it has (ethtool -l "+n.Name+")", "%s has no %s channels", n, f.key)
				} else {
					p.errorf(n.Name, fmt.Sprintf("use at most %d", f.max), "%s channels %d is above the maximum %d of %s", f.key, *f.v, f.max, n)
				}
				ok = false
				continue
			}
			want[f.key] = uint32(*f.v)
		}
		target := withChannels(c, want)
		if target.RXQueues() == 0 || target.TXQueues() == 0 {
			p.errorf(n.Name, "keep at least one rx and one tx queue", "channels %s leave %s without rx or tx queues", formatKV(queueKeys, want), n.Name)
			ok = false
		}
		st.rx, st.tx = int(target.RXQueues()), int(target.TXQueues())
		st.changes = target != c
	}
	if !ok || len(want) == 0 {
		return plan.Item{}, st, false
	}
	before := queueValues(want, rings, chans)
	after := formatKV(queueKeys, want)
	var cmds []string
	if hasRingKeys(want) {
		cmds = append(cmds, "ethtool -G "+n.Name+" "+ethtoolArgs(want, "rx-ring", "rx", "tx-ring", "tx"))
	}
	if hasChannelKeys(want) {
		cmds = append(cmds, "ethtool -L "+n.Name+" "+ethtoolArgs(want, "combined", "combined", "rx", "rx", "tx", "tx", "other", "other"))
	}
	same := equalKV(before, want)
	it := plan.Item{Change: plan.Change{
		Module: "nics", Object: n.Name, Attribute: attrQueues, Action: plan.Set,
		Before: formatKV(queueKeys, before), After: after, When: plan.Live,
		Reason:  "ring sizes and queue counts in one change: the driver resets the link for each",
		Command: strings.Join(cmds, " && "),
	}, Status: plan.OK}
	if !same {
		it.Status = plan.Drift
	}
	return it, st, true
}

// ethtoolArgs renders "key value" pairs of v for an ethtool command line;
// pairs maps value keys to ethtool's words.
func ethtoolArgs(v kv, pairs ...string) string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if x, ok := v[pairs[i]]; ok {
			out = append(out, pairs[i+1], strconv.FormatUint(uint64(x), 10))
		}
	}
	return strings.Join(out, " ")
}

func (p *planner) rssItem(label string, n NIC, r *profile.RSS, qs queueState) (plan.Item, bool) {
	t, err := p.eth.Indir(n.Name)
	if err != nil {
		p.ethtoolProblem(n, "an RSS indirection table (ethtool -X)", "rss", err)
		return plan.Item{}, false
	}
	queues := r.Queues
	after, top := rssIndirValue(r)
	if qs.rx > 0 && top >= qs.rx {
		if queues > 0 && r.StartQueue == 0 {
			p.errorf(n.Name, fmt.Sprintf("use at most %d, or raise channels", qs.rx), "rss.queues %d is more than the %d rx queues %s has after the plan", queues, qs.rx, n.Name)
		} else {
			p.errorf(label+"/rss", fmt.Sprintf("use queues below %d, or raise channels", qs.rx), "rss (%s) uses queue %d, beyond the %d rx queues %s has after the plan", after, top, qs.rx, n.Name)
		}
		return plan.Item{}, false
	}
	want, err := parseIndir(after, len(t))
	if err != nil {
		p.errorf(label+"/rss", "", "rss: %v", err)
		return plan.Item{}, false
	}
	before := formatIndir(t)
	reason := fmt.Sprintf("spread the %d-entry indirection table over the first %d rx queues", len(t), queues)
	cmd := fmt.Sprintf("ethtool -X %s equal %d", n.Name, queues)
	if !strings.HasPrefix(after, "even:") {
		reason = fmt.Sprintf("spread the %d-entry indirection table: %s", len(t), after)
		cmd = "ethtool -X " + n.Name + " " + after
	}
	it := plan.Item{Change: plan.Change{
		Module: "nics", Object: n.Name, Attribute: attrRSS, Action: plan.Set,
		Before: before, After: after, When: plan.Live,
		Reason: reason, Command: cmd,
	}, Status: plan.OK}
	if !slices.Equal(t, want) {
		it.Status = plan.Drift
	}
	return it, true
}

func (p *planner) planCoalesce(label string, n NIC, c *profile.Coalesce) {
	cur, err := p.eth.Coalesce(n.Name)
	if err != nil {
		p.ethtoolProblem(n, "interrupt coalescing (ethtool -C)", "coalesce", err)
		return
	}
	want := kv{}
	for _, f := range []struct {
		key string
		b   *bool
		v   *int
	}{
		{"adaptive-rx", c.AdaptiveRX, nil}, {"adaptive-tx", c.AdaptiveTX, nil},
		{"rx-usecs", nil, c.RXUsecs}, {"rx-frames", nil, c.RXFrames},
		{"tx-usecs", nil, c.TXUsecs}, {"tx-frames", nil, c.TXFrames},
	} {
		switch {
		case f.b != nil:
			want[f.key] = b2u(*f.b)
		case f.v != nil:
			want[f.key] = uint32(*f.v)
		}
	}
	if len(want) == 0 {
		return
	}
	// A parameter the driver does not support reads as 0 through the
	// ioctl ("n/a" in ethtool -c), which is not "off": setting it to
	// anything else fails at apply (EOPNOTSUPP), and asking for 0 or off
	// would pass as in place while the driver has no such setting at all.
	if bad := unsupportedCoalesce(want, cur); len(bad) > 0 {
		p.errorf(n.Name, coalesceRemedy(label, bad, cur), "%s", coalesceUnsupported(label, n, bad, cur))
		return
	}
	before := coalesceValues(want, cur)
	after := formatKV(coalesceKeys, want)
	p.add(plan.Change{
		Object: n.Name, Attribute: attrCoalesce, Before: formatKV(coalesceKeys, before), After: after,
		Reason:  "interrupt coalescing trades latency against interrupt rate",
		Command: "ethtool -C " + n.Name + " " + strings.ReplaceAll(after, "=", " "),
	}, equalKV(before, want), "")
}

func (p *planner) planFeatures(n NIC, want map[string]bool) {
	have, err := p.eth.Features(n.Name)
	if err != nil {
		p.ethtoolProblem(n, "offload features (ethtool -K)", "features", err)
		return
	}
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	seen := map[string]string{}
	for _, k := range names {
		name, err := featureName(k, have)
		if err != nil {
			p.errorf(n.Name, "use a name from ethtool -k "+n.Name+" (kernel names such as rx-gro, tx-tcp-segmentation)", "%s: %v", n, err)
			continue
		}
		if other, dup := seen[name]; dup {
			p.errorf(n.Name, "list it once", "features %s and %s are the same feature %s", other, k, name)
			continue
		}
		seen[name] = k
		f := have[name]
		on := want[k]
		if f.Fixed && f.Active != on {
			p.errorf(n.Name, "remove it from features", "feature %s of %s is fixed %s by the driver", name, n, onOff(f.Active))
			continue
		}
		detail := ""
		if f.Fixed {
			detail = "fixed by the driver"
		}
		p.add(plan.Change{
			Object: n.Name, Attribute: attrFeature + name, Before: onOff(f.Active), After: onOff(on),
			Reason:  "profile sets feature " + k,
			Command: "ethtool -K " + n.Name + " " + name + " " + onOff(on),
		}, f.Active == on, detail)
	}
}

func (p *planner) planTxQueueLen(n NIC, want int) {
	cur, err := p.eth.TxQueueLen(n.Name)
	if err != nil {
		p.errorf(n.Name, "", "read txqueuelen of %s: %v", n.Name, err)
		return
	}
	p.add(plan.Change{
		Object: n.Name, Attribute: attrTxQLen, Before: strconv.Itoa(cur), After: strconv.Itoa(want),
		Path:    ethtool.TxQueueLenPath(n.Name),
		Reason:  "length of the qdisc queue in front of the driver",
		Command: fmt.Sprintf("ip link set dev %s txqueuelen %d", n.Name, want),
	}, cur == want, "")
}

// irqCPUs are the CPUs a NIC's queue IRQs are spread over.
func (p *planner) irqCPUs(label string, n NIC, a *profile.NICIRQAffinity) (cpuset.Set, bool) {
	strategy := a.Strategy
	if strategy == "" {
		strategy = "local"
		if !a.CPUs.IsEmpty() {
			strategy = "cpus"
		}
	}
	if strategy == "cpus" {
		if bad := a.CPUs.Difference(p.topo.Online); !bad.IsEmpty() {
			p.errorf(n.Name, "use online CPUs ("+p.topo.Online.String()+")", "spec.%s.irqAffinity.cpus names CPUs %s that are not online", label, bad)
			return cpuset.Set{}, false
		}
		return a.CPUs, true
	}
	cpus := irqaffinity.LocalCPUs(p.topo, n.Node, p.isolated, a.IncludeIsolated)
	if cpus.IsEmpty() {
		p.errorf(n.Name, "set includeIsolated: true or use strategy cpus", "no CPU left for %s's IRQs: node %d's CPUs %s are all isolated", n.Name, n.Node, cpuList(p.topo.CPUsOfNode(n.Node)))
		return cpuset.Set{}, false
	}
	return cpus, true
}

func (p *planner) planAffinity(label string, n NIC, a *profile.NICIRQAffinity, qs queueState) {
	cpus, ok := p.irqCPUs(label, n, a)
	if !ok {
		return
	}
	if qs.changes {
		p.warnf(n.Name, "run nettune apply again after this apply; check reports the IRQs until then",
			"the channel change makes the driver re-create %s's queue interrupts, so their affinity is planned on the next run", n.Name)
		return
	}
	if p.irqs == nil {
		t, err := module.Memo(p.ctx, irqaffinity.LinesMemoKey, func() (*irqaffinity.Table, error) { return irqaffinity.ReadInterruptLines(p.r) })
		if err != nil {
			p.errorf(n.Name, "", "%v", err)
			return
		}
		p.irqs = t.IRQs
		p.managed = readManaged(p.r)
	}
	msi, err := irqaffinity.MSIIRQs(n.PCIDir)
	if err != nil {
		p.errorf(n.Name, "", "list interrupts of %s: %v", n.Name, err)
		return
	}
	qlist := irqaffinity.Queues(n.Device(), p.irqs, msi)
	assign := irqaffinity.Balance(qlist, cpus, p.irqLoad)
	if len(assign) == 0 {
		p.warnf(n.Name, "remove irqAffinity for this NIC", "%s has no queue interrupts nettune recognizes (a virtual NIC, or its driver names them differently); irqAffinity does nothing", n)
		return
	}
	var irqs []int
	for _, q := range qlist {
		if _, ok := assign[q.IRQ]; ok {
			irqs = append(irqs, q.IRQ)
		}
	}
	// Where an IRQ is delivered only matters for one already pinned
	// where the plan wants it (a move the kernel has yet to make).
	affs, errs := irqaffinity.ReadRequested(p.r, irqs, func(i int, req cpuset.Set) bool { return req.Equal(assign[irqs[i]]) })
	k := 0
	for _, q := range qlist {
		want, ok := assign[q.IRQ]
		if !ok {
			continue
		}
		irq := strconv.Itoa(q.IRQ)
		object := n.Name + "/" + q.Label + " (irq " + irq + ")"
		cur, err := affs[k], errs[k]
		k++
		if err != nil {
			p.errorf(object, "", "%v", err)
			continue
		}
		ws, hp := want.String(), irqaffinity.ListPath(q.IRQ)
		c := plan.Change{
			Module: "nics", Object: object, Attribute: attrAffinity, Action: plan.Set,
			Before: cur.Raw, After: ws, When: plan.Live, Path: hp,
			Reason:  "pin " + n.Name + " queue " + q.Label + " to CPU " + ws,
			Command: "echo " + ws + " > " + host.ShellQuote(p.r.Path(hp)),
		}
		it := plan.Item{Change: c, Status: plan.OK}
		switch {
		case p.managed.has(q.IRQ):
			it.Status = plan.Unsupported
			it.Detail = "the kernel manages this IRQ's affinity (managed_irq): it cannot be moved"
		case !cur.Requested.Equal(want):
			it.Status = plan.Drift
		default:
			if cur.Pending() {
				it.Detail = fmt.Sprintf("effective CPUs %s: the kernel moves the IRQ when it next fires", cur.Effective)
			}
		}
		// The ban covers every IRQ the profile places, managed or not, so
		// that it does not change once an apply learns an IRQ is managed
		// (irqbalance cannot move those either).
		p.pinned[q.IRQ] = want
		p.items = append(p.items, it)
	}
}

// queueList lists a NIC's rx or tx queues, its queues directory read
// once per plan (RPS, RFS and XPS each walk the same queues). Callers get
// their own slice.
func (p *planner) queueList(name string, rx bool) ([]int, error) {
	p.queueMu.Lock()
	defer p.queueMu.Unlock()
	q, ok := p.queueDirs[name]
	if !ok {
		q.rx, q.tx, q.err = netqueue.List(p.r, name)
		if p.queueDirs == nil {
			p.queueDirs = map[string]queueDir{}
		}
		p.queueDirs[name] = q
	}
	if rx {
		return slices.Clone(q.rx), q.err
	}
	return slices.Clone(q.tx), q.err
}

type queueDir struct {
	rx, tx []int
	err    error
}

// planSteering plans rps_cpus (rx) or xps_cpus (tx) of every queue.
func (p *planner) planSteering(label string, n NIC, q *profile.QueueCPUs, qs queueState, rx bool) {
	key, attr, path := "xps", attrXPS, netqueue.XPSPath
	after := qs.tx
	if rx {
		key, attr, path = "rps", attrRPS, netqueue.RPSPath
		after = qs.rx
	}
	if bad := q.CPUs.Difference(p.topo.Possible); !bad.IsEmpty() {
		p.errorf(n.Name, "use CPUs "+p.topo.Possible.String(), "spec.%s.%s.cpus names CPUs %s this host does not have", label, key, bad)
		return
	}
	cpus := q.CPUs
	if drop := cpus.Intersect(p.noRPS); rx && !drop.IsEmpty() {
		// The kernel ANDs an rps_cpus mask with the housekeeping CPUs
		// (net/core/net-sysfs.c store_rps_map: HK_TYPE_DOMAIN and
		// HK_TYPE_WQ): those CPUs would not read back.
		cpus = cpus.Difference(drop)
		if cpus.IsEmpty() {
			p.errorf(n.Name, "name housekeeping CPUs in rps.cpus",
				"spec.%s.rps.cpus %s are all %s: the kernel refuses an RPS mask without a housekeeping CPU", label, q.CPUs, p.noRPSWhy)
			return
		}
		p.warnf(n.Name, "remove CPUs "+drop.String()+" from spec."+label+".rps.cpus",
			"spec.%s.rps.cpus includes CPUs %s, %s: the kernel leaves them out of RPS masks, so RPS uses CPUs %s", label, drop, p.noRPSWhy, cpus)
	}
	queues, err := p.queueList(n.Name, rx)
	if err != nil {
		p.errorf(n.Name, "", "%v", err)
		return
	}
	queues = p.limitQueues(n, key, queues, qs.changes, after)
	sets := netqueue.Spread(len(queues), cpus, q.Spread)
	hps, paths := make([]string, len(queues)), make([]string, len(queues))
	for i, qn := range queues {
		hps[i] = path(n.Name, qn)
		paths[i] = p.r.Path(hps[i])
	}
	reads := p.r.ReadStrings(paths)
	dir := "rx"
	if !rx {
		dir = "tx"
	}
	what := strings.ToUpper(key) + " of " + dir + " queue "
	// Spread gives runs of equal sets (every queue on the same CPUs, or
	// each on its own): their mask and list are formatted once a run.
	var mask, onCPUs string
	var maskOf cpuset.Set
	for i, qn := range queues {
		hp := hps[i]
		raw, cur, err := netqueue.ParseMask(hp, reads[i].S, reads[i].Err)
		if err != nil && !rx && host.IsNotExist(err) && p.r.Exists(p.r.Path(hp)) {
			// The kernel refuses xps_cpus of a device with a single
			// tx queue (ENOENT on an attribute that is there).
			p.warnf(n.Name, "remove xps for this NIC", "%s has a single tx queue: the kernel has no XPS for it", n.Name)
			return
		}
		if err != nil {
			p.errorf(n.Name, "", "%v", err)
			continue
		}
		if mask == "" || !sets[i].Equal(maskOf) {
			mask, onCPUs, maskOf = netqueue.Mask(sets[i], p.nbits), cpuList(sets[i]), sets[i]
		}
		q := strconv.Itoa(qn)
		p.add(plan.Change{
			Object: n.Name + "/" + dir + "-" + q, Attribute: attr, Before: raw, After: mask, Path: hp,
			Reason:  what + q + " on CPUs " + onCPUs,
			Command: "echo " + mask + " > " + host.ShellQuote(paths[i]),
		}, cur.Equal(sets[i]), "")
	}
}

// limitQueues keeps the queues that exist after a channel change.
func (p *planner) limitQueues(n NIC, key string, queues []int, changes bool, after int) []int {
	if !changes || after <= 0 {
		return queues
	}
	var out []int
	for _, q := range queues {
		if q < after {
			out = append(out, q)
		}
	}
	if after > len(queues) {
		p.warnf(n.Name, "run nettune apply again after this apply",
			"%s: the channel change adds queues that do not exist yet; their %s settings are planned on the next run", n.Name, strings.ToUpper(key))
	}
	return out
}

// planFlowCounts plans rps_flow_cnt of every rx queue: the table divided
// by the rx queues there are (after the plan's channel change, if any).
func (p *planner) planFlowCounts(n NIC, entries int, qs queueState) {
	queues, err := p.queueList(n.Name, true)
	if err != nil {
		p.errorf(n.Name, "", "%v", err)
		return
	}
	nrx := len(queues)
	if qs.changes && qs.rx > 0 {
		nrx = qs.rx
		queues = p.limitQueues(n, "rfs", queues, true, nrx)
	}
	want := netqueue.FlowCount(entries, nrx)
	w := strconv.Itoa(want)
	why := fmt.Sprintf(": %d entries / %d queues, rounded up to a power of two as the kernel does", entries, nrx)
	paths := make([]string, len(queues))
	for i, qn := range queues {
		paths[i] = p.r.Path(netqueue.FlowCntPath(n.Name, qn))
	}
	reads := p.r.ReadStrings(paths)
	for i, qn := range queues {
		hp := netqueue.FlowCntPath(n.Name, qn)
		raw, cur, err := netqueue.ParseCount(hp, reads[i].S, reads[i].Err)
		if err != nil {
			p.errorf(n.Name, "", "read %s: %v", hp, err)
			continue
		}
		q := strconv.Itoa(qn)
		p.add(plan.Change{
			Object: n.Name + "/rx-" + q, Attribute: attrFlowCnt, Before: raw, After: w, Path: hp,
			Reason:  "RFS flow table of rx queue " + q + why,
			Command: "echo " + w + " > " + host.ShellQuote(paths[i]),
		}, cur == want, "")
	}
}

// planSockFlows plans the global RFS table once for every entry that sets
// it.
func (p *planner) planSockFlows(values map[int][]int) {
	if len(values) == 0 {
		return
	}
	if len(values) > 1 {
		var parts []string
		for v, idx := range values {
			parts = append(parts, fmt.Sprintf("%d (nics%v)", v, idx))
		}
		sort.Strings(parts)
		p.errorf(sockFlowObject, "use one rfs.flowEntries value", "the entries set different RFS table sizes: %s; the table is global", strings.Join(parts, ", "))
		return
	}
	var entries int
	for v := range values {
		entries = v
	}
	if entries != 0 && (entries > netqueue.MaxSockFlowEntries || netqueue.RoundUpPow2(entries) != entries) {
		p.errorf(sockFlowObject, fmt.Sprintf("use %d", min(netqueue.RoundUpPow2(entries), netqueue.MaxSockFlowEntries)),
			"rfs.flowEntries %d is not a power of two up to %d: the kernel rounds it up and it would not read back", entries, netqueue.MaxSockFlowEntries)
		return
	}
	for k := range p.spec.Sysctl {
		if strings.Join(profile.SplitSysctlName(k), ".") == sockFlowObject {
			p.errorf(sockFlowObject, "remove it from spec.sysctl; rfs.flowEntries sets it", "spec.sysctl sets %s and spec.nics[].rfs.flowEntries sets it too", k)
			return
		}
	}
	hp := netqueue.SockFlowEntriesPath
	raw, cur, err := netqueue.ReadCount(p.r, hp)
	if err != nil {
		if host.IsNotExist(err) {
			p.errorf(sockFlowObject, "run nettune in the initial network namespace",
				"%s does not exist: the kernel has no RPS support, or this is not the initial network namespace, the only one that has the global RFS table", hp)
			return
		}
		p.errorf(sockFlowObject, "", "read %s: %v", hp, err)
		return
	}
	p.add(plan.Change{
		Object: sockFlowObject, Attribute: attrSockFlows, Before: raw, After: strconv.Itoa(entries), Path: hp,
		Reason:  "RFS: the global socket flow table the per-queue flow counts share",
		Command: fmt.Sprintf("echo %d > %s", entries, host.ShellQuote(p.r.Path(hp))),
	}, cur == entries, "")
}

// checkIRQBalance warns when irqbalance runs and nothing keeps it from
// moving the IRQs this plan pins (spec.irqbalance absent or ignore).
func (p *planner) checkIRQBalance() {
	if b := p.spec.IRQBalance; b != nil && b.Mode != "ignore" {
		return
	}
	st, err := irqaffinity.Service(p.ctx, p.r)
	if err != nil || !st.Active {
		return
	}
	conf := irqaffinity.ConfigPath(p.r)
	content, _ := p.r.ReadFile(p.r.Path(conf))
	banned := irqaffinity.BannedIRQs(string(content))
	var loose []int
	for irq := range p.pinned {
		if !banned[irq] {
			loose = append(loose, irq)
		}
	}
	if len(loose) == 0 {
		return
	}
	sort.Ints(loose)
	p.warnf("irqbalance", "set spec.irqbalance.mode to ban or stop",
		"irqbalance is running and %s does not ban IRQs %v, so it will move the IRQs nettune pins", conf, loose)
}
