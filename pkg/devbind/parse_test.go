package devbind

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

const idsSample = `# comment
8086  Intel Corporation
	10fb  82599ES 10-Gigabit SFI/SFP+ Network Connection
		8086 0003  Ethernet Server Adapter X520-2
	1572  Ethernet Controller X710 for 10GbE SFP+
15b3  Mellanox Technologies
	1017  MT27800 Family [ConnectX-5]
C 02  Network controller
	00  Ethernet controller
		00  should be ignored
	80  Network controller
C 0b  Processor
`

func TestParseIDs(t *testing.T) {
	ids, err := ParseIDs(strings.NewReader(idsSample))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ got, want string }{
		{ids.Vendor(0x8086), "Intel Corporation"},
		{ids.Device(0x8086, 0x10fb), "82599ES 10-Gigabit SFI/SFP+ Network Connection"},
		{ids.Device(0x15b3, 0x1017), "MT27800 Family [ConnectX-5]"},
		{ids.Device(0x15b3, 0x10fb), ""},
		{ids.Class(0x020000), "Ethernet controller"},
		{ids.Class(0x020100), "Network controller"},
		{ids.Class(0x0b4000), "Processor"},
		{ids.Class(0x030000), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	var none *IDs
	if none.Vendor(1) != "" || none.Device(1, 2) != "" || none.Class(0x020000) != "" {
		t.Error("nil IDs must know no names")
	}
}

func FuzzParseIDs(f *testing.F) {
	f.Add(idsSample)
	f.Add("C 0\n\t\n8086\n\tzzzz  x\n")
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseIDs(strings.NewReader(s))
		ref, rerr := refParseIDs(strings.NewReader(s))
		if (err != nil) != (rerr != nil) {
			t.Fatalf("ParseIDs error %v, plain reading error %v", err, rerr)
		}
		if err != nil {
			return
		}
		sameNames(t, ids, ref)
	})
}

