package diagnose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

func write(t *testing.T, root, p, content string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replace(t *testing.T, root, p, old, new string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, p))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q", p, old)
	}
	write(t, root, p, strings.Replace(string(b), old, new, 1))
}

func parseSpec(t *testing.T, y string) *profile.Spec {
	t.Helper()
	p, err := profile.Parse("t.yaml", []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: t}\nspec:\n"+y))
	if err != nil {
		t.Fatal(err)
	}
	return &p.Spec
}

const softnetCPU0 = "00001000 00000000 00000000"

// Each case names a rule, what to change on the quiet host (before the
// first sample, or between the samples for rate rules), and an optional
// profile. The rule must fire; on the quiet host it must not.
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		rule    string
		setup   func(t *testing.T, root string)
		between func(t *testing.T, root string)
		spec    string
		want    string
	}{
		{rule: "NT101", between: func(t *testing.T, root string) {
			replace(t, root, "proc/net/softnet_stat", softnetCPU0, "00002000 00000010 00000000")
		}, want: "16 packets dropped"},
		{rule: "NT102", between: func(t *testing.T, root string) {
			replace(t, root, "proc/net/softnet_stat", softnetCPU0, "00002000 00000000 00000005")
		}, want: "stopped 5 times"},
		{rule: "NT103", between: func(t *testing.T, root string) {
			replace(t, root, "proc/net/softnet_stat", "00000200 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001",
				"00000200 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000007 00000000 00000001")
		}, want: "7 packets of large flows"},
		{rule: "NT201", between: func(t *testing.T, root string) {
			write(t, root, "sys/devices/pci0000:00/0000:00:03.0/net/eth0/statistics/rx_missed_errors", "42\n")
		}, want: "eth0 dropped 42 packets in hardware"},
		{rule: "NT201", setup: func(t *testing.T, root string) {
			write(t, root, "var/lib/nettune-snapshot/ethtool/eth0.json", `{"driver": "mlx5_core", "stats": {"rx_out_of_buffer": 10, "rx_vport_unicast_packets": 5}}`)
		}, between: func(t *testing.T, root string) {
			write(t, root, "var/lib/nettune-snapshot/ethtool/eth0.json", `{"driver": "mlx5_core", "stats": {"rx_out_of_buffer": 87, "rx_vport_unicast_packets": 900}}`)
		}, want: "ethtool:rx_out_of_buffer: 77 in 1s"},
		{rule: "NT301", between: func(t *testing.T, root string) {
			replace(t, root, "proc/interrupts", "5000          0", "5000         77")
		}, want: "77 device interrupts ran on isolated CPUs 1"},
		{rule: "NT302", between: func(t *testing.T, root string) {
			replace(t, root, "proc/interrupts", "90000        100", "90000       5100")
		}, want: "cpu1: 5000/s"},
		{rule: "NT401", setup: func(t *testing.T, root string) {
			replace(t, root, "etc/default/irqbalance", "IRQBALANCE_BANNED_CPULIST=1", "#IRQBALANCE_BANNED_CPULIST=1")
		}, want: "irqbalance is running and may move IRQs onto isolated CPUs 1"},
		{rule: "NT402", setup: func(t *testing.T, root string) {
			write(t, root, "etc/tuned/active_profile", "network-latency\n")
			write(t, root, "proc/200/comm", "tuned\n")
		}, want: `tuned profile "network-latency" is active`},
		{rule: "NT403", setup: func(t *testing.T, root string) {
			write(t, root, "etc/sysctl.d/99-local.conf", "net.core.netdev_max_backlog = 500\n")
		}, want: "99-local.conf:1 sets net.core.netdev_max_backlog = 500"},
		{rule: "NT501", spec: "  hugepages:\n    pages: [{size: 2M, count: 1024}]\n", want: "512 2M pages reserved, the profile needs 1024"},
		{rule: "NT502", setup: func(t *testing.T, root string) {
			b, _ := os.ReadFile(filepath.Join(root, "proc/cpuinfo"))
			write(t, root, "proc/cpuinfo", strings.ReplaceAll(string(b), " pdpe1gb", ""))
		}, spec: "  hugepages:\n    pages: [{size: 1G, count: 2}]\n", want: "no pdpe1gb"},
		{rule: "NT503", setup: func(t *testing.T, root string) {
			write(t, root, "sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never\n")
		}, want: "transparent hugepages are 'always'"},
		{rule: "NT601", setup: func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "sys/kernel/iommu_groups/0"))
		}, spec: "  devices: [{pci: \"0000:00:03.0\", driver: vfio-pci}]\n", want: "no IOMMU is active"},
		{rule: "NT602", spec: "  dataplane:\n    ports: [{name: p0, pci: \"0000:00:03.0\"}]\n    lcores: \"1\"\n", want: "0000:00:03.0 is on NUMA node 0 but CPUs 1 are not"},
		{rule: "NT603", setup: func(t *testing.T, root string) {
			write(t, root, "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor", "powersave\n")
		}, want: "cpu1: powersave"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			run := func(setup, between func(*testing.T, string), spec string) []Finding {
				root := fixture.Unpack(t, "testdata/quiet.txtar")
				if setup != nil {
					setup(t, root)
				}
				r, err := host.New(root)
				if err != nil {
					t.Fatal(err)
				}
				opt := Options{Interval: time.Second, Sleep: func(context.Context, time.Duration) error {
					if between != nil {
						between(t, root)
					}
					return nil
				}}
				if spec != "" {
					opt.Spec = parseSpec(t, spec)
				}
				f, err := Run(context.Background(), r, opt)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
			// Quiet host, same profile: the rule stays silent.
			quietSpec := tc.spec
			if tc.rule == "NT501" {
				quietSpec = "  hugepages:\n    pages: [{size: 2M, count: 256}]\n"
			}
			if tc.rule == "NT602" {
				quietSpec = "  dataplane:\n    ports: [{name: p0, pci: \"0000:00:03.0\"}]\n    lcores: \"0\"\n"
			}
			for _, f := range run(nil, nil, quietSpec) {
				if f.Rule == tc.rule {
					t.Errorf("quiet host: %s fired: %s (%s)", f.Rule, f.Message, f.Evidence)
				}
			}
			var got []string
			found := false
			for _, f := range run(tc.setup, tc.between, tc.spec) {
				got = append(got, f.Rule+": "+f.Message+" ["+f.Evidence+"]")
				if f.Rule == tc.rule && strings.Contains(f.Message+" "+f.Evidence, tc.want) {
					found = true
					if f.Remedy == "" {
						t.Errorf("%s has no remedy", f.Rule)
					}
				}
			}
			if !found {
				t.Errorf("rule %s did not fire with %q; findings:\n%s", tc.rule, tc.want, strings.Join(got, "\n"))
			}
		})
	}
}

