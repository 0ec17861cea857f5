package nics

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Attributes of the flow steering and RSS hash changes.
const (
	// attrRSSHash: "func=toeplitz key=6d:5a:…" (the keys the profile sets).
	attrRSSHash = "rss-hash"
	// attrFlowHash + flow type: ethtool's letters.
	attrFlowHash = "rx-flow-hash:"
	// attrNTuple + location (or "any " + match when the driver picks
	// locations): the rule in ethtool -N's words, "" for none.
	attrNTuple = "ntuple:"
	// ntupleFeature is the feature that enables the rule table.
	ntupleFeature = "rx-ntuple-filter"
)

// noNTuple is the remedy for a NIC without ntuple filters.
const noNTuple = "remove spec.%s.ntuple for this NIC: steer with rss (weights, startQueue, flowHash) or rps instead, or use a NIC whose driver has ntuple filters (ethtool -k shows ntuple-filters: off without [fixed])"

func (p *planner) steering() ethtool.Steering {
	return ethtool.OpenSteering(p.eth)
}

// rssIndirValue is the value of the rss change for queues or weights and
// startQueue, with the highest queue it uses; "" when neither is given.
func rssIndirValue(r *profile.RSS) (string, int) {
	switch {
	case r.Queues > 0 && r.StartQueue == 0:
		return "even:" + strconv.Itoa(r.Queues), r.Queues - 1
	case r.Queues > 0:
		return fmt.Sprintf("equal %d start %d", r.Queues, r.StartQueue), r.StartQueue + r.Queues - 1
	case len(r.Weights) > 0:
		ws := make([]string, len(r.Weights))
		last := 0
		for i, w := range r.Weights {
			ws[i] = strconv.Itoa(w)
			if w > 0 {
				last = i
			}
		}
		v := "weight " + strings.Join(ws, " ")
		if r.StartQueue > 0 {
			v += " start " + strconv.Itoa(r.StartQueue)
		}
		return v, r.StartQueue + last
	}
	return "", -1
}

// weightedIndir parses "equal N start S" and "weight W… [start S]" into
// a table of size entries the way ethtool -X fills it (fill_indir_table
// in ethtool's ethtool.c); ok false for other values.
func weightedIndir(s string, size int) ([]uint32, bool, error) {
	f := strings.Fields(s)
	if len(f) == 0 || (f[0] != "equal" && f[0] != "weight") {
		return nil, false, nil
	}
	start := 0
	if n := len(f); n >= 3 && f[n-2] == "start" {
		v, err := strconv.Atoi(f[n-1])
		if err != nil || v < 0 {
			return nil, true, fmt.Errorf("RSS value %q: bad start queue", s)
		}
		start, f = v, f[:n-2]
	}
	nums := make([]int, 0, len(f)-1)
	for _, x := range f[1:] {
		v, err := strconv.Atoi(x)
		if err != nil || v < 0 {
			return nil, true, fmt.Errorf("RSS value %q: %q is not a number", s, x)
		}
		nums = append(nums, v)
	}
	t := make([]uint32, size)
	if f[0] == "equal" {
		if len(nums) != 1 || nums[0] < 1 {
			return nil, true, fmt.Errorf("RSS value %q: bad queue count", s)
		}
		for i := range t {
			t[i] = uint32(start + i%nums[0])
		}
		return t, true, nil
	}
	sum := 0
	for _, w := range nums {
		sum += w
	}
	if sum == 0 {
		return nil, true, fmt.Errorf("RSS value %q: all weights are 0", s)
	}
	if sum > size {
		return nil, true, fmt.Errorf("RSS value %q: the weights add up to %d, more than the %d entries of the table", s, sum, size)
	}
	j, partial := -1, 0
	for i := range t {
		for i >= size*partial/sum {
			j++
			partial += nums[j]
		}
		t[i] = uint32(start + j)
	}
	return t, true, nil
}

