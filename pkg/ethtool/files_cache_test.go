package ethtool

import (
	"os"
	"slices"
	"strings"
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

// TestFilesForPlan: a plan's view reads each interface's file once (a
// rewrite behind its back is not seen, the plan is one reading of the
// host), hands out copies like Files, sees its own writes, and leaves the
// Files it came from reading every time.
func TestFilesForPlan(t *testing.T) {
	_, f := offlineRoot(t)
	const state = `{"driver":"ixgbe","rings":{"rx":512,"tx":512,"rxMax":4096,"txMax":4096},"rssIndir":"0 1 0 1"}`
	if err := os.WriteFile(f.Path("eno9"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	pv := f.ForPlan()
	if r, err := pv.Rings("eno9"); err != nil || r.RX != 512 {
		t.Fatalf("rings: %+v, %v", r, err)
	}
	tab, _ := pv.Indir("eno9")
	tab[0] = 3
	if got, _ := pv.Indir("eno9"); !slices.Equal(got, []uint32{0, 1, 0, 1}) {
		t.Errorf("table after a caller changed its copy: %v", got)
	}
	if err := os.WriteFile(f.Path("eno9"), []byte(strings.Replace(state, `"rx":512`, `"rx":256`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, _ := pv.Rings("eno9"); r.RX != 512 {
		t.Errorf("the plan view read the file again: rx %d", r.RX)
	}
	if r, _ := f.Rings("eno9"); r.RX != 256 {
		t.Errorf("Files after ForPlan: rx %d, want the file's 256", r.RX)
	}
	if err := pv.SetRings("eno9", 1024, 1024); err != nil {
		t.Fatal(err)
	}
	if r, _ := pv.Rings("eno9"); r.RX != 1024 {
		t.Errorf("the plan view after its own SetRings: rx %d", r.RX)
	}
	// A missing file is an error every time, not remembered as a state.
	if _, err := pv.Rings("eno8"); err == nil {
		t.Error("rings of an interface without a state file")
	}
	if err := os.WriteFile(f.Path("eno8"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := pv.Rings("eno8"); err != nil || r.RX != 512 {
		t.Errorf("eno8 once its file exists: %+v, %v", r, err)
	}
}
