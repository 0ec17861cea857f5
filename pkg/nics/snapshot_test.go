package nics_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/irqaffinity"
	"github.com/nettune/nettune/pkg/nics"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/snapshot"
)

// TestSnapshotRoundTrip snapshots this machine (reading only: files and
// ethtool queries), then tunes its first PCI NIC on the snapshot: the
// ethtool state captured from the live ioctls is what the offline root
// plans, applies and reverts, byte for byte. The live NIC is never
// written.
func TestSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := snapshot.Take("/", dir); err != nil {
		t.Fatal(err)
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := numa.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	eth, _ := ethtool.Open(r)
	inv, err := nics.ReadInventory(r, topo, eth)
	if err != nil {
		t.Fatal(err)
	}
	irqs, err := irqaffinity.ReadInterrupts(r)
	if err != nil {
		t.Fatal(err)
	}
	var nic *nics.NIC
	for i, n := range inv.NICs {
		msi, _ := irqaffinity.MSIIRQs(n.PCIDir)
		if n.PCI != "" && len(irqaffinity.RoundRobin(irqaffinity.Queues(n.Device(), irqs, msi), topo.Online)) > 0 {
			nic = &inv.NICs[i]
			break
		}
	}
	if nic == nil {
		t.Skip("this machine has no PCI NIC with queue interrupts")
	}
	st, err := ethtool.DecodeState(mustRead(t, filepath.Join(dir, ethtool.StateDir, nic.Name+".json")))
	if err != nil {
		t.Fatal(err)
	}
	gro, ok := st.Features["rx-gro"]
	if !ok || gro.Fixed {
		t.Skipf("%s has no changeable rx-gro", nic.Name)
	}
	last := topo.Online.Max()
	p := inlineProfile(t, fmt.Sprintf(`  nics:
    - match: {name: %s, pci: %q}
      features: {rx-gro: %v}
      txqueuelen: 4321
      irqAffinity: {cpus: "%d"}
      rps: {cpus: "%d"}
`, nic.Name, nic.PCI, !gro.Active, last, last))
	before := fixture.Digest(t, dir)
	e := newEngine(t, dir, nil)
	ctx := context.Background()
	pr, err := e.Plan(ctx, p)
	if err != nil {
		t.Fatalf("%v\n%s", err, renderPlan(pr))
	}
	if pr.Count(plan.Drift) < 3 {
		t.Fatalf("plan on the snapshot:\n%s", renderPlan(pr))
	}
	if _, err := e.Apply(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	chk, err := e.Check(ctx, p)
	if err != nil || chk.Count(plan.Drift) != 0 {
		t.Fatalf("check on the snapshot: %v\n%s", err, renderPlan(chk))
	}
	after, _ := ethtool.DecodeState(mustRead(t, filepath.Join(dir, ethtool.StateDir, nic.Name+".json")))
	if after.Features["rx-gro"].Active == gro.Active {
		t.Errorf("rx-gro not changed in the snapshot state")
	}
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("snapshot differs after revert: %v", diffs)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