func TestQuietHostHasNoFindings(t *testing.T) {
	root := fixture.Unpack(t, "testdata/quiet.txtar")
	r, _ := host.New(root)
	f, err := Run(context.Background(), r, Options{Interval: time.Second, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil || len(f) != 0 {
		t.Fatalf("findings on the quiet host: %+v, %v", f, err)
	}
}

func TestRuleIDsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] || seen[r.Name] {
			t.Errorf("duplicate rule %s %s", r.ID, r.Name)
		}
		seen[r.ID], seen[r.Name] = true, true
	}
}

func TestNoIntervalSkipsRateRules(t *testing.T) {
	root := fixture.Unpack(t, "testdata/quiet.txtar")
	replace(t, root, "proc/net/softnet_stat", softnetCPU0, "00002000 00000010 00000000")
	r, _ := host.New(root)
	f, err := Run(context.Background(), r, Options{})
	if err != nil || len(f) != 0 {
		t.Fatalf("findings without interval: %+v, %v", f, err)
	}
}

// BenchmarkTakeSampleLive reads this machine's softnet, NIC and interrupt
// counters once: what each --interval sample and each exporter scrape
// costs.
func BenchmarkTakeSampleLive(b *testing.B) {
	r, err := host.New("/")
	if err != nil {
		b.Fatal(err)
	}
	topo, err := numa.Read(r)
	if err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := TakeSample(r, topo); err != nil {
			b.Fatal(err)
		}
	}
}
