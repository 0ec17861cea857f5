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
		// igb lists its net_device counters in ethtool -S, and counts the
		// packets that found no descriptor (RNBC) before missing them:
		// 42 drops, not 126.
		{rule: "NT201", setup: func(t *testing.T, root string) {
			write(t, root, "var/lib/nettune-snapshot/ethtool/eth0.json", `{"driver": "igb", "stats": {"rx_missed_errors": 0, "rx_no_buffer_count": 0}}`)
		}, between: func(t *testing.T, root string) {
			write(t, root, "sys/devices/pci0000:00/0000:00:03.0/net/eth0/statistics/rx_missed_errors", "42\n")
			write(t, root, "var/lib/nettune-snapshot/ethtool/eth0.json", `{"driver": "igb", "stats": {"rx_missed_errors": 42, "rx_no_buffer_count": 42}}`)
		}, want: "eth0 dropped 42 packets in hardware"},
		// softnet_stat columns are 32-bit: fffffff0 -> 00000010 is 32 drops.
		{rule: "NT101", setup: func(t *testing.T, root string) {
			replace(t, root, "proc/net/softnet_stat", softnetCPU0, "00001000 fffffff0 00000000")
		}, between: func(t *testing.T, root string) {
			replace(t, root, "proc/net/softnet_stat", "00001000 fffffff0 00000000", "00002000 00000010 00000000")
		}, want: "32 packets dropped"},
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
			replace(t, root, "etc/default/irqbalance", "IRQBALANCE_BANNED_CPULIST=1", "IRQBALANCE_BANNED_CPULIST=0")
		}, want: "irqbalance is running and may move IRQs onto isolated CPUs 1"},
		// The deprecated mask wins over the list, as in irqbalance.
		{rule: "NT401", setup: func(t *testing.T, root string) {
			replace(t, root, "etc/default/irqbalance", "IRQBALANCE_BANNED_CPULIST=1", "IRQBALANCE_BANNED_CPULIST=1\nIRQBALANCE_BANNED_CPUS=1")
		}, want: "sets IRQBALANCE_BANNED_CPUS=1, which replaces irqbalance's default ban"},
		{rule: "NT404", spec: "  sysctl:\n    net.ipv4.udp_mem: [1048576, 4194304, 8388608]\n", want: "up to 32.0 GiB of socket buffers, more than the 15.3 GiB"},
		{rule: "NT701", setup: func(t *testing.T, root string) {
			write(t, root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda2 default_hugepagesz=1G hugepagesz=1G hugepages=4\n")
			write(t, root, "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "0\n")
		}, want: "booted to reserve 4 1G pages but the kernel holds 0"},
		{rule: "NT701", setup: func(t *testing.T, root string) {
			write(t, root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda2 isolcpus=managed_irq,domain,1 nohz_full=1\n")
			os.Remove(filepath.Join(root, "sys/devices/system/cpu/nohz_full"))
		}, want: "booted with nohz_full=1 but this kernel has no NO_HZ_FULL"},
		{rule: "NT701", setup: func(t *testing.T, root string) {
			write(t, root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda2 isolcpus=managed_irq,domain,1 nohz_full=1\n")
			write(t, root, "sys/devices/system/cpu/isolated", "\n")
		}, want: "booted with isolcpus=managed_irq,domain,1 but the kernel does not isolate CPUs 1"},
		{rule: "NT702", setup: func(t *testing.T, root string) {
			write(t, root, "etc/default/grub", "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet isolcpus=1 nohz_full=1\"\nGRUB_CMDLINE_LINUX=\"\"\n")
			write(t, root, "boot/grub/grub.cfg", "menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz-6.1.0 root=/dev/sda2 ro quiet\n}\n")
		}, want: "/boot/grub/grub.cfg does not: the next boot would not get them"},
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
				return runOverlays(t, nil, setup, spec, between)
			}
			// Quiet host, same profile: the rule stays silent.
			quietSpec := tc.spec
			if tc.rule == "NT501" {
				quietSpec = "  hugepages:\n    pages: [{size: 2M, count: 256}]\n"
			}
			if tc.rule == "NT404" {
				quietSpec = "  sysctl:\n    net.ipv4.udp_mem: [65536, 131072, 262144]\n"
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

func runOn(t *testing.T, setup, between func(t *testing.T, root string), spec string) []Finding {
	t.Helper()
	return runOverlays(t, nil, setup, spec, between)
}

func finding(fs []Finding, rule string) (Finding, bool) {
	for _, f := range fs {
		if f.Rule == rule {
			return f, true
		}
	}
	return Finding{}, false
}

// TestIRQBalanceDefaultBan: without IRQBALANCE_BANNED_CPU(LIST),
// irqbalance bans the CPUs the kernel isolates or runs nohz_full; NT401
// stays silent.
func TestIRQBalanceDefaultBan(t *testing.T) {
	for _, line := range []string{"#IRQBALANCE_BANNED_CPULIST=1", "IRQBALANCE_BANNED_CPULIST="} {
		fs := runOn(t, func(t *testing.T, root string) {
			replace(t, root, "etc/default/irqbalance", "IRQBALANCE_BANNED_CPULIST=1", line)
		}, nil, "")
		if f, ok := finding(fs, "NT401"); ok {
			t.Errorf("%s: NT401 fired though irqbalance bans isolated CPU 1 by default: %s", line, f.Message)
		}
	}
}

// TestRemediesFollowTheProfile: a remedy does not undo what the profile
// chose, nor suggest what the kernel cannot do.
func TestRemediesFollowTheProfile(t *testing.T) {
	squeeze := func(t *testing.T, root string) {
		replace(t, root, "proc/net/softnet_stat", softnetCPU0, "00002000 00000000 00000005")
	}
	f, _ := finding(runOn(t, nil, squeeze, "  sysctl:\n    net.core.netdev_budget: 64\n"), "NT102")
	if strings.Contains(f.Remedy, "raise spec.sysctl net.core.netdev_budget") || !strings.Contains(f.Remedy, "the profile sets net.core.netdev_budget to 64") {
		t.Errorf("NT102 with the profile's budget of 64: %q", f.Remedy)
	}
	noNohz := func(t *testing.T, root string) {
		os.Remove(filepath.Join(root, "sys/devices/system/cpu/nohz_full"))
	}
	tick := func(t *testing.T, root string) {
		replace(t, root, "proc/interrupts", "90000        100", "90000       5100")
	}
	f, ok := finding(runOn(t, noNohz, tick, ""), "NT302")
	if !ok || strings.Contains(f.Remedy, "spec.cpu.nohzFull: true") || !strings.Contains(f.Remedy, "no NO_HZ_FULL") {
		t.Errorf("NT302 on a kernel without NO_HZ_FULL: %v %q", ok, f.Remedy)
	}
}

// TestCounterWrap: /proc/interrupts counts are 32-bit too.
func TestCounterWrap(t *testing.T) {
	f, ok := finding(runOn(t, func(t *testing.T, root string) {
		replace(t, root, "proc/interrupts", "5000          0", "5000 4294967290")
	}, func(t *testing.T, root string) {
		replace(t, root, "proc/interrupts", "5000 4294967290", "5000          4")
	}, ""), "NT301")
	if !ok || !strings.Contains(f.Message, "10 device interrupts") {
		t.Errorf("NT301 across a wrap: %v %q", ok, f.Message)
	}
}

// TestShippedProfilesFitMemory: no shipped profile sets socket memory
// beyond a 16 GB host's RAM.
func TestShippedProfilesFitMemory(t *testing.T) {
	for _, name := range profile.Shipped() {
		p, err := profile.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		root := fixture.Unpack(t, "testdata/quiet.txtar")
		r, _ := host.New(root)
		fs, err := Run(context.Background(), r, Options{Spec: &p.Spec, Rules: []Rule{{ID: "NT404", Run: ruleSocketMemory}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			t.Errorf("%s: %s", name, f.Message)
		}
	}
}
