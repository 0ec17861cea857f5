package profile

import (
	"errors"
	"strings"
	"testing"
)

const header = "apiVersion: nettune/v1\nkind: Profile\nmetadata:\n  name: t\n"

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string // substring of the error, with file:line:col
	}{
		{"typo", header + "spec:\n  sysctl: {}\n  nicss: []\n", "p.yaml:7:3: spec.nicss: unknown field \"nicss\"; did you mean \"nics\"?"},
		{"typo lists valid", header + "spec:\n  hugepage: {}\n", "(valid: sysctl, cpu, hugepages, nics, irqbalance, devices, dataplane, sriov)"},
		{"wrong type", header + "spec:\n  nics:\n    - match: {name: eth0}\n      rings: {rx: lots}\n", "p.yaml:8:19: spec.nics[0].rings.rx: expected an integer, got the string \"lots\""},
		{"bool", header + "spec:\n  cpu:\n    nohzFull: yes please\n", "spec.cpu.nohzFull: expected true or false"},
		{"enum", header + "spec:\n  hugepages:\n    transparent: sometimes\n", "p.yaml:7:18: spec.hugepages.transparent: invalid value \"sometimes\"; valid choices: always, madvise, never"},
		{"enum in list", header + "spec:\n  cpu:\n    isolcpusFlags: [managed_irq, domian]\n", "spec.cpu.isolcpusFlags[1]: invalid value \"domian\"; valid choices: managed_irq, domain, nohz"},
		{"bad cpulist", header + "spec:\n  cpu:\n    isolated: 4-2\n", "p.yaml:7:15: spec.cpu.isolated: cpu list \"4-2\": range \"4-2\" runs backwards"},
		{"bad size", header + "spec:\n  hugepages:\n    pages:\n      - {size: 3X, count: 1}\n", "p.yaml:8:16: spec.hugepages.pages[0].size: size \"3X\": unknown unit \"X\""},
		{"min", header + "spec:\n  hugepages:\n    pages:\n      - {size: 2M, count: -1}\n", "spec.hugepages.pages[0].count: -1 is below the minimum 0"},
		{"required", header + "spec:\n  hugepages:\n    pages:\n      - {size: 2M}\n", "p.yaml:8:9: spec.hugepages.pages[0].count: missing required field \"count\""},
		{"second document", header + "spec: {}\n---\napiVersion: nettune/v1\n", "p.yaml:6:1: a second YAML document"},
		{"empty", "", "p.yaml: empty profile"},
		{"not a mapping", "- a\n", "a profile must be a mapping"},
		{"syntax", header + "spec:\n  sysctl: {a: [}\n", "p.yaml:5:1: YAML syntax"},
		{"duplicate key", header + "spec:\n  sysctl:\n    net.core.somaxconn: 1\n    net.core.somaxconn: 2\n", "duplicate key"},
		{"apiVersion", "apiVersion: nettune/v2\nkind: Profile\nmetadata: {name: t}\n", "p.yaml:1:13: apiVersion: invalid value \"nettune/v2\"; valid choices: nettune/v1"},
		{"missing metadata", "apiVersion: nettune/v1\nkind: Profile\n", "missing required field \"metadata\""},
		{"sysctl name", header + "spec:\n  sysctl:\n    somaxconn: 1\n", "p.yaml:7:16: spec.sysctl.somaxconn: sysctl name \"somaxconn\" has no separator"},
		{"cpu overlap", header + "spec:\n  cpu:\n    isolated: 2-5\n    housekeeping: 0-2\n", "p.yaml:8:19: spec.cpu.housekeeping: CPUs 2 are both isolated and housekeeping"},
		{"cpu0", header + "spec:\n  cpu:\n    isolated: 0-3\n", "allowIsolatingCPU0"},
		{"kernel arg", header + "spec:\n  cpu:\n    kernelArgs: [\"a b\"]\n", "spec.cpu.kernelArgs[0]: \"a b\" is not a single kernel argument"},
		{"nic match", header + "spec:\n  nics:\n    - match: {}\n      txqueuelen: 5\n", "spec.nics[0].match: needs at least one of name, pci, driver, mac"},
		{"pci", header + "spec:\n  devices:\n    - {pci: \"0000:zz:00.0\", driver: vfio-pci}\n", "is neither a PCI address nor an interface name"},
		{"dup device", header + "spec:\n  devices:\n    - {pci: \"03:00.0\", driver: vfio-pci}\n    - {pci: \"0000:03:00.0\", driver: vfio-pci}\n", "device 0000:03:00.0 is already listed at devices[0]"},
		{"dataplane pair", header + "spec:\n  dataplane:\n    ports: [{name: a, vdev: net_null0}, {name: b, vdev: net_null1}]\n    pairs: [[a, c]]\n", "unknown port \"c\""},
		{"dataplane port", header + "spec:\n  dataplane:\n    ports: [{name: a, vdev: net_null0, pci: \"03:00.0\"}]\n", "a port needs exactly one of pci, vdev, and pf with vf"},
		{"mac", header + "spec:\n  nics:\n    - match: {mac: \"zz\"}\n", "\"zz\" is not a MAC address"},
		{"dataplane burst", header + "spec:\n  dataplane:\n    ports: [{name: a, vdev: net_null0}, {name: b, vdev: net_null1}]\n    burst: 3\n", "p.yaml:8:12: spec.dataplane.burst: burst 3 is below 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tc.in))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.in)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	in := header + `spec:
  sysctl:
    net.core.somaxconn: 8192
    net.ipv4.tcp_rmem: [4096, 131072, 6291456]
    net.ipv4.conf.eth0/100.rp_filter: "2"
  cpu:
    isolated: 2-7:2/3
    kernelArgs: [skew_tick=1, iommu=pt]
    power: {governor: performance, maxCState: 1}
  hugepages:
    defaultSize: 1G
    pages:
      - {size: 2048kB, count: 1024, node: 0}
      - {size: 1GiB, count: 4}
  nics:
    - match: {name: "enp3s0f*", driver: ixgbe}
      features: {rx-gro-hw: false}
      rps: {cpus: "0-1"}
  devices:
    - {pci: "03:00.0", driver: vfio-pci, uid: 1000}
`
	p, err := Parse("p.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Spec.Sysctl["net.ipv4.tcp_rmem"]; got != "4096 131072 6291456" {
		t.Errorf("tcp_rmem = %q", got)
	}
	if got := p.Spec.CPU.Isolated.String(); got != "2-3,5-6" {
		t.Errorf("isolated = %q", got)
	}
	if p.Spec.Hugepages.Pages[0].Size != 2*MiB || *p.Spec.Hugepages.Pages[0].Node != 0 || p.Spec.Hugepages.Pages[1].Size != GiB || p.Spec.Hugepages.DefaultSize.String() != "1G" {
		t.Errorf("hugepages = %+v", p.Spec.Hugepages)
	}
	if p.Spec.NICs[0].Features["rx-gro-hw"] != false || p.Spec.NICs[0].RPS.CPUs.String() != "0-1" {
		t.Errorf("nics = %+v", p.Spec.NICs[0])
	}
	if *p.Spec.CPU.Power.MaxCState != 1 || *p.Spec.Devices[0].UID != 1000 {
		t.Errorf("pointers not set")
	}
}

func TestExtends(t *testing.T) {
	p, err := Load("testdata/child.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]SysctlValue{"net.core.somaxconn": "8192", "net.core.netdev_max_backlog": "2000"}
	if len(p.Spec.Sysctl) != len(want) {
		t.Errorf("sysctl = %v, want %v", p.Spec.Sysctl, want)
	}
	for k, v := range want {
		if p.Spec.Sysctl[k] != v {
			t.Errorf("sysctl %s = %q, want %q", k, p.Spec.Sysctl[k], v)
		}
	}
	if p.Metadata.Name != "child" || p.Metadata.Description != "the parent" {
		t.Errorf("metadata = %+v", p.Metadata)
	}
	// Lists replace: the child's nics, not the parent's.
	if len(p.Spec.NICs) != 1 || p.Spec.NICs[0].Match.Driver != "ixgbe" || p.Spec.NICs[0].Rings != nil {
		t.Errorf("nics = %+v", p.Spec.NICs)
	}
}

func TestExtendsErrorPointsAtChild(t *testing.T) {
	_, err := Load("testdata/child-typo.yaml")
	if err == nil || !strings.Contains(err.Error(), "testdata/child-typo.yaml:11:7: spec.nics[0].rigns: unknown field") {
		t.Fatalf("error = %v", err)
	}
}

func TestExtendsCycle(t *testing.T) {
	_, err := Load("testdata/cycle-a.yaml")
	if err == nil || !strings.Contains(err.Error(), "extends cycle") {
		t.Fatalf("error = %v", err)
	}
}

func TestShippedProfilesLoad(t *testing.T) {
	names := Shipped()
	if len(names) == 0 {
		t.Fatal("no shipped profiles")
	}
	for _, n := range names {
		if _, err := Load(n); err != nil {
			t.Errorf("shipped profile %s: %v", n, err)
		}
	}
	if _, err := Load("no-such-profile"); err == nil || !strings.Contains(err.Error(), "shipped: ") {
		t.Errorf("unknown profile error = %v", err)
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]Size{"2M": 2 * MiB, "2048kB": 2 * MiB, "1G": GiB, "1GiB": GiB, "64K": 64 * KiB, "16g": 16 * GiB} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "M", "0M", "12", "2Q", "-1G"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	if (2*MiB).String() != "2M" || GiB.String() != "1G" || (2*MiB).KB() != 2048 {
		t.Error("Size formatting")
	}
}

func TestSplitSysctlName(t *testing.T) {
	for in, want := range map[string]string{
		"net.core.somaxconn":               "net|core|somaxconn",
		"net/core/somaxconn":               "net|core|somaxconn",
		"net.ipv4.conf.eth0/100.rp_filter": "net|ipv4|conf|eth0.100|rp_filter",
		"net/ipv4/conf/eth0.100/rp_filter": "net|ipv4|conf|eth0.100|rp_filter",
	} {
		if got := strings.Join(SplitSysctlName(in), "|"); got != want {
			t.Errorf("SplitSysctlName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(header + "spec:\n  sysctl: {net.core.somaxconn: 1}\n"))
	f.Add([]byte(header + "spec:\n  cpu: {isolated: 1-3}\n  hugepages: {pages: [{size: 2M, count: 3}]}\n"))
	f.Add([]byte(header + "spec:\n  nics: [{match: {name: x}, rings: {rx: 5}}]\n---\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err != nil {
			var list ErrorList
			var one *Error
			if !errors.As(err, &list) && !errors.As(err, &one) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if p.APIVersion != APIVersion || p.Metadata.Name == "" {
			t.Fatalf("accepted a profile without version or name: %+v", p)
		}
	})
}

// FuzzSysctlName: every accepted name splits into non-empty elements, and
// the canonical sysctl.d spelling of those elements splits back to them.
func FuzzSysctlName(f *testing.F) {
	for _, s := range []string{"net.core.somaxconn", "net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter", "a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if CheckSysctlName(name) != nil {
			return
		}
		els := SplitSysctlName(name)
		parts := make([]string, len(els))
		for i, e := range els {
			if e == "" {
				t.Fatalf("%q: empty element", name)
			}
			parts[i] = strings.ReplaceAll(e, ".", "/")
		}
		canon := strings.Join(parts, ".")
		back := SplitSysctlName(canon)
		if strings.Join(back, "\x00") != strings.Join(els, "\x00") {
			t.Fatalf("%q -> %q -> %q, want %q", name, canon, back, els)
		}
	})
}

// BenchmarkLoadShipped decodes and validates the largest shipped profile
// with its extends chain.
func BenchmarkLoadShipped(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load("kernel-throughput"); err != nil {
			b.Fatal(err)
		}
	}
}
