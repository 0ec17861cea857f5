package nics_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

func inlineProfile(t *testing.T, spec string) *profile.Profile {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.yaml")
	doc := "apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: inline}\nspec:\n" + spec
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Load(p)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return prof
}

func planInline(t *testing.T, spec string) (*engine.PlanResult, error) {
	t.Helper()
	dir := fixture.Unpack(t, multiFixture)
	return newEngine(t, dir, nil).Plan(context.Background(), inlineProfile(t, spec))
}

func TestPlanProblems(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		sev        plan.Severity
		want       string
	}{
		{"no match", "  nics:\n    - match: {name: eth9}\n      txqueuelen: 5000\n", plan.Error,
			"match {name=eth9} selects no NIC; NICs on this host: enp175s0f0 (mlx5_core, 0000:af:00.0), ens1f0 (i40e, 0000:3b:00.0), ens2 (ice, 0000:5e:00.0), ens3 (virtio_net, 0000:00:03.0), eth0 (ixgbe, 0000:03:00.0), veth0 (veth), 0000:d8:00.0 (vfio-pci, no interface)"},
		{"ring above maximum", "  nics:\n    - match: {name: eth0}\n      rings: {rx: 8192}\n", plan.Error,
			"rx ring size 8192 is above the maximum 4096 of eth0 (ixgbe, 0000:03:00.0) (use at most 4096)"},
		{"rings on veth", "  nics:\n    - match: {name: veth0}\n      rings: {rx: 512}\n", plan.Error,
			"veth0 (veth) does not support ring sizes (ethtool -G)"},
		{"no combined channels", "  nics:\n    - match: {name: veth0}\n      channels: {combined: 2}\n", plan.Error,
			"veth0 (veth) has no combined channels"},
		{"channels above maximum", "  nics:\n    - match: {name: ens1f0}\n      channels: {combined: 16}\n", plan.Error,
			"combined channels 16 is above the maximum 8 of ens1f0"},
		{"unknown feature", "  nics:\n    - match: {name: eth0}\n      features: {gro-hw: true}\n", plan.Error,
			`unknown feature "gro-hw"; did you mean rx-gro-hw?`},
		{"fixed feature", "  nics:\n    - match: {name: eth0}\n      features: {tx-checksum-ipv4: true}\n", plan.Error,
			"feature tx-checksum-ipv4 of eth0 (ixgbe, 0000:03:00.0) is fixed off by the driver"},
		{"rss beyond channels", "  nics:\n    - match: {name: eth0}\n      channels: {combined: 2}\n      rss: {queues: 3}\n", plan.Error,
			"rss.queues 3 is more than the 2 rx queues eth0 has after the plan"},
		{"flow entries not a power of two", "  nics:\n    - match: {name: eth0}\n      rfs: {flowEntries: 30000}\n", plan.Error,
			"rfs.flowEntries 30000 is not a power of two up to 536870912: the kernel rounds it up and it would not read back (use 32768)"},
		{"rfs and sysctl", "  sysctl:\n    net/core/rps_sock_flow_entries: 32768\n  nics:\n    - match: {name: eth0}\n      rfs: {flowEntries: 32768}\n", plan.Error,
			"spec.sysctl sets net/core/rps_sock_flow_entries and spec.nics[].rfs.flowEntries sets it too"},
		{"two sizes", "  nics:\n    - match: {name: eth0}\n      rfs: {flowEntries: 32768}\n    - match: {name: ens1f0}\n      rfs: {flowEntries: 4096}\n", plan.Error,
			"the entries set different RFS table sizes"},
		{"matched twice", "  nics:\n    - match: {driver: ixgbe}\n      txqueuelen: 5000\n    - match: {name: 'eth*'}\n      txqueuelen: 6000\n", plan.Error,
			"eth0 is matched by nics[0] and nics[1]"},
		{"offline cpus", "  nics:\n    - match: {name: eth0}\n      irqAffinity: {cpus: 6-9}\n", plan.Error,
			"spec.nics[0].irqAffinity.cpus names CPUs 8-9 that are not online"},
		{"isolated node", "  cpu: {isolated: 4-5}\n  nics:\n    - match: {name: ens2}\n      irqAffinity: {strategy: local}\n", plan.Error,
			"no CPU left for ens2's IRQs: node 1's CPUs 4-7 are all isolated"},
		{"vfio port", "  nics:\n    - match: {driver: vfio-pci}\n      channels: {combined: 2}\n", plan.Warning,
			"nics[0] matches PCI device 0000:d8:00.0, which is bound to vfio-pci and has no kernel network interface"},
		{"virtual NIC IRQs", "  nics:\n    - match: {name: veth0}\n      irqAffinity: {strategy: local}\n", plan.Warning,
			"veth0 (veth) has no queue interrupts nettune recognizes"},
		{"xps on a single tx queue", "  nics:\n    - match: {name: veth0}\n      xps: {cpus: 0-1}\n", plan.Warning,
			"veth0 has a single tx queue: the kernel has no XPS for it"},
		{"shrink without rss", "  nics:\n    - match: {name: eth0}\n      channels: {combined: 2}\n", plan.Warning,
			"the channel change leaves 2 rx queues, but the RSS indirection table still points at queues up to 3"},
		{"ban everything", "  nics:\n    - match: {name: 'ens*'}\n      irqAffinity: {strategy: local, includeIsolated: true}\n  irqbalance: {mode: ban}\n", plan.Error,
			"banning CPUs 0-7 leaves irqbalance no CPU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, err := planInline(t, tc.spec)
			if pr == nil {
				t.Fatalf("plan: %v", err)
			}
			if tc.sev == plan.Error && !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("plan error = %v, want ErrInvalid", err)
			}
			for _, p := range pr.Problems {
				if p.Severity == tc.sev && strings.Contains(p.String(), tc.want) {
					return
				}
			}
			t.Errorf("no %s containing %q in:\n%s", tc.sev, tc.want, renderPlan(pr))
		})
	}
}

