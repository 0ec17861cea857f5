package diagnose

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"golang.org/x/tools/txtar"
)

// runOverlays runs the rules on quiet.txtar with the overlays unpacked on
// top of it; between, when set, changes the tree between the two samples.
func runOverlays(t *testing.T, overlays []string, setup func(t *testing.T, root string), spec string, between func(t *testing.T, root string)) []Finding {
	t.Helper()
	root := fixture.Unpack(t, "testdata/quiet.txtar")
	for _, o := range overlays {
		if err := fixture.UnpackTo("testdata/"+o, root); err != nil {
			t.Fatal(err)
		}
	}
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

// overlayCase: the rule fires on fires (with want in its message or
// evidence, at severity sev) and stays silent on quiet, with the same
// profile.
type overlayCase struct {
	rule        string
	fires       []string
	quiet       []string
	spec        string
	firesSetup  func(t *testing.T, root string)
	firesBetwen func(t *testing.T, root string)
	quietBetwen func(t *testing.T, root string)
	want        string
	sev         Severity
}

func (tc overlayCase) run(t *testing.T) {
	t.Helper()
	for _, f := range runOverlays(t, tc.quiet, nil, tc.spec, tc.quietBetwen) {
		if f.Rule == tc.rule {
			t.Errorf("%s fired on %v: %s [%s]", f.Rule, tc.quiet, f.Message, f.Evidence)
		}
	}
	var got []string
	found := false
	for _, f := range runOverlays(t, tc.fires, tc.firesSetup, tc.spec, tc.firesBetwen) {
		got = append(got, string(f.Severity)+" "+f.Rule+": "+f.Message+" ["+f.Evidence+"]")
		if f.Rule == tc.rule && strings.Contains(f.Message+" "+f.Evidence, tc.want) && (tc.sev == "" || f.Severity == tc.sev) {
			found = true
			if f.Remedy == "" {
				t.Errorf("%s has no remedy", f.Rule)
			}
		}
	}
	if !found {
		t.Errorf("%s did not fire on %v with %q (%s); findings:\n%s", tc.rule, tc.fires, tc.want, tc.sev, strings.Join(got, "\n"))
	}
}

const vfioSpec = "  devices: [{pci: \"0000:00:03.0\", driver: vfio-pci}]\n"

func TestHostCapabilityRules(t *testing.T) {
	for name, tc := range map[string]overlayCase{
		"vfio":        {rule: "NT604", spec: vfioSpec, want: "built without CONFIG_VFIO", sev: Error},
		"vfio-pci":    {rule: "NT604", spec: vfioSpec, want: "built without CONFIG_VFIO_PCI", sev: Error},
		"uio":         {rule: "NT604", spec: "  devices: [{pci: \"0000:00:03.0\", driver: uio_pci_generic}]\n", want: "CONFIG_UIO_PCI_GENERIC", sev: Error},
		"nohz":        {rule: "NT604", spec: "  cpu:\n    isolated: \"1\"\n", want: "built without CONFIG_NO_HZ_FULL", sev: Warning},
		"no-profile":  {rule: "NT604", want: "built without CONFIG_VFIO, CONFIG_VFIO_PCI, CONFIG_VFIO_NOIOMMU, CONFIG_UIO_PCI_GENERIC, CONFIG_NO_HZ_FULL", sev: Info},
		"clocksource": {rule: "NT605", want: "clocksource is hpet, not tsc", sev: Warning},
		"iommu-dma":   {rule: "NT606", want: "eth0 (0000:00:03.0): DMA-FQ", sev: Warning},
	} {
		t.Run(name, func(t *testing.T) {
			tc.fires = []string{"host-caps.txtar"}
			tc.quiet = []string{"host-caps-ok.txtar"}
			tc.run(t)
		})
	}
	// No IOMMU although the command line asks for one.
	t.Run("iommu-off-in-firmware", func(t *testing.T) {
		overlayCase{rule: "NT606", fires: []string{"host-caps.txtar"}, quiet: []string{"host-caps-ok.txtar"},
			firesSetup: func(t *testing.T, root string) { os.RemoveAll(filepath.Join(root, "sys/class/iommu/dmar0")) },
			want:       "booted with intel_iommu=on but no IOMMU is active"}.run(t)
	})
	// Without a config file, /sys/module decides; a module not loaded is
	// not reported missing.
	t.Run("sysfs-fallback", func(t *testing.T) {
		fs := runOverlays(t, nil, nil, vfioSpec, nil)
		if f, ok := finding(fs, "NT604"); ok {
			t.Errorf("NT604 without a kernel config: %s", f.Message)
		}
	})
}

func TestPCIeLinkRule(t *testing.T) {
	const dev = "sys/devices/pci0000:00/0000:00:02.1/0000:01:00.0/"
	set := func(kv ...string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			for i := 0; i < len(kv); i += 2 {
				write(t, root, kv[i], kv[i+1]+"\n")
			}
		}
	}
	for name, tc := range map[string]overlayCase{
		// An x16 card in a slot whose port can do x8.
		"x16-in-x8-slot": {firesSetup: set(dev+"max_link_width", "16", dev+"current_link_width", "8", dev+"../current_link_width", "8"),
			want: "eth1's PCIe link runs at 8.0 GT/s PCIe x8, below the card's 8.0 GT/s PCIe x16"},
		"slot-named": {firesSetup: set(dev+"max_link_width", "16", dev+"current_link_width", "8"), want: "upstream port 0000:00:02.1 can do 8.0 GT/s PCIe x8"},
		// Gen3 card trained to 2.5 GT/s in a Gen3 port.
		"trained-down": {firesSetup: set(dev+"current_link_speed", "2.5 GT/s PCIe"), want: "runs at 2.5 GT/s PCIe x4"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.rule = "NT202"
			tc.fires = []string{"pcie.txtar"}
			tc.quiet = []string{"pcie.txtar"}
			tc.sev = Warning
			tc.run(t)
		})
	}
	f, _ := finding(runOverlays(t, []string{"pcie.txtar"}, set(dev+"max_link_width", "16", dev+"current_link_width", "8"), "", nil), "NT202")
	if !strings.Contains(f.Remedy, "the slot is the limit") {
		t.Errorf("x16 card, x8 port: remedy %q", f.Remedy)
	}
	f, _ = finding(runOverlays(t, []string{"pcie.txtar"}, set(dev+"current_link_speed", "2.5 GT/s PCIe"), "", nil), "NT202")
	if !strings.Contains(f.Remedy, "trained below") {
		t.Errorf("trained down: remedy %q", f.Remedy)
	}
	// No link (Unknown speed, width 0): nothing to compare.
	fs := runOverlays(t, []string{"pcie.txtar"}, set(dev+"current_link_speed", "Unknown", dev+"current_link_width", "0"), "", nil)
	if f, ok := finding(fs, "NT202"); ok {
		t.Errorf("NT202 on a device without link: %s", f.Message)
	}
}