// planRSSHash plans rss.hashFunction and rss.hashKey.
func (p *planner) planRSSHash(label string, n NIC, r *profile.RSS) {
	if r.HashFunction == "" && r.HashKey == "" {
		return
	}
	obj := label + "/rss"
	st := p.steering()
	var cur ethtool.RSSHash
	err := ethtool.ErrNotSupported
	if st != nil {
		cur, err = st.RSSHash(n.Name)
	}
	if err != nil {
		if errors.Is(err, ethtool.ErrNotSupported) {
			p.errorf(obj, "remove rss.hashFunction and rss.hashKey for this NIC", "%s has no RSS hash settings (ETHTOOL_GRSSH: %v)", n, err)
			return
		}
		p.errorf(obj, "", "read the RSS hash of %s: %v", n.Name, err)
		return
	}
	want, before := map[string]string{}, map[string]string{}
	if r.HashFunction != "" {
		want["func"], before["func"] = r.HashFunction, cur.Func
		if cur.Func == "" {
			before["func"] = "unknown"
		}
	}
	if r.HashKey != "" {
		key, err := ethtool.ParseKey(strings.ToLower(r.HashKey))
		if err != nil {
			p.errorf(obj, "", "rss.hashKey: %v", err)
			return
		}
		switch {
		case cur.KeySize == 0:
			p.errorf(obj, "remove rss.hashKey for this NIC", "%s has no RSS hash key to set (its driver reports a key size of 0)", n)
			return
		case len(key) != cur.KeySize:
			p.errorf(obj, fmt.Sprintf("give a key of %d bytes (ethtool -x %s shows the current one)", cur.KeySize, n.Name), "rss.hashKey has %d bytes; the key of %s has %d", len(key), n, cur.KeySize)
			return
		}
		want["key"], before["key"] = ethtool.FormatKey(key), ethtool.FormatKey(cur.Key)
	}
	after, b := formatStrKV(want), formatStrKV(before)
	p.add(plan.Change{
		Object: n.Name, Attribute: attrRSSHash, Before: b, After: after,
		Reason:  "the RSS hash decides which flows share a queue",
		Command: "ethtool -X " + n.Name + rssHashArgs(want),
	}, b == after, "")
}

func rssHashArgs(v map[string]string) string {
	s := ""
	if f, ok := v["func"]; ok {
		s += " hfunc " + f
	}
	if k, ok := v["key"]; ok {
		s += " hkey " + k
	}
	return s
}

// formatStrKV writes func=… key=… in that order.
func formatStrKV(v map[string]string) string {
	var out []string
	for _, k := range []string{"func", "key"} {
		if x, ok := v[k]; ok {
			out = append(out, k+"="+x)
		}
	}
	return strings.Join(out, " ")
}

func parseStrKV(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || (k != "func" && k != "key") {
			return nil, fmt.Errorf("RSS hash value %q: %q is not func=… or key=…", s, f)
		}
		out[k] = v
	}
	return out, nil
}

// planFlowHash plans rss.flowHash.
func (p *planner) planFlowHash(label string, n NIC, fh map[string]string) {
	types := make([]string, 0, len(fh))
	for ft := range fh {
		types = append(types, ft)
	}
	slices.Sort(types)
	st := p.steering()
	for _, ft := range types {
		obj := label + "/rss/flowHash/" + ft
		want, err := ethtool.NormHashFields(fh[ft])
		if err != nil {
			p.errorf(obj, "", "rss.flowHash.%s: %v", ft, err)
			continue
		}
		cur := ""
		err = ethtool.ErrNotSupported
		if st != nil {
			cur, err = st.FlowHash(n.Name, ft)
		}
		if err != nil {
			if errors.Is(err, ethtool.ErrNotSupported) || errors.Is(err, syscall.EINVAL) {
				p.errorf(obj, "remove rss.flowHash."+ft+" for this NIC", "%s does not let the hash fields of %s be read or set (ETHTOOL_GRXFH: %v)", n, ft, err)
				continue
			}
			p.errorf(obj, "", "read rx-flow-hash %s of %s: %v", ft, n.Name, err)
			continue
		}
		p.add(plan.Change{
			Object: n.Name, Attribute: attrFlowHash + ft, Before: cur, After: want,
			Reason:  "the header fields hashed decide how flows of " + ft + " spread over the queues",
			Command: "ethtool -N " + n.Name + " rx-flow-hash " + ft + " " + want,
		}, cur == want, "")
	}
}

