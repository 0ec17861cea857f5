package nics_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/netqueue"
	"github.com/nettune/nettune/pkg/nics"
	"github.com/nettune/nettune/pkg/plan"
)

// rpsKernel answers rps_cpus writes as store_rps_map does: the mask is
// ANDed with the housekeeping CPUs, so the CPUs of noHK never read back,
// on every write (apply and rollback alike).
func rpsKernel(noHK cpuset.Set, nbits int) func(path, old, value string) string {
	return func(path, old, value string) string {
		if filepath.Base(path) != "rps_cpus" {
			return value
		}
		s, err := cpuset.ParseMask(value)
		if err != nil {
			return value
		}
		return netqueue.Mask(s.Difference(noHK), nbits)
	}
}

// TestRPSIsolatedCPUs: multi.txtar's kernel isolates CPUs 6-7. An RPS mask
// naming them passed plan and failed apply (the read-back lacks them and
// the whole apply rolled back); the plan now leaves them out and says so.
func TestRPSIsolatedCPUs(t *testing.T) {
	dir := fixture.Unpack(t, multiFixture)
	before := fixture.Digest(t, dir)
	w := &fixture.ClampingWriter{W: host.OSWriter{}, Keep: rpsKernel(cpuset.MustParse("6-7"), 8)}
	e := newEngine(t, dir, w)
	p := inlineProfile(t, "  nics:\n    - match: {pci: \"af:00.0\"}\n      rps: {cpus: 4-7}\n")
	ctx := context.Background()
	pr, err := e.Plan(ctx, p)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	out := renderPlan(pr)
	if !strings.Contains(out, "includes CPUs 6-7, isolated or nohz_full in the running kernel (6-7)") {
		t.Errorf("no warning about the isolated CPUs:\n%s", out)
	}
	for _, c := range pr.Changes() {
		if c.Attribute == "rps_cpus" && c.After != "30" {
			t.Errorf("%s: rps_cpus %q, want 30 (CPUs 4-5)", c.Object, c.After)
		}
	}
	if _, err := e.Apply(ctx, p, nil); err != nil {
		t.Fatalf("apply: %v (kept: %v)", err, w.Kept)
	}
	if len(w.Kept) != 0 {
		t.Errorf("the kernel changed writes: %v", w.Kept)
	}
	chk, err := e.Check(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := chk.Count(plan.Drift); n != 0 {
		t.Errorf("check after apply: %d drift\n%s", n, renderPlan(chk))
	}
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Errorf("tree differs after revert: %v", diffs)
	}
}

// TestRPSNextBootIsolation: spec.cpu isolates CPU 5 from the next boot;
// the RPS mask planned now must already leave it out, or it drifts after
// that reboot.
func TestRPSNextBootIsolation(t *testing.T) {
	plan := func(spec string) string {
		r, err := host.New(fixture.Unpack(t, multiFixture))
		if err != nil {
			t.Fatal(err)
		}
		p := inlineProfile(t, spec)
		res, err := nics.Module{}.Plan(context.Background(), fixture.Env(r), &p.Spec)
		if err != nil {
			t.Fatal(err)
		}
		return fixture.RenderResult(res)
	}
	out := plan("  cpu: {isolated: 5}\n  nics:\n    - match: {pci: \"af:00.0\"}\n      rps: {cpus: 4-5}\n")
	if !strings.Contains(out, "isolated by spec.cpu from the next boot (5)") {
		t.Errorf("no warning:\n%s", out)
	}
	if !strings.Contains(out, `rps_cpus [set live] "00" -> "10"`) || strings.Contains(out, `-> "30"`) {
		t.Errorf("rps_cpus must be planned on CPU 4 only (10):\n%s", out)
	}
	out = plan("  nics:\n    - match: {pci: \"af:00.0\"}\n      rps: {cpus: 6-7}\n")
	if !strings.Contains(out, "error: ") || !strings.Contains(out, "are all isolated or nohz_full") {
		t.Errorf("an RPS mask of isolated CPUs only was not refused:\n%s", out)
	}
}

