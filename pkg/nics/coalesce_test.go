package nics_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/plan"
)

const coalesceFixture = "testdata/coalesce.txtar"

// TestCoalesceUnsupported: e1000e supports only rx-usecs and virtio_net
// (Linux 6.1) no adaptive coalescing. A profile key the driver does not
// support passed plan (adaptive-rx, which ethtool -c shows as "n/a", read
// as off) and failed at apply with EOPNOTSUPP; it is now a plan error that
// names the NIC, the key and the keys the driver supports, and apply
// touches nothing.
func TestCoalesceUnsupported(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       []string
	}{
		{"e1000e rx-frames", "  nics:\n    - match: {name: eno1}\n      coalesce: {rxUsecs: 50, rxFrames: 16}\n",
			[]string{"eno1 (e1000e, 0000:00:19.0)", "spec.nics[0].coalesce.rxFrames (ethtool -C rx-frames)", "it supports rxUsecs", "did you mean rxUsecs?"}},
		{"e1000e adaptive-rx off is n/a", "  nics:\n    - match: {driver: e1000e}\n      coalesce: {adaptiveRx: false}\n",
			[]string{"eno1 (e1000e, 0000:00:19.0) does not support spec.nics[0].coalesce.adaptiveRx (ethtool -C adaptive-rx): ethtool -c shows it as n/a, which is neither off nor 0"}},
		{"virtio_net adaptive", "  nics:\n    - match: {name: ens3}\n      coalesce: {adaptiveRx: true, adaptiveTx: true, rxUsecs: 8}\n",
			[]string{"ens3 (virtio_net, 0000:00:03.0)", "coalesce.adaptiveRx (ethtool -C adaptive-rx), spec.nics[0].coalesce.adaptiveTx", "it supports rxUsecs, rxFrames, txUsecs, txFrames", "shows them as n/a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture.Unpack(t, coalesceFixture)
			before := fixture.Digest(t, dir)
			e := newEngine(t, dir, nil)
			p := inlineProfile(t, tc.spec)
			pr, err := e.Plan(context.Background(), p)
			if !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("plan error = %v, want ErrInvalid", err)
			}
			if pr == nil {
				t.Fatal("no plan")
			}
			var msgs []string
			for _, pb := range pr.Problems {
				if pb.Severity == plan.Error {
					msgs = append(msgs, pb.String())
				}
			}
			all := strings.Join(msgs, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("no error containing %q in:\n%s", w, renderPlan(pr))
				}
			}
			for _, c := range pr.Changes() {
				if c.Attribute == "coalesce" {
					t.Errorf("unsupported coalescing planned: %s %s -> %s", c.Object, c.Before, c.After)
				}
			}
			if _, err := e.Apply(context.Background(), p, nil); err == nil {
				t.Error("apply of a profile with an unsupported coalescing key succeeded")
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
				t.Errorf("the refused apply changed the tree: %v", diffs)
			}
		})
	}
}

// TestCoalesceSupported: the keys a driver supports plan, apply and
// revert as before.
func TestCoalesceSupported(t *testing.T) {
	dir := fixture.Unpack(t, coalesceFixture)
	before := fixture.Digest(t, dir)
	e := newEngine(t, dir, nil)
	p := inlineProfile(t, "  nics:\n    - match: {name: eno1}\n      coalesce: {rxUsecs: 50}\n    - match: {name: ens3}\n      coalesce: {rxUsecs: 8, txFrames: 1}\n")
	ctx := context.Background()
	pr, err := e.Plan(ctx, p)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, renderPlan(pr))
	}
	got := renderPlan(pr)
	for _, w := range []string{`eno1                                     coalesce               "rx-usecs=3" -> "rx-usecs=50"`, `ens3                                     coalesce               "rx-usecs=0 tx-frames=1" -> "rx-usecs=8 tx-frames=1"`} {
		if !strings.Contains(got, w) {
			t.Errorf("plan lacks %q:\n%s", w, got)
		}
	}
	if _, err := e.Apply(ctx, p, nil); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatalf("revert: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Errorf("tree differs after revert: %v", diffs)
	}
}
