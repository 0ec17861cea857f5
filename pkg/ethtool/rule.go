package ethtool

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Flow types of struct ethtool_rx_flow_spec and of the rx-flow-hash
// ioctls (include/uapi/linux/ethtool.h).
const (
	flowTCP4  = 0x01 // TCP_V4_FLOW
	flowUDP4  = 0x02 // UDP_V4_FLOW
	flowTCP6  = 0x05 // TCP_V6_FLOW
	flowUDP6  = 0x06 // UDP_V6_FLOW
	flowEther = 0x12 // ETHER_FLOW
	// flowExt (FLOW_EXT) says h_ext/m_ext (the VLAN) are in use.
	flowExt = 0x80000000
	// flowMacExt (FLOW_MAC_EXT) says h_ext.h_dest is in use.
	flowMacExt = 0x40000000
	// flowRSS (FLOW_RSS) says the rule or hash is for an RSS context.
	flowRSS = 0x20000000
)

// Special rule locations (RX_CLS_LOC_*): a driver that sets
// RX_CLS_LOC_SPECIAL in ETHTOOL_GRXCLSRLCNT's data chooses the location
// itself and takes these instead of a number.
const (
	LocSpecial = 0x80000000 // RX_CLS_LOC_SPECIAL
	LocAny     = 0xffffffff // RX_CLS_LOC_ANY
	LocFirst   = 0xfffffffe // RX_CLS_LOC_FIRST
	LocLast    = 0xfffffffd // RX_CLS_LOC_LAST
)

// ringDrop is RX_CLS_FLOW_DISC, the ring_cookie that drops the packet.
const ringDrop = 0xffffffffffffffff

// FlowTypes are the flow types a rule may match (ethtool -N flow-type).
var FlowTypes = []string{"tcp4", "udp4", "tcp6", "udp6", "ether"}

var flowTypeIDs = map[string]uint32{"tcp4": flowTCP4, "udp4": flowUDP4, "tcp6": flowTCP6, "udp6": flowUDP6, "ether": flowEther}

// FlowTypeID is the kernel's number of a flow type name.
func FlowTypeID(name string) (uint32, bool) {
	v, ok := flowTypeIDs[name]
	return v, ok
}

func flowTypeName(id uint32) string {
	for n, v := range flowTypeIDs {
		if v == id {
			return n
		}
	}
	return fmt.Sprintf("0x%x", id)
}

// Rule is one ntuple (n-tuple) classification rule, ethtool -N's
// "flow-type …": what it matches, what it does, where it sits in the
// NIC's rule table.
type Rule struct {
	FlowType string
	// Src and Dst are IP prefixes for the IP flow types (the prefix length
	// is the mask); zero when not matched.
	Src, Dst netip.Prefix
	// SrcMAC and DstMAC are the addresses of an ether rule.
	SrcMAC, DstMAC net.HardwareAddr
	// SrcPort and DstPort are matched when non-nil.
	SrcPort, DstPort *uint16
	// VLAN is the VLAN ID (the low 12 bits of the TCI) matched when
	// non-nil.
	VLAN *uint16
	// Drop discards the packet; otherwise it goes to Queue.
	Drop  bool
	Queue uint64
	// Location is the rule's index in the table (or a RX_CLS_LOC_*).
	Location uint32
}

// Match is the part of the rule that says which packets it applies to,
// in Format's words (without action and location): two rules with the
// same Match are duplicates.
func (r Rule) Match() string {
	parts := []string{"flow-type", r.FlowType}
	if r.FlowType == "ether" {
		if r.SrcMAC != nil {
			parts = append(parts, "src", r.SrcMAC.String())
		}
		if r.DstMAC != nil {
			parts = append(parts, "dst", r.DstMAC.String())
		}
	} else {
		if r.Src.IsValid() {
			parts = append(parts, "src-ip", r.Src.String())
		}
		if r.Dst.IsValid() {
			parts = append(parts, "dst-ip", r.Dst.String())
		}
		if r.SrcPort != nil {
			parts = append(parts, "src-port", strconv.Itoa(int(*r.SrcPort)))
		}
		if r.DstPort != nil {
			parts = append(parts, "dst-port", strconv.Itoa(int(*r.DstPort)))
		}
	}
	if r.VLAN != nil {
		parts = append(parts, "vlan", strconv.Itoa(int(*r.VLAN)))
	}
	return strings.Join(parts, " ")
}