// planNTuple plans spec.nics[].ntuple: refused when the NIC has no
// ntuple filters, checked against the table on the NIC and the queues the
// plan leaves; the rx-ntuple-filter feature turned on first.
func (p *planner) planNTuple(label string, n NIC, e profile.NIC, qs queueState) {
	obj := label + "/ntuple"
	feats, err := p.eth.Features(n.Name)
	if err != nil {
		p.ethtoolProblem(n, "offload features (ethtool -k)", "ntuple", err)
		return
	}
	f, has := feats[ntupleFeature]
	if !has || (f.Fixed && !f.Active) {
		state := "absent"
		if has {
			state = "off [fixed]"
		}
		p.errorf(obj, fmt.Sprintf(noNTuple, label), "this NIC has no ntuple filters: %s (driver %s) reports %s %s (ethtool -k %s: ntuple-filters: %s)", n.Name, n.Driver, ntupleFeature, state, n.Name, state)
		return
	}
	if v, ok := e.Features[ntupleFeature]; ok && !v {
		p.errorf(obj, "drop "+ntupleFeature+": false from features, or the rules", "spec.%s.features turns %s off, which the ntuple rules need", label, ntupleFeature)
		return
	}
	st := p.steering()
	var tbl ethtool.RuleTable
	err = ethtool.ErrNotSupported
	if st != nil {
		tbl, err = st.Rules(n.Name)
	}
	if err != nil {
		if errors.Is(err, ethtool.ErrNotSupported) {
			p.errorf(obj, fmt.Sprintf(noNTuple, label), "this NIC has no ntuple filters: %s (driver %s) has no rule table (ETHTOOL_GRXCLSRLCNT: %v)", n.Name, n.Driver, err)
			return
		}
		p.errorf(obj, "", "read the ntuple rules of %s: %v", n.Name, err)
		return
	}
	rules := make([]ethtool.Rule, len(e.NTuple))
	ok := true
	for j, pr := range e.NTuple {
		o := fmt.Sprintf("%s[%d]", obj, j)
		r, err := ethtool.ParseRule(pr.Spec())
		if err != nil {
			p.errorf(o, "", "%v", err)
			ok = false
			continue
		}
		if !r.Drop && qs.rx > 0 && r.Queue >= uint64(qs.rx) {
			p.errorf(o, fmt.Sprintf("use a queue below %d, or raise channels", qs.rx), "queue %d is beyond the %d rx queues %s has after the plan (0-%d)", r.Queue, qs.rx, n.Name, qs.rx-1)
			ok = false
		}
		if r.Location != ethtool.LocAny && r.Location >= tbl.Size {
			p.errorf(o, fmt.Sprintf("use a location below %d", tbl.Size), "location %d is beyond the %d-entry rule table of %s", r.Location, tbl.Size, n.Name)
			ok = false
		}
		rules[j] = r
	}
	if !ok {
		return
	}
	// Where each rule goes: its own location; else where the same rule
	// already is (a second apply); else the driver's choice (special
	// locations) or the lowest location nobody uses.
	used := map[uint32]bool{}
	for _, r := range rules {
		if r.Location != ethtool.LocAny {
			used[r.Location] = true
		}
	}
	for l := range tbl.Foreign {
		used[l] = true
	}
	for _, h := range tbl.Rules {
		used[h.Location] = true
	}
	for j := range rules {
		r := &rules[j]
		o := fmt.Sprintf("%s[%d]", obj, j)
		for _, h := range tbl.Rules {
			if h.Match() != r.Match() {
				continue
			}
			if r.Location == ethtool.LocAny && h.Action() == r.Action() {
				r.Location = h.Location
				continue
			}
			if h.Location != r.Location {
				p.errorf(o, fmt.Sprintf("delete it (ethtool -N %s delete %d) or drop this rule", n.Name, h.Location), "%s already has a rule for the same packets at location %d (%s)", n.Name, h.Location, h)
				ok = false
			}
		}
		if r.Location != ethtool.LocAny {
			if why, foreign := tbl.Foreign[r.Location]; foreign {
				p.errorf(o, fmt.Sprintf("choose another location, or delete it (ethtool -N %s delete %d)", n.Name, r.Location), "location %d of %s holds a rule nettune does not manage (%s)", r.Location, n.Name, why)
				ok = false
			} else if h, taken := tbl.At(r.Location); taken && h.String() != r.String() {
				p.errorf(o, fmt.Sprintf("choose another location, or delete it (ethtool -N %s delete %d)", n.Name, r.Location), "location %d of %s holds another rule (%s)", r.Location, n.Name, h)
				ok = false
			}
			continue
		}
		if tbl.Special {
			continue
		}
		free := false
		for l := range tbl.Size {
			if !used[l] {
				r.Location, used[l], free = l, true, true
				break
			}
		}
		if !free {
			p.errorf(o, "delete rules you no longer need", "the %d-entry rule table of %s is full", tbl.Size, n.Name)
			ok = false
		}
	}
	if !ok {
		return
	}
	if !f.Active {
		if _, own := e.Features[ntupleFeature]; !own {
			p.add(plan.Change{
				Object: n.Name, Attribute: attrFeature + ntupleFeature, Before: "off", After: "on",
				Reason:  "the ntuple rules need the NIC's rule table on",
				Command: "ethtool -K " + n.Name + " ntuple on",
			}, false, "")
		}
	}
	for _, r := range rules {
		attr := attrNTuple + strconv.FormatUint(uint64(r.Location), 10)
		before := ""
		if r.Location == ethtool.LocAny {
			attr = attrNTuple + "any " + r.Match()
			for _, h := range tbl.Rules {
				if h.Match() == r.Match() && h.Action() == r.Action() {
					before = r.String()
				}
			}
		} else if h, taken := tbl.At(r.Location); taken {
			before = h.String()
		}
		p.add(plan.Change{
			Object: n.Name, Attribute: attr, Before: before, After: r.String(),
			Reason:  "steer the flow in hardware",
			Command: "ethtool -N " + n.Name + " " + ethtoolRuleArgs(r),
		}, before == r.String(), "")
	}
}

