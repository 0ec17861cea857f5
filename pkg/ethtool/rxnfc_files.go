package ethtool

import (
	"fmt"
	"slices"
	"sort"
	"syscall"
)

// SteeringState is the flow steering and RSS hash part of a State. Each
// section that is absent is an operation the driver does not implement:
// the ioctl answers EOPNOTSUPP, as when its ethtool_ops has no
// get_rxnfc/set_rxnfc or get_rxfh/set_rxfh.
type SteeringState struct {
	// FlowHash are the hash fields per flow type (ETHTOOL_GRXFH), in
	// ethtool's letters; a flow type not listed is refused with EINVAL.
	FlowHash map[string]string `json:"rxFlowHash,omitempty"`
	// FlowHashChoices are the field sets the driver accepts per flow type
	// (igb: tcp4 only sdfn, udp4 sd or sdfn); others are refused with
	// EINVAL. A flow type not listed accepts any set.
	FlowHashChoices map[string][]string `json:"rxFlowHashChoices,omitempty"`
	// RSSHash is the hash function and key (ETHTOOL_GRSSH).
	RSSHash *RSSHashState `json:"rssHash,omitempty"`
	// NTuple is the rule table (ETHTOOL_GRXCLSRLCNT…); the rules need the
	// rx-ntuple-filter feature on to be inserted.
	NTuple *NTupleState `json:"ntuple,omitempty"`
}

// RSSHashState is the hash function and key of a driver.
type RSSHashState struct {
	Func string `json:"func,omitempty"`
	// Funcs are the functions the driver accepts (set_rxfh refuses the
	// others with EOPNOTSUPP).
	Funcs []string `json:"funcs,omitempty"`
	// Key is FormatKey's spelling; KeySize the driver's fixed key length,
	// 0 when it has no key to set (igb: a key is refused with EINVAL).
	Key     string `json:"key,omitempty"`
	KeySize int    `json:"keySize,omitempty"`
}

// NTupleState is a driver's rule table.
type NTupleState struct {
	Size    uint32 `json:"size"`
	Special bool   `json:"special,omitempty"`
	// Rules are Rule.String's spellings, by location.
	Rules []string `json:"rules,omitempty"`
}

func (s *SteeringState) check() error {
	for ft, v := range s.FlowHash {
		if _, ok := FlowTypeID(ft); !ok {
			return fmt.Errorf("rxFlowHash: unknown flow type %q", ft)
		}
		// "" is a driver that hashes the flow type on no field (virtio_net
		// answers ETHTOOL_GRXFH with 0 for the types its device does not
		// hash).
		if _, err := ParseHashFields(v); err != nil && v != "" {
			return fmt.Errorf("rxFlowHash %s: %w", ft, err)
		}
	}
	if h := s.RSSHash; h != nil && h.Key != "" {
		k, err := ParseKey(h.Key)
		if err != nil {
			return fmt.Errorf("rssHash.key: %w", err)
		}
		if len(k) != h.KeySize {
			return fmt.Errorf("rssHash.key has %d bytes, keySize is %d", len(k), h.KeySize)
		}
	}
	if t := s.NTuple; t != nil {
		for _, r := range t.Rules {
			if _, err := ParseRule(r); err != nil {
				return fmt.Errorf("ntuple.rules: %w", err)
			}
		}
	}
	return nil
}

func einval(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, syscall.EINVAL)...)
}

// FlowHash implements Steering.
func (f *Files) FlowHash(ifname, flowType string) (string, error) {
	s, err := f.load(ifname)
	if err != nil {
		return "", err
	}
	if s.FlowHash == nil {
		return "", unsupported("get rx-flow-hash", ifname)
	}
	v, ok := s.FlowHash[flowType]
	if !ok {
		return "", einval("get rx-flow-hash %s of %s", flowType, ifname)
	}
	if v == "" {
		return "", nil
	}
	return NormHashFields(v)
}