// order lists "object attribute" of the drift items.
func order(pr *engine.PlanResult) string {
	var out []string
	for _, c := range pr.Changes() {
		out = append(out, c.Object+" "+c.Attribute)
	}
	return strings.Join(out, "\n")
}

func TestChannelOrdering(t *testing.T) {
	// Shrinking: the table stops using queues 2-3 before they go; IRQs wait
	// for the next run; RPS covers the queues that stay.
	pr, err := planInline(t, "  nics:\n    - match: {name: eth0}\n      rings: {rx: 1024}\n      channels: {combined: 2}\n      rss: {queues: 2}\n      irqAffinity: {cpus: 1-2}\n      rps: {cpus: 1-2}\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, renderPlan(pr))
	}
	want := "eth0 rss\neth0 rings/channels\neth0/rx-0 rps_cpus\neth0/rx-1 rps_cpus"
	if got := order(pr); got != want {
		t.Errorf("shrink order:\n%s\nwant:\n%s", got, want)
	}
	found := false
	for _, p := range pr.Problems {
		found = found || strings.Contains(p.Message, "re-create eth0's queue interrupts")
	}
	if !found {
		t.Errorf("no two-phase warning:\n%s", renderPlan(pr))
	}
	for _, c := range pr.Changes() {
		if c.Attribute == "rings/channels" && (c.Before != "rx-ring=512 combined=4" || c.After != "rx-ring=1024 combined=2" || c.Command != "# live host only, not run under --root: ethtool -G eth0 rx 1024 && ethtool -L eth0 combined 2") {
			t.Errorf("rings/channels change = %+v", c)
		}
	}

	// RFS divides the table by the queues left after the change.
	pr, err = planInline(t, "  nics:\n    - match: {name: eth0}\n      channels: {combined: 2}\n      rfs: {flowEntries: 32768}\n")
	if pr == nil {
		t.Fatal(err)
	}
	var flows []string
	for _, c := range pr.Changes() {
		if c.Attribute == "rps_flow_cnt" {
			flows = append(flows, c.Object+"="+c.After)
		}
	}
	if strings.Join(flows, " ") != "eth0/rx-0=16384 eth0/rx-1=16384" {
		t.Errorf("flow counts after shrinking to 2 queues: %v", flows)
	}

	// Growing: channels first, then the table may use the new queues.
	pr, err = planInline(t, "  nics:\n    - match: {name: ens1f0}\n      channels: {combined: 8}\n      rss: {queues: 8}\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, renderPlan(pr))
	}
	if got := order(pr); got != "ens1f0 rings/channels\nens1f0 rss" {
		t.Errorf("grow order:\n%s", got)
	}
}