// ethtoolRuleArgs is the rule in ethtool -N's command-line syntax, where
// a mask's set bits are the ones ignored.
func ethtoolRuleArgs(r ethtool.Rule) string {
	parts := []string{"flow-type", r.FlowType}
	ip := func(k string, pf netip.Prefix) {
		if !pf.IsValid() {
			return
		}
		parts = append(parts, k, pf.Addr().String())
		if pf.Bits() < pf.Addr().BitLen() {
			// ethtool's "m" sets the bits it ignores: the host part.
			m := make([]byte, pf.Addr().BitLen()/8)
			for i := pf.Bits(); i < len(m)*8; i++ {
				m[i/8] |= 0x80 >> (i % 8)
			}
			a, _ := netip.AddrFromSlice(m)
			parts = append(parts, "m", a.String())
		}
	}
	if r.FlowType == "ether" {
		if r.SrcMAC != nil {
			parts = append(parts, "src", r.SrcMAC.String())
		}
		if r.DstMAC != nil {
			parts = append(parts, "dst", r.DstMAC.String())
		}
	}
	ip("src-ip", r.Src)
	ip("dst-ip", r.Dst)
	if r.SrcPort != nil {
		parts = append(parts, "src-port", strconv.Itoa(int(*r.SrcPort)))
	}
	if r.DstPort != nil {
		parts = append(parts, "dst-port", strconv.Itoa(int(*r.DstPort)))
	}
	if r.VLAN != nil {
		parts = append(parts, "vlan", strconv.Itoa(int(*r.VLAN)), "m", "0xf000")
	}
	parts = append(parts, r.Action())
	if r.Location != ethtool.LocAny {
		parts = append(parts, "loc", strconv.FormatUint(uint64(r.Location), 10))
	}
	return strings.Join(parts, " ")
}

func steeringOf(eth ethtool.Interface) (ethtool.Steering, error) {
	st := ethtool.OpenSteering(eth)
	if st == nil {
		return nil, fmt.Errorf("this ethtool implementation has no flow steering: %w", ethtool.ErrNotSupported)
	}
	return st, nil
}