// SetFlowHash implements Steering.
func (f *Files) SetFlowHash(ifname, flowType, fields string) error {
	s, err := f.load(ifname)
	if err != nil {
		return err
	}
	if s.FlowHash == nil {
		return unsupported("set rx-flow-hash", ifname)
	}
	v, err := NormHashFields(fields)
	if err != nil {
		return einval("set rx-flow-hash %s of %s: %v", flowType, ifname, err)
	}
	if _, ok := s.FlowHash[flowType]; !ok {
		return einval("set rx-flow-hash %s of %s", flowType, ifname)
	}
	if ch, ok := s.FlowHashChoices[flowType]; ok {
		okv := false
		for _, c := range ch {
			if n, _ := NormHashFields(c); n == v {
				okv = true
			}
		}
		if !okv {
			return einval("set rx-flow-hash %s %s of %s (the driver takes %v)", flowType, v, ifname, ch)
		}
	}
	s.FlowHash[flowType] = v
	return f.store(ifname, s)
}

// RSSHash implements Steering.
func (f *Files) RSSHash(ifname string) (RSSHash, error) {
	s, err := f.load(ifname)
	if err != nil {
		return RSSHash{}, err
	}
	if s.RSSHash == nil || s.Indir == "" {
		return RSSHash{}, unsupported("get RSS hash", ifname)
	}
	t, err := ParseIndir(s.Indir)
	if err != nil {
		return RSSHash{}, err
	}
	h := RSSHash{Func: s.RSSHash.Func, KeySize: s.RSSHash.KeySize, IndirSize: len(t)}
	if s.RSSHash.Key != "" {
		h.Key, _ = ParseKey(s.RSSHash.Key)
	}
	return h, nil
}

// SetRSSHash implements Steering with ethtool_set_rxfh's checks: a key of
// another size than the driver's is EINVAL, asking for nothing is EINVAL,
// and the driver refuses a function or a key it does not have with
// EOPNOTSUPP.
func (f *Files) SetRSSHash(ifname, hfunc string, key []byte) error {
	s, err := f.load(ifname)
	if err != nil {
		return err
	}
	h := s.RSSHash
	if h == nil || s.Indir == "" {
		return unsupported("set RSS hash", ifname)
	}
	if hfunc == "" && key == nil {
		return einval("set RSS hash of %s: nothing to change", ifname)
	}
	if key != nil && len(key) != h.KeySize {
		// ethtool_set_rxfh: a key_size other than the driver's (0 for a
		// driver without a key, as igb) is EINVAL.
		return einval("set RSS hash key of %s: %d bytes for a key of %d", ifname, len(key), h.KeySize)
	}
	if hfunc != "" {
		if _, ok := hfuncBit(hfunc); !ok {
			return einval("set RSS hash function %q of %s", hfunc, ifname)
		}
		if !slices.Contains(h.Funcs, hfunc) {
			return unsupported("set RSS hash function "+hfunc, ifname)
		}
		h.Func = hfunc
	}
	if key != nil {
		h.Key = FormatKey(key)
	}
	return f.store(ifname, s)
}

// Rules implements Steering.
func (f *Files) Rules(ifname string) (RuleTable, error) {
	s, err := f.load(ifname)
	if err != nil {
		return RuleTable{}, err
	}
	if s.NTuple == nil {
		return RuleTable{}, unsupported("get ntuple rule count", ifname)
	}
	t := RuleTable{Size: s.NTuple.Size, Special: s.NTuple.Special}
	for _, x := range s.NTuple.Rules {
		r, _ := ParseRule(x) // checked by DecodeState
		t.Rules = append(t.Rules, r)
	}
	return t, nil
}

