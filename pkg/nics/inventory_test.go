package nics

import (
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

func inventory(t *testing.T) (*Inventory, ethtool.Interface) {
	t.Helper()
	r, err := host.New(fixture.Unpack(t, "testdata/multi.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	topo, err := numa.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	eth, _ := ethtool.Open(r)
	inv, err := ReadInventory(r, topo, eth)
	if err != nil {
		t.Fatal(err)
	}
	return inv, eth
}

func names(nics []NIC, unbound []Unbound) string {
	var out []string
	for _, n := range nics {
		out = append(out, n.Name)
	}
	for _, u := range unbound {
		out = append(out, u.PCI)
	}
	return strings.Join(out, " ")
}

func TestInventory(t *testing.T) {
	inv, eth := inventory(t)
	got := map[string]NIC{}
	for _, n := range inv.NICs {
		got[n.Name] = n
	}
	if n := got["ens3"]; n.Driver != "virtio_net" || n.PCI != "0000:00:03.0" || n.Virtio != "virtio2" || n.Node != -1 {
		t.Errorf("ens3 = %+v", n)
	}
	if n := got["enp175s0f0"]; n.Driver != "mlx5_core" || n.Node != 1 || n.MAC != "0c:42:a1:00:00:01" {
		t.Errorf("enp175s0f0 = %+v", n)
	}
	if n := got["veth0"]; n.Driver != "veth" || n.PCI != "" {
		t.Errorf("veth0 = %+v", n)
	}
	if _, ok := got["lo"]; ok {
		t.Error("lo listed")
	}
	if len(inv.Unbound) != 1 || inv.Unbound[0].PCI != "0000:d8:00.0" || inv.Unbound[0].Driver != "vfio-pci" || inv.Unbound[0].Node != 1 {
		t.Errorf("unbound = %+v", inv.Unbound)
	}
	perm := func(name string) string { a, _ := eth.PermAddr(name); return a }
	for _, tc := range []struct {
		m    profile.NICMatch
		want string
	}{
		{profile.NICMatch{Name: "ens*"}, "ens1f0 ens2 ens3"},
		{profile.NICMatch{PCI: "3b:00.0"}, "ens1f0"},
		{profile.NICMatch{PCI: "0000:3B:00.0"}, "ens1f0"},
		{profile.NICMatch{Driver: "vfio-pci"}, "0000:d8:00.0"},
		{profile.NICMatch{PCI: "d8:00.0"}, "0000:d8:00.0"},
		{profile.NICMatch{Name: "ens*", Driver: "ice"}, "ens2"},
		{profile.NICMatch{MAC: "0C:42:A1:00:00:01"}, "enp175s0f0"},
		{profile.NICMatch{Name: "eth*", Driver: "i40e"}, ""},
	} {
		if got := names(inv.Select(tc.m, perm)); got != tc.want {
			t.Errorf("Select(%+v) = %q, want %q", tc.m, got, tc.want)
		}
	}
	// A MAC changed at run time still matches the permanent address.
	for i := range inv.NICs {
		if inv.NICs[i].Name == "eth0" {
			inv.NICs[i].MAC = "02:00:00:00:00:01"
		}
	}
	if got := names(inv.Select(profile.NICMatch{MAC: "90:e2:ba:12:34:56"}, perm)); got != "eth0" {
		t.Errorf("permanent MAC match = %q", got)
	}
}

func TestValues(t *testing.T) {
	v, err := parseKV(queueKeys, "combined=4 rx-ring=4096")
	if err != nil || formatKV(queueKeys, v) != "rx-ring=4096 combined=4" {
		t.Errorf("parseKV/formatKV = %v %v", v, err)
	}
	for _, bad := range []string{"bogus=1", "rx-ring", "rx-ring=x", "rx-ring=-1"} {
		if _, err := parseKV(queueKeys, bad); err == nil {
			t.Errorf("parseKV(%q) accepted", bad)
		}
	}
	c, _ := parseKV(coalesceKeys, "adaptive-rx=on rx-usecs=8")
	if formatKV(coalesceKeys, c) != "adaptive-rx=on rx-usecs=8" {
		t.Errorf("coalesce values = %v", c)
	}
	tbl, err := parseIndir("even:3", 6)
	if err != nil || ethtool.FormatIndir(tbl) != "0 1 2 0 1 2" || formatIndir(tbl) != "even:3" {
		t.Errorf("parseIndir even = %v %v", tbl, err)
	}
	odd := []uint32{0, 0, 1, 1}
	back, err := parseIndir(formatIndir(odd), 4)
	if err != nil || ethtool.FormatIndir(back) != "0 0 1 1" {
		t.Errorf("uneven table round trip = %v %v", back, err)
	}
	if _, err := parseIndir("0 1", 4); err == nil {
		t.Error("short table accepted")
	}
	have := map[string]ethtool.Feature{"rx-gro": {}, "rx-gro-hw": {}, "tx-generic-segmentation": {}}
	for in, want := range map[string]string{"gro": "rx-gro", "generic-segmentation-offload": "tx-generic-segmentation", "rx-gro-hw": "rx-gro-hw"} {
		if got, err := featureName(in, have); got != want || err != nil {
			t.Errorf("featureName(%q) = %q %v", in, got, err)
		}
	}
	if _, err := featureName("lro", have); err == nil {
		t.Error("alias of a missing feature accepted")
	}
}

func FuzzParseKV(f *testing.F) {
	f.Add("rx-ring=4096 tx-ring=512 combined=4")
	f.Add("adaptive-rx=on rx-usecs=50")
	f.Fuzz(func(t *testing.T, s string) {
		for _, keys := range [][]string{queueKeys, coalesceKeys} {
			v, err := parseKV(keys, s)
			if err != nil {
				continue
			}
			again, err := parseKV(keys, formatKV(keys, v))
			if err != nil || !equalKV(v, again) {
				t.Fatalf("%q -> %v -> %q -> %v %v", s, v, formatKV(keys, v), again, err)
			}
		}
	})
}
