package profiles_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/cli"
	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Every shipped profile parses, and fits the fixture hosts it is meant
// for: the engine plans it there without a single error problem.
func TestShippedProfilesFitFixtureHosts(t *testing.T) {
	hosts := map[string][]string{
		"safe-default":       {"../testdata/hosts/shipped-extras.txtar"},
		"null-forwarder":     {"../testdata/hosts/topo-1node-8cpu.txtar"},
		"dpdk-forwarder":     {"../testdata/hosts/topo-2node-32cpu-smt.txtar", "../testdata/hosts/boot-debian-grub.txtar", "../testdata/hosts/shipped-extras.txtar"},
		"kernel-throughput":  {"../pkg/nics/testdata/multi.txtar", "../testdata/hosts/shipped-extras.txtar"},
		"kernel-low-latency": {"../pkg/nics/testdata/multi.txtar", "../testdata/hosts/boot-debian-grub.txtar", "../testdata/hosts/shipped-extras.txtar"},
	}
	names := profile.Shipped()
	if len(names) < len(hosts) {
		t.Fatalf("shipped profiles %v, want at least %d", names, len(hosts))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			archives, ok := hosts[name]
			if !ok {
				t.Fatalf("no fixture host for shipped profile %s: add one to this test", name)
			}
			p, err := profile.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			for _, a := range archives {
				if err := fixture.UnpackTo(a, dir); err != nil {
					t.Fatal(err)
				}
			}
			r, err := host.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			eng := engine.New(&module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, "test", cli.Modules())
			pr, err := eng.Plan(context.Background(), p)
			if err != nil {
				t.Fatalf("%s does not fit its fixture host: %v", name, err)
			}
			if len(pr.Changes()) == 0 && name != "null-forwarder" {
				t.Errorf("%s changes nothing on its fixture host", name)
			}
			for _, pb := range pr.Problems {
				if pb.Severity == plan.Warning {
					t.Logf("warning: %s", pb)
				}
			}
		})
	}
}

// A profile that extends kernel-low-latency and isolates other cores (5-7) gets
// irqbalance banned from those cores, not from the parent's 2-3.
func TestLowLatencyChildBansItsOwnIsolatedCPUs(t *testing.T) {
	dir := t.TempDir()
	child := dir + "/child.yaml"
	if err := os.WriteFile(child, []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: child}\nextends: kernel-low-latency\nspec:\n  cpu:\n    isolated: \"5-7\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Load(child)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"../pkg/nics/testdata/multi.txtar", "../testdata/hosts/boot-debian-grub.txtar", "../testdata/hosts/shipped-extras.txtar"} {
		if err := fixture.UnpackTo(a, dir); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(&module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, "test", cli.Modules())
	pr, err := eng.Plan(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range pr.Items {
		if it.Module != "irqbalance" || !strings.Contains(it.After, "IRQBALANCE_BANNED_CPULIST") {
			continue
		}
		found = true
		if !strings.Contains(it.After, "IRQBALANCE_BANNED_CPULIST=5-7\n") && !strings.Contains(it.After, "IRQBALANCE_BANNED_CPULIST=\"5-7\"") {
			t.Errorf("irqbalance ban for a child isolating 5-7:\n%s\n(reason: %s)", it.After, it.Reason)
		}
	}
	if !found {
		t.Errorf("no irqbalance ban planned")
	}
}
