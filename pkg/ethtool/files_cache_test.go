package ethtool

import (
	"os"
	"slices"
	"testing"
)

// TestFilesViewIsNeverStale: the offline getters share one decoding of a
// state file per content. What a caller does with an answer must not
// change the next answer, and a file rewritten by anyone (here: directly,
// as another process would) is seen at the next call.
func TestFilesViewIsNeverStale(t *testing.T) {
	_, f := offlineRoot(t)
	const state = `{"driver":"ixgbe","rings":{"rx":512,"tx":512,"rxMax":4096,"txMax":4096},"rssIndir":"0 1 0 1","features":{"rx-gro":{"active":true}},"coalesce":{"rxUsecs":3,"supported":["rx-usecs"]},"stats":{"rx_packets":7}}`
	if err := os.WriteFile(f.Path("eno9"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	feat, err := f.Features("eno9")
	if err != nil {
		t.Fatal(err)
	}
	feat["rx-gro"] = Feature{Active: false}
	feat["made-up"] = Feature{}
	stats, _ := f.Stats("eno9")
	stats["rx_packets"] = 99
	tab, _ := f.Indir("eno9")
	tab[0] = 3
	c, _ := f.Coalesce("eno9")
	c.Supported[0] = "tx-usecs"

	if got, _ := f.Features("eno9"); len(got) != 1 || !got["rx-gro"].Active {
		t.Errorf("features after a caller changed its copy: %v", got)
	}
	if got, _ := f.Stats("eno9"); got["rx_packets"] != 7 {
		t.Errorf("stats after a caller changed its copy: %v", got)
	}
	if got, _ := f.Indir("eno9"); !slices.Equal(got, []uint32{0, 1, 0, 1}) {
		t.Errorf("table after a caller changed its copy: %v", got)
	}
	if got, _ := f.Coalesce("eno9"); !slices.Equal(got.Supported, []string{"rx-usecs"}) {
		t.Errorf("coalesce after a caller changed its copy: %v", got.Supported)
	}

	// Changed behind the cache's back, same length (a cache keyed by
	// size or by path alone would answer 512).
	if err := os.WriteFile(f.Path("eno9"), []byte(state[:len(`{"driver":"ixgbe","rings":{"rx":`)]+"256"+state[len(`{"driver":"ixgbe","rings":{"rx":512`):]), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := f.Rings("eno9"); err != nil || r.RX != 256 {
		t.Errorf("rings after the file changed: %+v, %v", r, err)
	}
	// A change through Files is seen too.
	if err := f.SetRings("eno9", 1024, 1024); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.Rings("eno9"); r.RX != 1024 {
		t.Errorf("rings after SetRings: %+v", r)
	}
	// A file that no longer decodes is an error, not the last good state.
	if err := os.WriteFile(f.Path("eno9"), []byte(`{"driver":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Rings("eno9"); err == nil {
		t.Error("a broken file read as the last good state")
	}
}