// Action is "action N" or "action -1" (drop), as ethtool -N writes it.
func (r Rule) Action() string {
	if r.Drop {
		return "action -1"
	}
	return "action " + strconv.FormatUint(r.Queue, 10)
}

// String is the rule in ethtool -N's words: Match, Action, "loc N".
func (r Rule) String() string {
	loc := strconv.FormatUint(uint64(r.Location), 10)
	if r.Location == LocAny {
		loc = "any"
	}
	return r.Match() + " " + r.Action() + " loc " + loc
}

// ParseRule reads String's output (a subset of ethtool -N's syntax).
func ParseRule(s string) (Rule, error) {
	f := strings.Fields(s)
	var r Rule
	seen := map[string]bool{}
	if len(f) < 2 || f[0] != "flow-type" {
		return r, fmt.Errorf("rule %q does not start with flow-type", s)
	}
	if _, ok := flowTypeIDs[f[1]]; !ok {
		return r, fmt.Errorf("rule %q: flow-type %q is not one of %s", s, f[1], strings.Join(FlowTypes, ", "))
	}
	r.FlowType = f[1]
	ether := r.FlowType == "ether"
	hasAction, hasLoc := false, false
	for i := 2; i < len(f); i += 2 {
		if i+1 >= len(f) {
			return r, fmt.Errorf("rule %q: %s has no value", s, f[i])
		}
		k, v := f[i], f[i+1]
		if seen[k] {
			return r, fmt.Errorf("rule %q: %s given twice", s, k)
		}
		seen[k] = true
		var err error
		switch {
		case (k == "src" || k == "dst") && ether:
			var m net.HardwareAddr
			m, err = net.ParseMAC(v)
			if err == nil && len(m) != 6 {
				err = fmt.Errorf("not a 6-byte MAC address")
			}
			if k == "src" {
				r.SrcMAC = m
			} else {
				r.DstMAC = m
			}
		case (k == "src-ip" || k == "dst-ip") && !ether:
			var p netip.Prefix
			p, err = ParsePrefix(v)
			if err == nil && p.Addr().Is4() != strings.HasSuffix(r.FlowType, "4") {
				err = fmt.Errorf("address family does not match flow-type %s", r.FlowType)
			}
			if k == "src-ip" {
				r.Src = p
			} else {
				r.Dst = p
			}
		case (k == "src-port" || k == "dst-port") && !ether:
			var n uint64
			n, err = strconv.ParseUint(v, 10, 16)
			p := uint16(n)
			if k == "src-port" {
				r.SrcPort = &p
			} else {
				r.DstPort = &p
			}
		case k == "vlan":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 16)
			if err == nil && n > 4095 {
				err = fmt.Errorf("VLAN ID above 4095")
			}
			id := uint16(n)
			r.VLAN = &id
		case k == "action":
			hasAction = true
			if v == "-1" {
				r.Drop = true
				break
			}
			r.Queue, err = strconv.ParseUint(v, 10, 32)
		case k == "loc":
			hasLoc = true
			if v == "any" {
				r.Location = LocAny
				break
			}
			var n uint64
			n, err = strconv.ParseUint(v, 10, 32)
			if err == nil && n >= LocSpecial {
				err = fmt.Errorf("location in the special range")
			}
			r.Location = uint32(n)
		default:
			return r, fmt.Errorf("rule %q: unknown key %q for flow-type %s", s, k, r.FlowType)
		}
		if err != nil {
			return r, fmt.Errorf("rule %q: %s %q: %v", s, k, v, err)
		}
	}
	if !hasAction || !hasLoc {
		return r, fmt.Errorf("rule %q needs an action and a loc", s)
	}
	return r, nil
}

// ParsePrefix reads an address with an optional /prefix (a bare address
// matches exactly). The address must be the network address of the
// prefix: 10.0.0.1/24 is refused, since the NIC would ignore the host
// bits and the rule would read back as 10.0.0.0/24.
func ParsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("zoned address")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Addr().Is4In6() {
		return p, fmt.Errorf("IPv4-mapped IPv6 address")
	}
	if p.Masked() != p {
		return p, fmt.Errorf("host bits set: the network is %s", p.Masked())
	}
	if p.Bits() == 0 {
		// A mask of zero bits matches nothing: the rule would read back
		// without the address.
		return p, fmt.Errorf("a /0 prefix matches every address: leave the address out")
	}
	return p, nil
}