// setRSSHash sets the hash function and key and reads them back.
func setRSSHash(eth ethtool.Interface, ifname, value string) error {
	st, err := steeringOf(eth)
	if err != nil {
		return err
	}
	want, err := parseStrKV(value)
	if err != nil {
		return err
	}
	cur, err := st.RSSHash(ifname)
	if err != nil {
		return err
	}
	hfunc := ""
	if f, ok := want["func"]; ok && f != cur.Func && f != "unknown" {
		hfunc = f
	}
	var key []byte
	if k, ok := want["key"]; ok && k != ethtool.FormatKey(cur.Key) {
		if key, err = ethtool.ParseKey(k); err != nil {
			return err
		}
	}
	if hfunc == "" && key == nil {
		return nil
	}
	if err := st.SetRSSHash(ifname, hfunc, key); err != nil {
		return err
	}
	got, err := st.RSSHash(ifname)
	if err != nil {
		return err
	}
	if hfunc != "" && got.Func != hfunc {
		return verify("%s: set RSS hash function %s, reads back %q", ifname, hfunc, got.Func)
	}
	if key != nil && ethtool.FormatKey(got.Key) != ethtool.FormatKey(key) {
		return verify("%s: set RSS hash key %s, reads back %s", ifname, ethtool.FormatKey(key), ethtool.FormatKey(got.Key))
	}
	return nil
}

// setFlowHash sets the hash fields of a flow type and reads them back.
func setFlowHash(eth ethtool.Interface, ifname, flowType, value string) error {
	st, err := steeringOf(eth)
	if err != nil {
		return err
	}
	cur, err := st.FlowHash(ifname, flowType)
	if err != nil {
		return err
	}
	if cur == value {
		return nil
	}
	if err := st.SetFlowHash(ifname, flowType, value); err != nil {
		return err
	}
	got, err := st.FlowHash(ifname, flowType)
	if err != nil {
		return err
	}
	if got != value {
		return verify("%s: set rx-flow-hash %s %s, reads back %s", ifname, flowType, value, got)
	}
	return nil
}

// setNTuple brings the rule of a location to value: the rule, or none
// ("", on revert), and reads the table back.
func setNTuple(eth ethtool.Interface, ifname, attr, value string) error {
	st, err := steeringOf(eth)
	if err != nil {
		return err
	}
	key := strings.TrimPrefix(attr, attrNTuple)
	tbl, err := st.Rules(ifname)
	if err != nil {
		return err
	}
	// find is the rule this change is about on the NIC now.
	var find func(ethtool.RuleTable) (ethtool.Rule, bool)
	if match, ok := strings.CutPrefix(key, "any "); ok {
		var want ethtool.Rule
		if value != "" {
			if want, err = ethtool.ParseRule(value); err != nil {
				return err
			}
		}
		find = func(t ethtool.RuleTable) (ethtool.Rule, bool) {
			for _, h := range t.Rules {
				if h.Match() == match && (value == "" || h.Action() == want.Action()) {
					return h, true
				}
			}
			return ethtool.Rule{}, false
		}
	} else {
		loc, err := strconv.ParseUint(key, 10, 32)
		if err != nil {
			return fmt.Errorf("ntuple change %q has no location", attr)
		}
		find = func(t ethtool.RuleTable) (ethtool.Rule, bool) { return t.At(uint32(loc)) }
	}
	have, present := find(tbl)
	if value == "" {
		if !present {
			return nil
		}
		if err := st.DeleteRule(ifname, have.Location); err != nil && !errors.Is(err, syscall.ENOENT) {
			return err
		}
		if tbl, err = st.Rules(ifname); err != nil {
			return err
		}
		if h, still := find(tbl); still {
			return verify("%s: deleted ntuple rule %d, reads back %s", ifname, have.Location, h)
		}
		return nil
	}
	want, err := ethtool.ParseRule(value)
	if err != nil {
		return err
	}
	if present && have.Match() == want.Match() && have.Action() == want.Action() {
		return nil
	}
	loc, err := st.InsertRule(ifname, want)
	if err != nil {
		return err
	}
	if tbl, err = st.Rules(ifname); err != nil {
		return err
	}
	got, ok := tbl.At(loc)
	if !ok || got.Match() != want.Match() || got.Action() != want.Action() {
		if !ok {
			return verify("%s: inserted ntuple rule %s at %d, the table has none there", ifname, want, loc)
		}
		return verify("%s: inserted ntuple rule %s at %d, reads back %s", ifname, want, loc, got)
	}
	return nil
}