// TestChannelShrinkApply applies and reverts a shrink with RSS on the
// fixture, whose state file refuses a table over missing queues as the
// kernel does: the order makes both directions work.
func TestChannelShrinkApply(t *testing.T) {
	dir := fixture.Unpack(t, multiFixture)
	before := fixture.Digest(t, dir)
	e := newEngine(t, dir, nil)
	ctx := context.Background()
	p := inlineProfile(t, "  nics:\n    - match: {name: ens1f0}\n      channels: {combined: 2}\n      rss: {queues: 2}\n")
	if _, err := e.Apply(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	chk, err := e.Check(ctx, p)
	if err != nil || chk.Count(plan.Drift) != 0 {
		t.Fatalf("check: %v\n%s", err, renderPlan(chk))
	}
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree differs after revert: %v", diffs)
	}
	// Channels first would have been refused.
	bad := inlineProfile(t, "  nics:\n    - match: {name: ens1f0}\n      rss: {queues: 8}\n")
	if pr, err := e.Plan(ctx, bad); err == nil {
		t.Errorf("rss over 8 queues with 4 channels planned:\n%s", renderPlan(pr))
	}
}

func TestIRQBalanceModes(t *testing.T) {
	ctx := context.Background()
	spec := "  nics:\n    - match: {name: eth0}\n      irqAffinity: {cpus: 2-3}\n  irqbalance: {mode: %s}\n"

	// stop: through systemctl.
	dir := fixture.Unpack(t, multiFixture)
	before := fixture.Digest(t, dir)
	e := newEngine(t, dir, nil)
	sd := &fakeSystemd{active: true, enabled: true}
	e.Env.Root.Exec = sd
	p := inlineProfile(t, fmt.Sprintf(spec, "stop"))
	pr, err := e.Plan(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(order(pr), "irqbalance.service service") {
		t.Fatalf("stop plan:\n%s", renderPlan(pr))
	}
	if _, err := e.Apply(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	if sd.active || sd.enabled {
		t.Errorf("irqbalance still %v/%v", sd.active, sd.enabled)
	}
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if !sd.active || !sd.enabled {
		t.Errorf("irqbalance not restored: %v/%v", sd.active, sd.enabled)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Fatalf("tree differs after revert: %v", diffs)
	}

	// ban: the configuration changes and a running irqbalance restarts.
	sd.calls = nil
	p = inlineProfile(t, fmt.Sprintf(spec, "ban"))
	if _, err := e.Apply(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(sd.calls, ";"), "try-restart") {
		t.Errorf("irqbalance not restarted: %v", sd.calls)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "etc/default/irqbalance"))
	if !strings.Contains(string(conf), "IRQBALANCE_BANNED_CPULIST=2-3,6-7\n") || !strings.Contains(string(conf), `IRQBALANCE_ARGS="--banirq=134 --banirq=135 --banirq=136 --banirq=137"`) {
		t.Errorf("configuration:\n%s", conf)
	}
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}

	// ignore while irqbalance runs without a ban: check says so.
	pr, err = e.Plan(ctx, inlineProfile(t, fmt.Sprintf(spec, "ignore")))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pr.Problems {
		found = found || p.Severity == plan.Warning && strings.Contains(p.Message, "irqbalance is running and /etc/default/irqbalance does not ban IRQs [134 135 136 137]")
	}
	if !found {
		t.Errorf("no irqbalance warning:\n%s", renderPlan(pr))
	}

	// Not installed: nothing to ban.
	os.Remove(filepath.Join(dir, "etc/default/irqbalance"))
	os.Remove(filepath.Join(dir, "usr/lib/systemd/system/irqbalance.service"))
	pr, err = e.Plan(ctx, inlineProfile(t, fmt.Sprintf(spec, "ban")))
	if err != nil || !strings.Contains(renderPlan(pr), "irqbalance is not installed") {
		t.Errorf("not installed: %v\n%s", err, renderPlan(pr))
	}
}

type fakeSystemd struct {
	active, enabled bool
	calls           []string
}

func (f *fakeSystemd) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	switch strings.Join(args, " ") {
	case "is-active irqbalance.service":
		if f.active {
			return []byte("active\n"), nil
		}
		return []byte("inactive\n"), errors.New("exit status 3")
	case "is-enabled irqbalance.service":
		if f.enabled {
			return []byte("enabled\n"), nil
		}
		return []byte("disabled\n"), errors.New("exit status 1")
	case "stop irqbalance.service":
		f.active = false
	case "start irqbalance.service":
		f.active = true
	case "disable irqbalance.service":
		f.enabled = false
	case "enable irqbalance.service":
		f.enabled = true
	case "try-restart irqbalance.service":
	default:
		return nil, fmt.Errorf("unexpected %s %v", name, args)
	}
	return nil, nil
}
