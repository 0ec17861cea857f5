package ethtool

import (
	"bytes"
	"errors"
	"os"
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
	f.Add([]byte(`{"coalesce":{"rxUsecs":3,"supported":["rx-usecs","adaptive-rx","rx-usecs"]}}`))
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

// e1000eState is an e1000e port's ethtool state: the driver's
// supported_coalesce_params is ETHTOOL_COALESCE_RX_USECS only
// (drivers/net/ethernet/intel/e1000e/ethtool.c, e1000_ethtool_ops), and
// its rx-usecs reads 3 (itr_setting 3, dynamic conservative mode).
const e1000eState = `{
  "driver": "e1000e",
  "coalesce": {
    "adaptiveRx": false,
    "adaptiveTx": false,
    "rxUsecs": 3,
    "rxFrames": 0,
    "txUsecs": 0,
    "txFrames": 0,
    "supported": [
      "rx-usecs"
    ]
  }
}
`

// TestFilesCoalesceSupported: the offline backend refuses, as
// ethtool_set_coalesce_supported does, a nonzero value of a parameter the
// driver does not support, before changing anything; a state without the
// list supports everything.
func TestFilesCoalesceSupported(t *testing.T) {
	_, f := offlineRoot(t)
	if err := os.WriteFile(f.Path("eno1"), []byte(e1000eState), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := f.Coalesce("eno1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Supported, []string{"rx-usecs"}) || !c.Supports("rx-usecs") || c.Supports("adaptive-rx") {
		t.Fatalf("supported = %v", c.Supported)
	}
	for _, change := range []func(*Coalesce){
		func(c *Coalesce) { c.AdaptiveRX = true },
		func(c *Coalesce) { c.RXFrames = 16 },
		func(c *Coalesce) { c.TXUsecs = 8 },
	} {
		w := c
		change(&w)
		if err := f.SetCoalesce("eno1", w); !errors.Is(err, ErrNotSupported) {
			t.Errorf("set %+v: %v, want ErrNotSupported", w, err)
		}
	}
	if b, _ := os.ReadFile(f.Path("eno1")); string(b) != e1000eState {
		t.Errorf("a refused change wrote the state:\n%s", b)
	}
	// Zero is what an unsupported parameter reads; writing it is not a
	// change, and a caller's list never replaces the driver's.
	w := c
	w.RXUsecs, w.Supported = 50, nil
	if err := f.SetCoalesce("eno1", w); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Coalesce("eno1"); got.RXUsecs != 50 || !slices.Equal(got.Supported, []string{"rx-usecs"}) {
		t.Errorf("after set rx-usecs 50: %+v", got)
	}
	// ixgbe.json has no list: unknown, every parameter allowed.
	x, err := f.Coalesce("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if x.Supported != nil || !x.Supports("adaptive-rx") {
		t.Errorf("no list reads as %v", x.Supported)
	}
	x.RXFrames = 8
	if err := f.SetCoalesce("eth0", x); err != nil {
		t.Errorf("set rx-frames without a supported list: %v", err)
	}
}

func TestDecodeCoalesceSupported(t *testing.T) {
	s, err := DecodeState([]byte(`{"coalesce":{"supported":["adaptive-rx","rx-usecs","rx-usecs"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"rx-usecs", "adaptive-rx"}; !slices.Equal(s.Coalesce.Supported, want) {
		t.Errorf("supported = %v, want %v (kernel order, once)", s.Coalesce.Supported, want)
	}
	for _, bad := range []string{`{"coalesce":{"supported":["rx-usec"]}}`, `{"coalesce":{"supported":[]}}`} {
		if _, err := DecodeState([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