// Offsets in struct ethtool_rx_flow_spec (x86_64 and every 64-bit ABI:
// the __u64 ring_cookie is 8-aligned): flow_type, h_u[52], h_ext[20],
// m_u[52], m_ext[20], 4 bytes of padding, ring_cookie, location, padding.
const (
	fsFlowType   = 0
	fsHU         = 4
	fsHExt       = 56
	fsMU         = 76
	fsMExt       = 128
	fsRingCookie = 152
	fsLocation   = 160
	fsSize       = 168
	// In struct ethtool_flow_ext: padding[2], h_dest[6], vlan_etype,
	// vlan_tci, data[2].
	extVlanTCI = 10
)

var be = binary.BigEndian

// EncodeFlowSpec writes the rule as struct ethtool_rx_flow_spec (in the
// host's byte order, network order for addresses and ports, as the
// kernel's __be fields).
func EncodeFlowSpec(r Rule, b []byte) error {
	if len(b) < fsSize {
		return fmt.Errorf("flow spec buffer of %d bytes", len(b))
	}
	clear(b[:fsSize])
	id, ok := flowTypeIDs[r.FlowType]
	if !ok {
		return fmt.Errorf("flow-type %q is not one of %s", r.FlowType, strings.Join(FlowTypes, ", "))
	}
	h, m := b[fsHU:fsHU+52], b[fsMU:fsMU+52]
	putAddr := func(off int, p netip.Prefix) {
		if !p.IsValid() {
			return
		}
		a := p.Addr().AsSlice()
		copy(h[off:], a)
		copy(m[off:], prefixMask(p.Bits(), len(a)))
	}
	putPort := func(off int, p *uint16) {
		if p != nil {
			be.PutUint16(h[off:], *p)
			be.PutUint16(m[off:], 0xffff)
		}
	}
	switch id {
	case flowTCP4, flowUDP4:
		putAddr(0, r.Src)
		putAddr(4, r.Dst)
		putPort(8, r.SrcPort)
		putPort(10, r.DstPort)
	case flowTCP6, flowUDP6:
		putAddr(0, r.Src)
		putAddr(16, r.Dst)
		putPort(32, r.SrcPort)
		putPort(34, r.DstPort)
	case flowEther:
		if r.DstMAC != nil {
			copy(h[0:6], r.DstMAC)
			copy(m[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		}
		if r.SrcMAC != nil {
			copy(h[6:12], r.SrcMAC)
			copy(m[6:12], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		}
	}
	if r.VLAN != nil {
		id |= flowExt
		be.PutUint16(b[fsHExt+extVlanTCI:], *r.VLAN)
		be.PutUint16(b[fsMExt+extVlanTCI:], 0x0fff)
	}
	ne.PutUint32(b[fsFlowType:], id)
	cookie := r.Queue
	if r.Drop {
		cookie = ringDrop
	}
	ne.PutUint64(b[fsRingCookie:], cookie)
	ne.PutUint32(b[fsLocation:], r.Location)
	return nil
}

// DecodeFlowSpec reads struct ethtool_rx_flow_spec. A rule that uses
// fields nettune does not write (other flow types, partial port masks,
// TOS, user-def data, an RSS context) is returned with an error saying
// so, its Location set.
func DecodeFlowSpec(b []byte) (Rule, error) {
	var r Rule
	if len(b) < fsSize {
		return r, fmt.Errorf("flow spec of %d bytes", len(b))
	}
	r.Location = ne.Uint32(b[fsLocation:])
	ft := ne.Uint32(b[fsFlowType:])
	id := ft &^ (flowExt | flowMacExt | flowRSS)
	r.FlowType = flowTypeName(id)
	if ft&(flowMacExt|flowRSS) != 0 {
		return r, fmt.Errorf("rule at %d uses flags 0x%x nettune does not manage", r.Location, ft&(flowMacExt|flowRSS))
	}
	h, m := b[fsHU:fsHU+52], b[fsMU:fsMU+52]
	getAddr := func(off, n int) (netip.Prefix, error) {
		mask := m[off : off+n]
		if allZero(mask) {
			return netip.Prefix{}, nil
		}
		bits, ok := maskBits(mask)
		if !ok {
			return netip.Prefix{}, fmt.Errorf("address mask %x is not a prefix", mask)
		}
		a, _ := netip.AddrFromSlice(h[off : off+n])
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	getPort := func(off int) (*uint16, error) {
		switch be.Uint16(m[off:]) {
		case 0:
			return nil, nil
		case 0xffff:
			p := be.Uint16(h[off:])
			return &p, nil
		}
		return nil, fmt.Errorf("partial port mask %#x", be.Uint16(m[off:]))
	}
	var errs []error
	var used int
	switch id {
	case flowTCP4, flowUDP4:
		var e1, e2, e3, e4 error
		r.Src, e1 = getAddr(0, 4)
		r.Dst, e2 = getAddr(4, 4)
		r.SrcPort, e3 = getPort(8)
		r.DstPort, e4 = getPort(10)
		errs = append(errs, e1, e2, e3, e4)
		used = 12
	case flowTCP6, flowUDP6:
		var e1, e2, e3, e4 error
		r.Src, e1 = getAddr(0, 16)
		r.Dst, e2 = getAddr(16, 16)
		r.SrcPort, e3 = getPort(32)
		r.DstPort, e4 = getPort(34)
		errs = append(errs, e1, e2, e3, e4)
		used = 36
	case flowEther:
		for _, x := range []struct {
			off int
			mac *net.HardwareAddr
		}{{0, &r.DstMAC}, {6, &r.SrcMAC}} {
			switch {
			case allZero(m[x.off : x.off+6]):
			case slices.Equal(m[x.off:x.off+6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}):
				*x.mac = slices.Clone(net.HardwareAddr(h[x.off : x.off+6]))
			default:
				errs = append(errs, fmt.Errorf("partial MAC mask %x", m[x.off:x.off+6]))
			}
		}
		used = 12
	default:
		return r, fmt.Errorf("rule at %d has flow type 0x%x, which nettune does not manage", r.Location, id)
	}
	if !allZero(m[used:]) {
		errs = append(errs, fmt.Errorf("matches fields nettune does not manage (mask %x)", m[used:]))
	}
	if ft&flowExt != 0 {
		switch be.Uint16(b[fsMExt+extVlanTCI:]) {
		case 0:
		case 0x0fff:
			v := be.Uint16(b[fsHExt+extVlanTCI:]) & 0x0fff
			r.VLAN = &v
		default:
			errs = append(errs, fmt.Errorf("VLAN TCI mask %#x", be.Uint16(b[fsMExt+extVlanTCI:])))
		}
		mext := slices.Clone(b[fsMExt : fsMExt+20])
		mext[extVlanTCI], mext[extVlanTCI+1] = 0, 0
		if !allZero(mext) {
			errs = append(errs, fmt.Errorf("matches extension fields nettune does not manage"))
		}
	}
	cookie := ne.Uint64(b[fsRingCookie:])
	switch {
	case cookie == ringDrop:
		r.Drop = true
	case cookie>>32 != 0:
		// ethtool_get_flow_spec_ring_vf: a VF in bits 32-39.
		errs = append(errs, fmt.Errorf("action sends to VF %d", cookie>>32&0xff))
	default:
		r.Queue = cookie
	}
	for _, e := range errs {
		if e != nil {
			return r, fmt.Errorf("rule at %d: %w", r.Location, e)
		}
	}
	return r, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// maskBits reports the prefix length of a contiguous mask.
func maskBits(m []byte) (int, bool) {
	bits := 0
	for i, c := range m {
		if c == 0xff {
			bits += 8
			continue
		}
		n := 0
		for c&0x80 != 0 {
			n++
			c <<= 1
		}
		if c != 0 || !allZero(m[i+1:]) {
			return 0, false
		}
		return bits + n, true
	}
	return bits, true
}

func prefixMask(bits, n int) []byte {
	m := make([]byte, n)
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
			bits -= 8
		case bits > 0:
			m[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return m
}