// setMIB adds n to a counter of a header/value file (/proc/net/netstat,
// /proc/net/snmp) or a name/value file (/proc/net/snmp6).
func setMIB(t *testing.T, root, file, group, name string, n uint64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i := range lines {
		f := strings.Fields(lines[i])
		if len(f) == 2 && f[0] == group+name {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			lines[i] = fmt.Sprintf("%-32s\t%d", f[0], v+n)
			write(t, root, file, strings.Join(lines, "\n"))
			return
		}
		if f0 := group + ":"; len(f) > 0 && f[0] == f0 && i+1 < len(lines) {
			for j, h := range f {
				if h == name {
					vals := strings.Fields(lines[i+1])
					v, _ := strconv.ParseUint(vals[j], 10, 64)
					vals[j] = strconv.FormatUint(v+n, 10)
					lines[i+1] = strings.Join(vals, " ")
					write(t, root, file, strings.Join(lines, "\n"))
					return
				}
			}
		}
	}
	t.Fatalf("%s has no %s %s", file, group, name)
}

func TestSocketAndSoftirqRules(t *testing.T) {
	busy := func(t *testing.T, root string) {
		// Healthy traffic: datagrams and connections, a little softirq.
		setMIB(t, root, "proc/net/snmp", "Udp", "InDatagrams", 100000)
		setMIB(t, root, "proc/net/snmp6", "Udp6", "InDatagrams", 5000)
		setMIB(t, root, "proc/net/netstat", "TcpExt", "TCPHPHits", 4000)
		replace(t, root, "proc/stat", "cpu1 452329 525788 318951 146688 4242 0 4351 10263 0 0", "cpu1 452419 525788 318951 146688 4242 0 4361 10263 0 0")
		replace(t, root, "proc/softirqs", "      NET_RX:     248592     581794", "      NET_RX:     248592     591794")
	}
	for name, tc := range map[string]overlayCase{
		"listen-overflows": {rule: "NT104", firesBetwen: func(t *testing.T, root string) {
			busy(t, root)
			setMIB(t, root, "proc/net/netstat", "TcpExt", "ListenOverflows", 37)
			setMIB(t, root, "proc/net/netstat", "TcpExt", "ListenDrops", 37)
		}, want: "37 TCP connection attempts dropped at listening sockets, 37 of them because the accept queue was full"},
		"udp-rcvbuf": {rule: "NT105", firesBetwen: func(t *testing.T, root string) {
			busy(t, root)
			setMIB(t, root, "proc/net/snmp", "Udp", "InErrors", 250)
			setMIB(t, root, "proc/net/snmp", "Udp", "RcvbufErrors", 250)
		}, want: "250 UDP datagrams dropped on receive, 250 of them because a socket's receive buffer was full"},
		"udp6-rcvbuf": {rule: "NT105", firesBetwen: func(t *testing.T, root string) {
			busy(t, root)
			setMIB(t, root, "proc/net/snmp6", "Udp6", "InErrors", 12)
			setMIB(t, root, "proc/net/snmp6", "Udp6", "RcvbufErrors", 10)
		}, want: "Udp6 InErrors: 12 in 1s (12.0/s) (RcvbufErrors 10, InCsumErrors 0, MemErrors 0)"},
		"softirq-hot": {rule: "NT106", firesBetwen: func(t *testing.T, root string) {
			busy(t, root)
			// cpu1: 10 ticks user, 80 softirq of 90.
			replace(t, root, "proc/stat", "cpu1 452419 525788 318951 146688 4242 0 4361 10263 0 0", "cpu1 452339 525788 318951 146688 4242 0 4431 10263 0 0")
		}, want: "cpu1: 89% softirq, NET_RX 10000/s, NET_TX 0/s (isolated)"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.fires, tc.quiet = []string{"sockets.txtar"}, []string{"sockets.txtar"}
			tc.quietBetwen = busy
			tc.sev = Warning
			tc.run(t)
		})
	}
	// Without an interval the rules are skipped and the files not read.
	root := fixture.Unpack(t, "testdata/quiet.txtar")
	if err := fixture.UnpackTo("testdata/sockets.txtar", root); err != nil {
		t.Fatal(err)
	}
	r, _ := host.New(root)
	fs, err := Run(context.Background(), r, Options{})
	if err != nil || len(fs) != 0 {
		t.Errorf("no interval: %v %v", fs, err)
	}
}

