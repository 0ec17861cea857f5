package ethtool

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/nettune/nettune/pkg/host"
)

// offlineRoot builds a root with the ixgbe state file for eth0.
func offlineRoot(t *testing.T) (*host.Root, *Files) {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/ixgbe.json")
	if err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, StateDir)
	if err := os.MkdirAll(st, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(st, "eth0.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	net := filepath.Join(dir, "sys/class/net/eth0")
	if err := os.MkdirAll(net, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(net, "tx_queue_len"), []byte("1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Open(r)
	if err != nil {
		t.Fatal(err)
	}
	return r, e.(*Files)
}

func TestStateCanonical(t *testing.T) {
	data, err := os.ReadFile("testdata/ixgbe.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeState(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Encode(); !bytes.Equal(got, data) {
		t.Errorf("testdata/ixgbe.json is not in canonical form; Encode gives:\n%s", got)
	}
	if _, err := DecodeState([]byte(`{"driver":"x","ringz":{}}`)); err == nil {
		t.Error("unknown field accepted")
	}
	if _, err := DecodeState([]byte(`{"rssIndir":"0 1 x"}`)); err == nil {
		t.Error("bad indirection table accepted")
	}
}

func TestFilesRoundTrip(t *testing.T) {
	_, f := offlineRoot(t)
	before, err := os.ReadFile(f.Path("eth0"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.Driver("eth0")
	if err != nil || d != "ixgbe" {
		t.Fatalf("Driver = %q, %v", d, err)
	}
	r, _ := f.Rings("eth0")
	if err := f.SetRings("eth0", 4096, 1024); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Rings("eth0"); got.RX != 4096 || got.TX != 1024 {
		t.Errorf("rings after set = %+v", got)
	}
	if err := f.SetRings("eth0", 8192, 512); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("ring above maximum: %v, want EINVAL", err)
	}
	c, _ := f.Channels("eth0")
	c4 := c
	c4.Combined = 4
	if err := f.SetChannels("eth0", c4); err != nil {
		t.Fatal(err)
	}
	c64 := c
	c64.Combined = 64
	if err := f.SetChannels("eth0", c64); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("channels above maximum: %v, want EINVAL", err)
	}
	// The driver's table (not user-set) is re-spread over the 4 queues
	// left; writing a new table that uses queue 5 is refused now.
	tbl, _ := f.Indir("eth0")
	if EvenQueues(tbl) != 4 || len(tbl) != 128 {
		t.Fatalf("table spreads over %d queues, %d entries", EvenQueues(tbl), len(tbl))
	}
	if err := f.SetIndir("eth0", EvenIndir(128, 6)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("table over missing queues: %v, want EINVAL", err)
	}
	if err := f.SetIndir("eth0", EvenIndir(128, 4)); err != nil {
		t.Fatal(err)
	}
	if err := f.SetIndir("eth0", EvenIndir(64, 4)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("table of the wrong size: %v, want EINVAL", err)
	}
	if err := f.SetFeatures("eth0", map[string]bool{"rx-gro": false}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetFeatures("eth0", map[string]bool{"tx-checksum-ipv4": true}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("fixed feature: %v, want EINVAL", err)
	}
	if err := f.SetFeatures("eth0", map[string]bool{"rx-nope": true}); err == nil {
		t.Error("unknown feature accepted")
	}
	co, _ := f.Coalesce("eth0")
	co2 := co
	co2.AdaptiveRX, co2.RXUsecs = true, 50
	if err := f.SetCoalesce("eth0", co2); err != nil {
		t.Fatal(err)
	}
	if err := f.SetTxQueueLen("eth0", 10000); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.TxQueueLen("eth0"); n != 10000 {
		t.Errorf("txqueuelen = %d", n)
	}

	// Undo everything: the file is byte-identical.
	f.SetFeatures("eth0", map[string]bool{"rx-gro": true})
	f.SetCoalesce("eth0", co)
	// Channels grow back before the table may use queues 4-7 again.
	if err := f.SetIndir("eth0", EvenIndir(128, 8)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("table over queues that do not exist yet: %v, want EINVAL", err)
	}
	f.SetChannels("eth0", c)
	// The table was written (user-set): only a reset gives it back to the
	// driver, as it was.
	if err := f.ResetIndir("eth0"); err != nil {
		t.Fatal(err)
	}
	f.SetRings("eth0", r.RX, r.TX)
	after, _ := os.ReadFile(f.Path("eth0"))
	if !bytes.Equal(before, after) {
		t.Errorf("state file differs after undo:\n%s", after)
	}
}

func TestFilesMissingState(t *testing.T) {
	_, f := offlineRoot(t)
	if _, err := f.Rings("eth9"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("missing state: %v, want ErrNotSupported", err)
	}
	// veth: no rings, no coalescing, no RSS.
	os.WriteFile(f.Path("veth0"), (&State{Driver: "veth", Channels: &Channels{RX: 1, TX: 1, MaxRX: 2, MaxTX: 2}}).Encode(), 0o644)
	if _, err := f.Rings("veth0"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("rings of veth: %v, want ErrNotSupported", err)
	}
	if _, err := f.Indir("veth0"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("indir of veth: %v, want ErrNotSupported", err)
	}
}

func TestIndirHelpers(t *testing.T) {
	for _, tc := range []struct {
		t    []uint32
		even int
		max  int
	}{
		{EvenIndir(8, 4), 4, 3},
		{[]uint32{0, 0, 1, 1}, 0, 1},
		{[]uint32{0, 1, 2, 0}, 3, 2},
		{[]uint32{0, 0, 0, 0}, 1, 0},
		{nil, 0, -1},
	} {
		if got := EvenQueues(tc.t); got != tc.even {
			t.Errorf("EvenQueues(%v) = %d, want %d", tc.t, got, tc.even)
		}
		if got := MaxQueue(tc.t); got != tc.max {
			t.Errorf("MaxQueue(%v) = %d, want %d", tc.t, got, tc.max)
		}
		back, err := ParseIndir(FormatIndir(tc.t))
		if err != nil || !slices.Equal(back, tc.t) && len(tc.t) > 0 {
			t.Errorf("ParseIndir(FormatIndir(%v)) = %v, %v", tc.t, back, err)
		}
	}
}
