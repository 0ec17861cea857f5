package ethtool

import (
	"testing"
)

// FuzzParseRule: whatever ParseRule accepts is written back by String and
// read again to the same rule, and survives the trip through struct
// ethtool_rx_flow_spec (Encode, Decode) unchanged.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"flow-type udp4 dst-ip 10.0.0.0/24 dst-port 4789 vlan 100 action 3 loc 5",
		"flow-type tcp6 src-ip 2001:db8::/32 src-port 443 action 1 loc 0",
		"flow-type ether src 02:00:00:00:00:01 dst 02:00:00:00:00:02 action -1 loc 7",
		"flow-type tcp4 action 0 loc any",
		"flow-type udp6 dst-ip ::/0 action 2 loc 1",
		"flow-type tcp4 src-ip 10.0.0.1/24 action 0 loc 1",
		"flow-type udp4 vlan 4096 action 0 loc 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			return
		}
		again, err := ParseRule(r.String())
		if err != nil {
			t.Fatalf("%q -> %q: %v", s, r, err)
		}
		if again.String() != r.String() {
			t.Fatalf("%q -> %q -> %q", s, r, again)
		}
		b := make([]byte, fsSize)
		if err := EncodeFlowSpec(r, b); err != nil {
			t.Fatalf("encode %q: %v", r, err)
		}
		d, err := DecodeFlowSpec(b)
		if err != nil {
			t.Fatalf("decode of %q: %v", r, err)
		}
		if d.String() != r.String() {
			t.Fatalf("flow spec of %q decodes as %q", r, d)
		}
	})
}

// FuzzDecodeFlowSpec: any 168 bytes a driver may hand back decode without
// a panic; what decodes without an error encodes to a spec that decodes
// to the same rule.
func FuzzDecodeFlowSpec(f *testing.F) {
	b := make([]byte, fsSize)
	_ = EncodeFlowSpec(Rule{FlowType: "udp4", Queue: 1, Location: 2}, b)
	f.Add(b)
	f.Add(make([]byte, fsSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeFlowSpec(b)
		if err != nil {
			return
		}
		if _, err := ParseRule(r.String()); err != nil && r.Location < LocSpecial {
			t.Fatalf("decoded rule %q does not parse: %v", r, err)
		}
		out := make([]byte, fsSize)
		if err := EncodeFlowSpec(r, out); err != nil {
			t.Fatalf("encode %q: %v", r, err)
		}
		d, err := DecodeFlowSpec(out)
		if err != nil || d.String() != r.String() {
			t.Fatalf("%q re-encoded decodes as %q, %v", r, d, err)
		}
	})
}

// FuzzHashFields: ethtool's letters round-trip through the RXH_* bits.
func FuzzHashFields(f *testing.F) {
	for _, s := range []string{"sdfn", "sd", "r", "mvtsdfn", "nfds", "ss", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseHashFields(s)
		if err != nil {
			return
		}
		n := FormatHashFields(v)
		w, err := ParseHashFields(n)
		if err != nil || w != v || len(n) != len(s) {
			t.Fatalf("%q -> %#x -> %q -> %#x, %v", s, v, n, w, err)
		}
	})
}
