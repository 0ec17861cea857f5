package ethtool

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
)

// FuzzDecodeState: a state file DecodeState accepts encodes to the
// canonical form, which decodes to the same state and encodes to the same
// bytes again (a snapshot written back unchanged is byte-identical).
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"driver":"ixgbe","rings":{"rx":512,"tx":512,"rxMax":4096,"txMax":4096},"rssIndir":"0 1 0 1","features":{"rx-gro":{"on":true}},"stats":{"rx_packets":7}}`))
	f.Add([]byte(`{"rssIndir":"0 x"}`))
	f.Add([]byte(`{"channels":{},"features":{},"stats":null} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeState(data)
		if err != nil {
			return
		}
		enc := s.Encode()
		back, err := DecodeState(enc)
		if err != nil {
			t.Fatalf("%s: canonical form %s does not decode: %v", data, enc, err)
		}
		if !reflect.DeepEqual(normState(s), normState(back)) {
			t.Fatalf("%s -> %+v -> %s -> %+v", data, s, enc, back)
		}
		if again := back.Encode(); !bytes.Equal(again, enc) {
			t.Fatalf("encoding is not canonical:\n%s\n%s", enc, again)
		}
	})
}

// normState drops the difference between an empty and a missing map,
// which omitempty cannot keep.
func normState(s *State) State {
	c := *s
	if len(c.Features) == 0 {
		c.Features = nil
	}
	if len(c.Stats) == 0 {
		c.Stats = nil
	}
	return c
}

// FuzzParseIndir: an accepted RSS indirection table formats back to a
// string that parses to the same table, and a table EvenQueues recognises
// is the even spread over that many queues.
func FuzzParseIndir(f *testing.F) {
	f.Add("0 1 2 3 0 1 2 3")
	f.Add(" 4294967295\t0\n+1 00")
	f.Add("0 -1")
	f.Fuzz(func(t *testing.T, s string) {
		tab, err := ParseIndir(s)
		if err != nil {
			return
		}
		back, err := ParseIndir(FormatIndir(tab))
		if err != nil || !slices.Equal(back, tab) {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, tab, FormatIndir(tab), back, err)
		}
		if n := EvenQueues(tab); n > 0 && !slices.Equal(EvenIndir(len(tab), n), tab) {
			t.Fatalf("%v: EvenQueues = %d but it is not EvenIndir(%d, %d)", tab, n, len(tab), n)
		}
	})
}
