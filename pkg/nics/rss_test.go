package nics_test

import (
	"context"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
)

// TestRSSRevertGivesTableBack: eth0's table is the driver's default (even
// over its 4 queues). Reverting `rss: {queues: 2}` wrote the default back
// entry by entry, which the kernel counts as a user-set table, so a later
// `ethtool -L eth0 combined 1` was refused; the revert must give the table
// back to the driver, leaving the tree as it was.
func TestRSSRevertGivesTableBack(t *testing.T) {
	dir := fixture.Unpack(t, multiFixture)
	before := fixture.Digest(t, dir)
	e := newEngine(t, dir, nil)
	p := inlineProfile(t, "  nics:\n    - match: {name: eth0}\n      rss: {queues: 2}\n")
	ctx := context.Background()
	if _, err := e.Apply(ctx, p, nil); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatalf("revert: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Errorf("tree differs after revert (the table is still user-set?): %v", diffs)
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	eth := &ethtool.Files{Root: r}
	c, err := eth.Channels("eth0")
	if err != nil {
		t.Fatal(err)
	}
	c.Combined = 1
	if err := eth.SetChannels("eth0", c); err != nil {
		t.Errorf("ethtool -L eth0 combined 1 after the revert: %v", err)
	}
	if tbl, err := eth.Indir("eth0"); err != nil || ethtool.EvenQueues(tbl) != 1 {
		t.Errorf("the driver's table is re-spread over 1 queue: %v %v", tbl, err)
	}
}