func TestParseKernelCounters(t *testing.T) {
	root := fixture.Unpack(t, "testdata/sockets.txtar")
	r, _ := host.New(root)
	s := &Sample{}
	readKernelCounters(r, s)
	if s.MIB["TcpExt:ListenOverflows"] != 0 || len(s.MIB) != len(mibCounters) {
		t.Errorf("MIB: %v", s.MIB)
	}
	if c := s.CPUTime[1]; c.NetRX != 581794 || c.NetTX != 112 || c.Softirq != 4351 || c.Total != 452329+525788+318951+146688+4242+0+4351+10263 {
		t.Errorf("cpu1: %+v", c)
	}
}

const eth0Spec = "  nics:\n  - match: {name: eth0}\n    rings: {rx: 4096}\n"

func TestManagerRules(t *testing.T) {
	for name, tc := range map[string]overlayCase{
		"networkmanager": {rule: "NT405", want: "NetworkManager manages eth0, which spec.nics[0] tunes", sev: Warning},
		"driverctl":      {rule: "NT406", want: "driverctl overrides 0000:00:03.0 to vfio-pci at every boot and hotplug, but the profile tunes it as eth0", sev: Warning},
		"link":           {rule: "NT407", want: "/etc/systemd/network/10-eth0.link sets RxBufferSize (spec.nics[0].rings), TxBufferSize (spec.nics[0].rings) on eth0", sev: Warning},
		"tuned":          {rule: "NT408", want: `tuned runs without its daemon (daemon = 0) with profile "network-latency"`, sev: Warning},
	} {
		t.Run(name, func(t *testing.T) {
			tc.fires, tc.quiet, tc.spec = []string{"managers.txtar"}, []string{"managers-ok.txtar"}, eth0Spec
			tc.run(t)
		})
	}
	// A .link file that does not match eth0 comes first: 99-default.link
	// applies, which has no ethtool settings.
	fs := runOverlays(t, []string{"managers.txtar"}, func(t *testing.T, root string) {
		replace(t, root, "etc/systemd/network/10-eth0.link", "OriginalName=eth0", "OriginalName=enp*")
	}, eth0Spec, nil)
	if f, ok := finding(fs, "NT407"); ok {
		t.Errorf("NT407 with a .link file for other NICs: %s", f.Message)
	}
	// The same name in /etc hides the vendor file; channel settings the
	// profile does not set are info.
	fs = runOverlays(t, []string{"managers-ok.txtar"}, func(t *testing.T, root string) {
		write(t, root, "etc/systemd/network/99-default.link", "[Match]\nOriginalName=*\n\n[Link]\nNamePolicy=kernel\nCombinedChannels=1\n")
	}, eth0Spec, nil)
	if f, ok := finding(fs, "NT407"); !ok || f.Severity != Info || !strings.Contains(f.Evidence, "/etc/systemd/network/99-default.link [Link]: CombinedChannels=1") {
		t.Errorf("NT407 with /etc's 99-default.link: %v %+v", ok, f)
	}
	// NetworkManager's state file outlives it: not running, no finding.
	fs = runOverlays(t, []string{"managers.txtar"}, func(t *testing.T, root string) {
		os.Remove(filepath.Join(root, "proc/300/comm"))
	}, eth0Spec, nil)
	if f, ok := finding(fs, "NT405"); ok {
		t.Errorf("NT405 without NetworkManager running: %s", f.Message)
	}
	// Without a profile the manager rules have nothing to compare with.
	for _, f := range runOverlays(t, []string{"managers.txtar"}, nil, "", nil) {
		if f.Rule >= "NT405" && f.Rule <= "NT407" {
			t.Errorf("%s without a profile: %s", f.Rule, f.Message)
		}
	}
}