func TestAliases(t *testing.T) {
	in := `# Aliases extracted from modules themselves.
alias pci:v00008086d000010FBsv*sd*bc*sc*i* ixgbe
alias pci:v00008086d*sv*sd*bc02sc00i* e1000e_like
alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci
alias pci:v000015B3d00001017sv*sd*bc*sc*i* mlx5_core
alias net-pf-16 netlink
`
	aliases, err := ParseAliases(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(aliases) != 3 {
		t.Fatalf("%d PCI aliases: %v", len(aliases), aliases)
	}
	got := MatchModules(aliases, "pci:v00008086d000010FBsv00008086sd00000003bc02sc00i00")
	if !reflect.DeepEqual(got, []string{"e1000e_like", "ixgbe"}) {
		t.Errorf("matches: %v", got)
	}
	if got := MatchModules(aliases, "pci:v00001AF4d00001041sv00001AF4sd00001041bc02sc00i00"); !reflect.DeepEqual(got, []string(nil)) {
		t.Errorf("virtio matches: %v", got)
	}
	mods, err := ParseModuleList(strings.NewReader("kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/vfio.ko.xz\nkernel/drivers/uio/uio_pci_generic.ko\n\nbad line\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !mods["vfio_pci"] || !mods["uio_pci_generic"] || len(mods) != 2 {
		t.Errorf("modules: %v", mods)
	}
}

func FuzzParseAliases(f *testing.F) {
	f.Add("alias pci:v00008086d000010FBsv*sd*bc*sc*i* ixgbe\n", "pci:v00008086d000010FBsv00008086sd00000003bc02sc00i00")
	f.Add("alias pci:[ x\n", "pci:")
	f.Fuzz(func(t *testing.T, in, modalias string) {
		a, err := ParseAliases(strings.NewReader(in))
		if err != nil {
			return
		}
		MatchModules(a, modalias)
	})
}

func TestSSHConnection(t *testing.T) {
	s, ok := ParseSSHConnection("2001:db8::7 51234 2001:db8::1 2222")
	if !ok || s.Local != netip.MustParseAddrPort("[2001:db8::1]:2222") || s.Remote.Port() != 51234 {
		t.Fatalf("%v %v", s, ok)
	}
	if s, ok := ParseSSHConnection("::ffff:10.0.0.7 1 ::ffff:10.0.0.5 22"); !ok || s.Local.Addr() != netip.MustParseAddr("10.0.0.5") {
		t.Errorf("mapped: %v %v", s, ok)
	}
	for _, bad := range []string{"", "1.2.3.4 5 6.7.8.9", "x 1 1.2.3.4 22", "1.2.3.4 70000 1.2.3.4 22"} {
		if _, ok := ParseSSHConnection(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestProcNetTCP(t *testing.T) {
	in := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1000 1 0000000000000000 100 0 0 10 0
   1: 0500000A:0016 6300000A:C822 01 00000000:00000000 02:000A0E4F 00000000     0        0 1001 4 0000000000000000 20 4 30 10 -1
   2: 0500000A:1F90 6300000A:C823 01 00000000:00000000 02:000A0E4F 00000000     0        0 1002 4 0000000000000000 20 4 30 10 -1
`
	ss, err := ParseProcNetTCP(strings.NewReader(in), map[uint16]bool{22: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Local != netip.MustParseAddrPort("10.0.0.5:22") || ss[0].Remote != netip.MustParseAddrPort("10.0.0.99:51234") {
		t.Fatalf("sessions: %v", ss)
	}
	in6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: B80D0120000000000000000001000000:0016 B80D0120000000000000000007000000:D3E2 01 00000000:00000000 02:00000A4E 00000000     0        0 2000 2 0000000000000000 20 4 28 10 -1
`
	ss, err = ParseProcNetTCP(strings.NewReader(in6), map[uint16]bool{22: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Local != netip.MustParseAddrPort("[2001:db8::1]:22") || ss[0].Remote.Addr() != netip.MustParseAddr("2001:db8::7") {
		t.Fatalf("IPv6 sessions: %v", ss)
	}
}

func FuzzParseProcNetTCP(f *testing.F) {
	f.Add("hdr\n   1: 0500000A:0016 6300000A:C822 01 0\n")
	f.Add("hdr\n 0: B80D0120000000000000000001000000:0016 B80D01200000000000000000070000:D3E2 01\n")
	f.Fuzz(func(t *testing.T, s string) {
		ss, _ := ParseProcNetTCP(strings.NewReader(s), map[uint16]bool{22: true})
		for _, x := range ss {
			if x.Local.Port() != 22 {
				t.Fatalf("session on port %d", x.Local.Port())
			}
		}
	})
}

func TestState(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want State
	}{
		{"none", State{}},
		{"ixgbe if=eth1", State{Driver: "ixgbe", Interfaces: []string{"eth1"}}},
		{"vfio-pci override=vfio-pci", State{Driver: "vfio-pci", Override: "vfio-pci"}},
		{"none override=vfio-pci", State{Override: "vfio-pci"}},
		{"virtio-pci if=eth0,eth1", State{Driver: "virtio-pci", Interfaces: []string{"eth0", "eth1"}}},
	} {
		got, err := ParseState(tc.s)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseState(%q) = %+v, %v", tc.s, got, err)
		}
		if got.String() != tc.s {
			t.Errorf("String() = %q, want %q", got.String(), tc.s)
		}
	}
	for _, bad := range []string{"", "override=x", "ixgbe foo=bar", "ixgbe override="} {
		if _, err := ParseState(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if !(State{Driver: "vfio_pci", Override: "vfio-pci"}).Same(State{Driver: "vfio-pci", Override: "vfio_pci", Interfaces: []string{"x"}}) {
		t.Error("dash and underscore spellings differ")
	}
	if (State{Driver: "ixgbe"}).Same(State{Driver: "ixgbe", Override: "ixgbe"}) {
		t.Error("override ignored")
	}
}

func FuzzState(f *testing.F) {
	f.Add("vfio-pci override=vfio-pci if=eth1")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseState(s)
		if err != nil {
			return
		}
		back, err := ParseState(st.String())
		if err != nil || !back.Same(st) {
			t.Fatalf("%q -> %q -> %v %v", s, st.String(), back, err)
		}
	})
}

func TestNetworkHelpers(t *testing.T) {
	n := &Network{
		Links: []Link{
			{Name: "eth1", Index: 3, Up: true, Master: "br0"},
			{Name: "br0", Index: 4, Kind: "bridge", Up: true, Master: ""},
			{Name: "br0.5", Index: 5, Kind: "vlan", Up: false, Parent: "br0"},
			{Name: "eth2", Index: 6},
		},
		Routes: []Route{
			{Link: "eth2", Table: 254, Dst: netip.MustParsePrefix("0.0.0.0/0")},
			{Link: "eth1", Table: 254, Dst: netip.MustParsePrefix("192.0.2.0/24")},
			{Link: "eth2", Table: 100, Dst: netip.MustParsePrefix("192.0.2.0/25")},
		},
	}
	var names []string
	for _, u := range n.uppers("eth1") {
		names = append(names, u.Name)
	}
	if strings.Join(names, ",") != "br0,br0.5" {
		t.Errorf("uppers: %v", names)
	}
	if rt, ok := n.lookup(netip.MustParseAddr("192.0.2.7")); !ok || rt.Link != "eth1" {
		t.Errorf("lookup: %v %v", rt, ok)
	}
	if rt, ok := n.lookup(netip.MustParseAddr("8.8.8.8")); !ok || rt.Link != "eth2" {
		t.Errorf("default: %v %v", rt, ok)
	}
	if _, ok := n.lookup(netip.MustParseAddr("2001:db8::1")); ok {
		t.Error("IPv6 matched an IPv4 route")
	}
	b, err := n.Marshal()
	if err != nil || !strings.Contains(string(b), `"dst": "0.0.0.0/0"`) {
		t.Errorf("marshal: %s %v", b, err)
	}
}