// bigHost generates a root with nodes of cpusPerNode CPUs and nNICs ixgbe
// NICs on node 0, each with nQueues TxRx vectors.
func bigHost(t *testing.T, cpusPerNode, nNICs, nQueues int) string {
	t.Helper()
	a := &txtar.Archive{}
	add := func(name, data string) { a.Files = append(a.Files, txtar.File{Name: name, Data: []byte(data + "\n")}) }
	link := func(name, target string) { a.Files = append(a.Files, txtar.File{Name: name + " -> " + target}) }
	ncpu := 2 * cpusPerNode
	all := fmt.Sprintf("0-%d", ncpu-1)
	add("sys/devices/system/cpu/online", all)
	add("sys/devices/system/cpu/possible", all)
	add("sys/devices/system/cpu/present", all)
	add("sys/devices/system/cpu/isolated", "")
	add("sys/devices/system/node/online", "0-1")
	add("sys/devices/system/node/node0/cpulist", fmt.Sprintf("0-%d", cpusPerNode-1))
	add("sys/devices/system/node/node1/cpulist", fmt.Sprintf("%d-%d", cpusPerNode, ncpu-1))
	var interrupts strings.Builder
	interrupts.WriteString("           CPU0       CPU1\n")
	for i := 0; i < nNICs; i++ {
		pci := fmt.Sprintf("0000:%02x:00.0", i+1)
		name := fmt.Sprintf("ens%d", i+1)
		dev := "sys/devices/pci0000:00/" + pci
		add(dev+"/numa_node", "0")
		add(dev+"/class", "0x020000")
		add(dev+"/vendor", "0x8086")
		link("sys/bus/pci/devices/"+pci, "../../../devices/pci0000:00/"+pci)
		link(dev+"/driver", "../../../bus/pci/drivers/ixgbe")
		link("sys/class/net/"+name, "../../devices/pci0000:00/"+pci+"/net/"+name)
		link(dev+"/net/"+name+"/device", "../../../"+pci)
		add(dev+"/net/"+name+"/address", fmt.Sprintf("90:e2:ba:00:00:%02x", i))
		for q := 0; q < nQueues; q++ {
			irq := 1000 + i*nQueues + q
			add(fmt.Sprintf("%s/msi_irqs/%d", dev, irq), "msix")
			fmt.Fprintf(&interrupts, "%4d:          0          0  IR-PCI-MSIX-%s %d-edge      %s-TxRx-%d\n", irq, pci, q, name, q)
			add(fmt.Sprintf("proc/irq/%d/smp_affinity_list", irq), all)
			add(fmt.Sprintf("proc/irq/%d/effective_affinity_list", irq), "0")
		}
	}
	add("proc/interrupts", strings.TrimSuffix(interrupts.String(), "\n"))
	dir := t.TempDir()
	if err := fixture.Extract(a, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLocalPlacementBalanced: 16 NICs × 64 queues on a 128-CPU node. The
// local strategy put queue i of every NIC on the i-th CPU, so half the
// node's CPUs took 16 IRQs and half none; every CPU must now carry the
// same number, give or take one.
func TestLocalPlacementBalanced(t *testing.T) {
	dir := bigHost(t, 128, 16, 64)
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := inlineProfile(t, "  nics:\n    - match: {driver: ixgbe}\n      irqAffinity: {strategy: local}\n")
	res, err := nics.Module{}.Plan(context.Background(), fixture.Env(r), &p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	perCPU := map[int]int{}
	for _, it := range res.Items {
		if it.Attribute != "smp_affinity_list" {
			continue
		}
		s := cpuset.MustParse(it.After)
		for _, c := range s.List() {
			perCPU[c]++
		}
	}
	lo, hi := 1<<30, -1
	for c := 0; c < 128; c++ {
		lo, hi = min(lo, perCPU[c]), max(hi, perCPU[c])
	}
	if hi-lo > 1 || hi < 0 {
		t.Errorf("IRQs per CPU of node 0 range from %d to %d (%v)", lo, hi, perCPU)
	}
	for c := range perCPU {
		if c >= 128 {
			t.Errorf("IRQ placed on CPU %d of node 1", c)
		}
	}
}

// TestSpreadMasksPerQueue: with spread, each queue gets its own CPU, and
// the plan formats a mask once per run of equal sets: every queue's mask,
// reason and command must still be its own (eth0 of multi.txtar has 4 rx
// and 4 tx queues).
func TestSpreadMasksPerQueue(t *testing.T) {
	dir := fixture.Unpack(t, multiFixture)
	e := newEngine(t, dir, nil)
	p := inlineProfile(t, "  nics:\n    - match: {name: eth0}\n      rps: {cpus: 0-3, spread: true}\n      xps: {cpus: 0-1, spread: true}\n")
	pr, err := e.Plan(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"eth0/rx-0 rps_cpus": "01", "eth0/rx-1 rps_cpus": "02", "eth0/rx-2 rps_cpus": "04", "eth0/rx-3 rps_cpus": "08",
		"eth0/tx-0 xps_cpus": "01", "eth0/tx-1 xps_cpus": "02", "eth0/tx-2 xps_cpus": "01", "eth0/tx-3 xps_cpus": "02",
	}
	got := 0
	for _, it := range pr.Items {
		c := it.Change
		w, ok := want[c.Object+" "+c.Attribute]
		if !ok {
			continue
		}
		got++
		cpu := fmt.Sprint(map[string]int{"01": 0, "02": 1, "04": 2, "08": 3}[w])
		if c.After != w || !strings.HasPrefix(c.Command, "echo "+w+" > ") || !strings.HasSuffix(c.Reason, " on CPUs "+cpu) {
			t.Errorf("%s %s: after %q, command %q, reason %q; want mask %s on CPU %s", c.Object, c.Attribute, c.After, c.Command, c.Reason, w, cpu)
		}
		if !strings.HasSuffix(c.Command, "/queues/"+strings.TrimPrefix(c.Object, "eth0/")+"/"+c.Attribute) {
			t.Errorf("%s: command %q writes another queue's file", c.Object, c.Command)
		}
	}
	if got != len(want) {
		t.Errorf("%d of %d queue items planned\n%s", got, len(want), renderPlan(pr))
	}
}