func TestRingAndQueueRules(t *testing.T) {
	const state = "var/lib/nettune-snapshot/ethtool/eth0.json"
	drops := func(t *testing.T, root string) {
		write(t, root, "sys/devices/pci0000:00/0000:00:03.0/net/eth0/statistics/rx_missed_errors", "42\n")
	}
	atMax := func(t *testing.T, root string) {
		replace(t, root, state, `"rx": 512, "tx": 512`, `"rx": 4096, "tx": 4096`)
		replace(t, root, state, `"combined": 1,`, `"combined": 3,`)
	}
	for name, tc := range map[string]overlayCase{
		"ring": {rule: "NT203", firesBetwen: drops, want: "eth0 drops packets on ring-full with a receive ring of 512 descriptors, below its maximum of 4096", sev: Warning},
		// Drops with the ring at its maximum: NT201 only.
		"ring-at-max": {rule: "NT203", firesBetwen: drops, quietBetwen: func(t *testing.T, root string) { atMax(t, root); drops(t, root) }, want: "rx_missed_errors: 42 in 1s"},
		"queues":      {rule: "NT204", want: "eth0 receives on 1 queues while NUMA node 0 has 3 housekeeping CPUs and the NIC offers up to 3", sev: Info},
	} {
		t.Run(name, func(t *testing.T) {
			tc.fires, tc.quiet = []string{"rings.txtar"}, []string{"rings.txtar"}
			if name == "queues" {
				// Quiet: the NIC at its maximum.
				tc.quiet = nil
				fs := runOverlays(t, []string{"rings.txtar"}, atMax, "", nil)
				if f, ok := finding(fs, "NT204"); ok {
					t.Errorf("NT204 with 3 queues: %s", f.Message)
				}
				// A profile that sets the channels chose them.
				fs = runOverlays(t, []string{"rings.txtar"}, nil, "  nics:\n  - match: {name: eth0}\n    channels: {combined: 1}\n", nil)
				if f, ok := finding(fs, "NT204"); ok {
					t.Errorf("NT204 with the profile's channels: %s", f.Message)
				}
			}
			tc.run(t)
		})
	}
}

