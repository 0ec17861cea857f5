package profile

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// flowHashTypes are the flow types of spec.nics[].rss.flowHash.
var flowHashTypes = []string{"tcp4", "udp4", "tcp6", "udp6"}

// hashLetters are ethtool's rx-flow-hash field letters (m v t s d f n;
// r, discard, alone).
const hashLetters = "mvtsdfn"

// Spec is the rule in ethtool -N's words, "loc any" when the profile
// leaves the location to nettune; validate has checked every field.
func (r NTupleRule) Spec() string {
	parts := []string{"flow-type", r.FlowType}
	addr := func(k, v string) {
		if v == "" {
			return
		}
		if r.FlowType == "ether" {
			m, _ := net.ParseMAC(v)
			parts = append(parts, k, m.String())
			return
		}
		p, _ := parsePrefix(v)
		parts = append(parts, k+"-ip", p.String())
	}
	addr("src", r.Src)
	addr("dst", r.Dst)
	if r.SrcPort != nil {
		parts = append(parts, "src-port", strconv.Itoa(*r.SrcPort))
	}
	if r.DstPort != nil {
		parts = append(parts, "dst-port", strconv.Itoa(*r.DstPort))
	}
	if r.VLAN != nil {
		parts = append(parts, "vlan", strconv.Itoa(*r.VLAN))
	}
	match := strings.Join(parts, " ")
	action := "action -1"
	if r.Queue != nil {
		action = "action " + strconv.Itoa(*r.Queue)
	}
	loc := "any"
	if r.Location != nil {
		loc = strconv.Itoa(*r.Location)
	}
	return match + " " + action + " loc " + loc
}

// match is Spec without action and location.
func (r NTupleRule) match() string {
	s := r.Spec()
	return s[:strings.Index(s, " action ")]
}

// parsePrefix reads an address with an optional /prefix; host bits set
// under the prefix are refused (the NIC ignores them, the rule would read
// back as another one).
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("%q is not an address/prefix", s)
	}
	if p.Addr().Is4In6() {
		return p, fmt.Errorf("%q is an IPv4-mapped IPv6 address", s)
	}
	if p.Masked() != p {
		return p, fmt.Errorf("%q has host bits set under the /%d mask (the network is %s)", s, p.Bits(), p.Masked())
	}
	if p.Bits() == 0 {
		return p, fmt.Errorf("%q matches every address: leave it out", s)
	}
	return p, nil
}

// validateSteering checks spec.nics[i].rss and .ntuple against
// themselves: the host's side (queue counts, what the driver offers) is
// the planner's.
func (v *validator) validateSteering(segs []string, n NIC) {
	if r := n.RSS; r != nil {
		rs := append(append([]string(nil), segs...), "rss")
		if r.Queues == 0 && len(r.Weights) == 0 && r.HashKey == "" && r.HashFunction == "" && len(r.FlowHash) == 0 {
			v.fail(rs, "needs at least one of queues, weights, hashKey, hashFunction, flowHash")
		}
		if r.Queues > 0 && len(r.Weights) > 0 {
			v.fail(append(rs, "weights"), "give queues or weights, not both")
		}
		if r.StartQueue > 0 && r.Queues == 0 && len(r.Weights) == 0 {
			v.fail(append(rs, "startQueue"), "startQueue needs queues or weights")
		}
		sum := 0
		for i, w := range r.Weights {
			if w < 0 || w > 1<<16 {
				v.fail(append(rs, "weights", idx(i)), "weight %d is not between 0 and 65536", w)
			}
			sum += w
		}
		if len(r.Weights) > 0 && sum == 0 {
			v.fail(append(rs, "weights"), "all weights are 0: no queue would receive")
		}
		if r.HashKey != "" {
			for i, b := range strings.Split(r.HashKey, ":") {
				if _, err := strconv.ParseUint(b, 16, 8); err != nil || len(b) != 2 {
					v.fail(append(rs, "hashKey"), "byte %d %q is not two hex digits (write the key as ethtool -x shows it: 6d:5a:56:da:…)", i, b)
					break
				}
			}
		}
		for ft, fields := range r.FlowHash {
			fs := append(rs, "flowHash", ft)
			known := false
			for _, t := range flowHashTypes {
				known = known || t == ft
			}
			if !known {
				v.fail(fs, "flow type %q is not one of %s", ft, strings.Join(flowHashTypes, ", "))
				continue
			}
			if err := checkHashFields(fields); err != nil {
				v.fail(fs, "%v", err)
			}
		}
	}
	matches := map[string]int{}
	locs := map[int]int{}
	for j, r := range n.NTuple {
		rs := append(append([]string(nil), segs...), "ntuple", idx(j))
		ok := true
		if (r.Queue == nil) == !r.Drop {
			v.fail(rs, "needs one of queue or drop: true")
			ok = false
		}
		for _, a := range []struct{ k, v string }{{"src", r.Src}, {"dst", r.Dst}} {
			if a.v == "" {
				continue
			}
			if r.FlowType == "ether" {
				if m, err := net.ParseMAC(a.v); err != nil || len(m) != 6 {
					v.fail(append(rs, a.k), "%q is not a MAC address (flowType ether matches MAC addresses)", a.v)
					ok = false
				}
				continue
			}
			p, err := parsePrefix(a.v)
			if err != nil {
				v.fail(append(rs, a.k), "%v", err)
				ok = false
				continue
			}
			if p.Addr().Is4() != strings.HasSuffix(r.FlowType, "4") {
				v.fail(append(rs, a.k), "%s is not an address of flowType %s", a.v, r.FlowType)
				ok = false
			}
		}
		if r.FlowType == "ether" {
			for _, p := range []struct {
				k string
				v *int
			}{{"srcPort", r.SrcPort}, {"dstPort", r.DstPort}} {
				if p.v != nil {
					v.fail(append(rs, p.k), "flowType ether has no ports (use tcp4, udp4, tcp6 or udp6)")
					ok = false
				}
			}
		}
		if !ok {
			continue
		}
		if k, dup := matches[r.match()]; dup {
			v.fail(rs, "matches the same packets as ntuple[%d] (%s): the NIC would apply only one of them", k, r.match())
		} else {
			matches[r.match()] = j
		}
		if r.Location != nil {
			if k, dup := locs[*r.Location]; dup {
				v.fail(append(rs, "location"), "location %d is already taken by ntuple[%d]", *r.Location, k)
			} else {
				locs[*r.Location] = j
			}
		}
	}
}

func checkHashFields(s string) error {
	if s == "r" {
		return nil
	}
	if s == "" {
		return fmt.Errorf("no hash fields: give ethtool's letters (m v t s d f n, e.g. sdfn), or r to discard")
	}
	for i, c := range s {
		if !strings.ContainsRune(hashLetters, c) {
			return fmt.Errorf("%q is not a hash field letter in %q: m (L2 dst), v (VLAN), t (L3 proto), s (IP src), d (IP dst), f (L4 bytes 0-1), n (L4 bytes 2-3), or r alone", c, s)
		}
		if strings.ContainsRune(s[:i], c) {
			return fmt.Errorf("hash field %q given twice in %q", c, s)
		}
	}
	return nil
}