// InsertRule implements Steering with what drivers do: EOPNOTSUPP while
// rx-ntuple-filter is off, EINVAL for a location beyond the table, for a
// special location on a driver that does not choose locations, for a
// queue the NIC does not have; a rule at a taken location replaces it.
func (f *Files) InsertRule(ifname string, r Rule) (uint32, error) {
	s, err := f.load(ifname)
	if err != nil {
		return 0, err
	}
	t := s.NTuple
	if t == nil {
		return 0, unsupported("insert ntuple rule", ifname)
	}
	if ft, ok := s.Features["rx-ntuple-filter"]; !ok || !ft.Active {
		return 0, unsupported("insert ntuple rule (rx-ntuple-filter is off)", ifname)
	}
	if _, ok := FlowTypeID(r.FlowType); !ok {
		return 0, einval("insert ntuple rule of %s: flow type %q", ifname, r.FlowType)
	}
	if !r.Drop && s.Channels != nil && r.Queue >= uint64(s.Channels.RXQueues()) {
		return 0, einval("insert ntuple rule of %s: queue %d of %d rx queues", ifname, r.Queue, s.Channels.RXQueues())
	}
	rules := map[uint32]Rule{}
	for _, x := range t.Rules {
		old, _ := ParseRule(x)
		rules[old.Location] = old
	}
	loc := r.Location
	switch {
	case loc >= LocSpecial:
		if !t.Special || (loc != LocAny && loc != LocFirst && loc != LocLast) {
			return 0, einval("insert ntuple rule of %s: special location %#x", ifname, loc)
		}
		found := false
		for i := range t.Size {
			l := i
			if loc == LocLast {
				l = t.Size - 1 - i
			}
			if _, used := rules[l]; !used {
				loc, found = l, true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("insert ntuple rule of %s: table full: %w", ifname, syscall.ENOSPC)
		}
	case loc >= t.Size:
		return 0, einval("insert ntuple rule of %s: location %d in a table of %d", ifname, loc, t.Size)
	}
	r.Location = loc
	rules[loc] = r
	t.Rules = t.Rules[:0]
	locs := make([]uint32, 0, len(rules))
	for l := range rules {
		locs = append(locs, l)
	}
	sort.Slice(locs, func(i, j int) bool { return locs[i] < locs[j] })
	for _, l := range locs {
		t.Rules = append(t.Rules, rules[l].String())
	}
	return loc, f.store(ifname, s)
}

// DeleteRule implements Steering: ENOENT for an empty location (igb,
// ixgbe), EINVAL beyond the table.
func (f *Files) DeleteRule(ifname string, loc uint32) error {
	s, err := f.load(ifname)
	if err != nil {
		return err
	}
	t := s.NTuple
	if t == nil {
		return unsupported("delete ntuple rule", ifname)
	}
	if loc >= t.Size {
		return einval("delete ntuple rule %d of %s: table of %d", loc, ifname, t.Size)
	}
	for i, x := range t.Rules {
		r, _ := ParseRule(x)
		if r.Location == loc {
			t.Rules = slices.Delete(t.Rules, i, i+1)
			return f.store(ifname, s)
		}
	}
	return fmt.Errorf("delete ntuple rule %d of %s: %w", loc, ifname, syscall.ENOENT)
}

// captureSteering adds what a snapshot can learn of flow steering: the
// hash fields of the flow types the driver answers for, the hash function
// and key (the functions the driver would also take are not reported by
// the kernel: only the current one is listed), and the rule table without
// the rules nettune cannot represent. Errors leave a section out.
func captureSteering(st Steering, ifname string, s *State) {
	for _, ft := range FlowHashFlowTypes {
		if v, err := st.FlowHash(ifname, ft); err == nil {
			if s.FlowHash == nil {
				s.FlowHash = map[string]string{}
			}
			s.FlowHash[ft] = v
		}
	}
	if h, err := st.RSSHash(ifname); err == nil && s.Indir != "" {
		s.RSSHash = &RSSHashState{Func: h.Func, KeySize: h.KeySize}
		if h.Func != "" {
			s.RSSHash.Funcs = []string{h.Func}
		}
		if len(h.Key) == h.KeySize && h.KeySize > 0 {
			s.RSSHash.Key = FormatKey(h.Key)
		}
	}
	if t, err := st.Rules(ifname); err == nil {
		s.NTuple = &NTupleState{Size: t.Size, Special: t.Special}
		for _, r := range t.Rules {
			s.NTuple.Rules = append(s.NTuple.Rules, r.String())
		}
	}
}