// BenchmarkKernelCounters256 reads the socket and CPU time counters of a
// 256-CPU host (/proc/stat and /proc/softirqs with 256 columns): the cost
// an --interval sample adds.
func BenchmarkKernelCounters256(b *testing.B) {
	root := b.TempDir()
	var stat, soft strings.Builder
	stat.WriteString("cpu  882741 1090829 626993 292862 6651 0 5397 20348 0 0\n")
	soft.WriteString("    ")
	for c := 0; c < 256; c++ {
		fmt.Fprintf(&stat, "cpu%d 430411 565040 308041 146173 2408 0 1045 10084 0 0\n", c)
		fmt.Fprintf(&soft, " CPU%-8d", c)
	}
	stat.WriteString("intr 135058520 0 0 0\nctxt 416141957\nbtime 1796118276\n")
	soft.WriteString("\n")
	for _, row := range []string{"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"} {
		fmt.Fprintf(&soft, "%12s:", row)
		for c := 0; c < 256; c++ {
			soft.WriteString("     375346")
		}
		soft.WriteString("\n")
	}
	src := fixture.Unpack(b, "testdata/sockets.txtar")
	for _, f := range []string{"proc/net/netstat", "proc/net/snmp", "proc/net/snmp6"} {
		data, _ := os.ReadFile(filepath.Join(src, f))
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(root, f), data, 0o644)
	}
	os.WriteFile(filepath.Join(root, "proc/stat"), []byte(stat.String()), 0o644)
	os.WriteFile(filepath.Join(root, "proc/softirqs"), []byte(soft.String()), 0o644)
	r, err := host.New(root)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := &Sample{}
		readKernelCounters(r, s)
		if len(s.CPUTime) != 256 {
			b.Fatal(len(s.CPUTime))
		}
	}
}

func TestTxDropsRule(t *testing.T) {
	sent := func(t *testing.T, root string) {
		write(t, root, "sys/devices/pci0000:00/0000:00:03.0/net/eth0/statistics/tx_packets", "900000\n")
	}
	overlayCase{rule: "NT205", sev: Warning,
		firesSetup: func(t *testing.T, root string) {
			write(t, root, "sys/devices/pci0000:00/0000:00:03.0/net/eth0/statistics/tx_packets", "100\n")
			write(t, root, "sys/devices/pci0000:00/0000:00:03.0/net/eth0/statistics/tx_dropped", "3\n")
		},
		firesBetwen: func(t *testing.T, root string) {
			sent(t, root)
			write(t, root, "sys/devices/pci0000:00/0000:00:03.0/net/eth0/statistics/tx_dropped", "70\n")
		},
		quietBetwen: sent,
		want:        "eth0 dropped 67 packets on transmit",
	}.run(t)
}

// hexConfig writes a member of pcie-config.txtar (a hex dump) as a binary
// config space file.
func hexConfig(t *testing.T, root, path, member string, patch map[int]byte) {
	t.Helper()
	a, err := txtar.ParseFile("testdata/pcie-config.txtar")
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, f := range a.Files {
		if f.Name != member {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(f.Data)), "\n") {
			_, bytesPart, _ := strings.Cut(line, ": ")
			b, err := hex.DecodeString(strings.ReplaceAll(bytesPart, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
	}
	if out == nil {
		t.Fatalf("no %s", member)
	}
	for off, v := range patch {
		out[off] = v
	}
	write(t, root, path, string(out))
}

func TestPCIePayloadRule(t *testing.T) {
	const port = "sys/devices/pci0000:00/0000:00:02.1/"
	cfg := func(portMember string, patch map[int]byte) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			hexConfig(t, root, port+"0000:01:00.0/config", "nic.hex", patch)
			hexConfig(t, root, port+"config", portMember, nil)
		}
	}
	for name, tc := range map[string]overlayCase{
		"payload": {firesSetup: cfg("port-256.hex", nil), want: "MaxPayload is 128 bytes where the NIC and its port support 256"},
		// DevCtl bits 14:12 = 0: MaxReadReq 128.
		"readreq": {firesSetup: cfg("port-128.hex", map[int]byte{0xa9: 0x08}), want: "MaxReadReq is 128 bytes, the minimum"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.rule, tc.sev = "NT206", Info
			tc.fires = []string{"pcie.txtar"}
			tc.run(t)
		})
	}
	fs := runOverlays(t, []string{"pcie.txtar"}, cfg("port-128.hex", nil), "", nil)
	if f, ok := finding(fs, "NT206"); ok {
		t.Errorf("NT206 with MaxPayload at the port's maximum: %s", f.Message)
	}
	// Config space cut to the 64 bytes a non-root reader gets.
	fs = runOverlays(t, []string{"pcie.txtar"}, func(t *testing.T, root string) {
		cfg("port-256.hex", nil)(t, root)
		p := filepath.Join(root, port+"0000:01:00.0/config")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:64], 0o644)
	}, "", nil)
	if f, ok := finding(fs, "NT206"); ok {
		t.Errorf("NT206 from 64 bytes of config space: %s", f.Message)
	}
	if d, ok := readPCIeDevice("/nonexistent"); ok {
		t.Errorf("%+v", d)
	}
}

// TestCoalesceFarRule (NT207): eth0 of rings.txtar gets an ixgbe's
// coalescing (rx-usecs 1, adaptive on, frames unsupported) and the
// profile asks for adaptive off and rx-usecs 50. Values within a factor of
// two of the profile's (a driver's rounding) and unsupported parameters
// are quiet.
func TestCoalesceFarRule(t *testing.T) {
	const state = "var/lib/nettune-snapshot/ethtool/eth0.json"
	coalesce := func(c string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			replace(t, root, state, `"driver": "ixgbe",`, `"driver": "ixgbe", "coalesce": `+c+`,`)
		}
	}
	spec := "  nics:\n  - match: {name: eth0}\n    coalesce: {adaptiveRx: false, rxUsecs: 50, rxFrames: 0}\n"
	fs := runOverlays(t, []string{"rings.txtar"}, coalesce(`{"adaptiveRx": true, "rxUsecs": 1, "supported": ["adaptive-rx", "rx-usecs"]}`), spec, nil)
	f, ok := finding(fs, "NT207")
	if !ok || f.Severity != Warning || f.Evidence != "adaptive-rx on (profile off); rx-usecs 1 (profile 50)" || !strings.Contains(f.Message, "spec.nics[0].coalesce") || f.Remedy == "" {
		t.Errorf("NT207: %v %+v", ok, f)
	}
	for name, c := range map[string]string{
		"rounded": `{"adaptiveRx": false, "rxUsecs": 52, "supported": ["adaptive-rx", "rx-usecs"]}`,
		"half-up": `{"adaptiveRx": false, "rxUsecs": 99, "supported": ["adaptive-rx", "rx-usecs"]}`,
		"same":    `{"adaptiveRx": false, "rxUsecs": 50}`,
	} {
		if f, ok := finding(runOverlays(t, []string{"rings.txtar"}, coalesce(c), spec, nil), "NT207"); ok {
			t.Errorf("NT207 with %s coalescing %s: %s [%s]", name, c, f.Message, f.Evidence)
		}
	}
	for name, c := range map[string]string{
		"double": `{"adaptiveRx": false, "rxUsecs": 100}`,
		"off":    `{"adaptiveRx": false, "rxUsecs": 0}`,
		"half":   `{"adaptiveRx": false, "rxUsecs": 25}`,
	} {
		if _, ok := finding(runOverlays(t, []string{"rings.txtar"}, coalesce(c), spec, nil), "NT207"); !ok {
			t.Errorf("NT207 quiet with %s coalescing %s", name, c)
		}
	}
	// A parameter the driver does not have reads 0: plan already says so
	// (it refuses or leaves it out), not this rule.
	frames := "  nics:\n  - match: {name: eth0}\n    coalesce: {rxUsecs: 50, rxFrames: 8}\n"
	if f, ok := finding(runOverlays(t, []string{"rings.txtar"}, coalesce(`{"rxUsecs": 50, "supported": ["adaptive-rx", "rx-usecs"]}`), frames, nil), "NT207"); ok {
		t.Errorf("NT207 for an unsupported parameter: %s [%s]", f.Message, f.Evidence)
	}
	// Without a profile, nothing to compare with.
	if f, ok := finding(runOverlays(t, []string{"rings.txtar"}, coalesce(`{"adaptiveRx": true, "rxUsecs": 1}`), "", nil), "NT207"); ok {
		t.Errorf("NT207 without a profile: %s", f.Message)
	}
}
