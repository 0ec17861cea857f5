package devbind_test

import (
	"context"
	"net/netip"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

// staticNetwork feeds the guards a network state built in the test.
type staticNetwork struct{ n *devbind.Network }

func (s staticNetwork) Network(context.Context) (*devbind.Network, error) { return s.n, nil }

func sshEnv(v string) func(string) string {
	return func(k string) string {
		if k == "SSH_CONNECTION" {
			return v
		}
		return ""
	}
}

func offlinePlanner(t *testing.T, name string) *devbind.Planner {
	t.Helper()
	dir := fixture.Unpack(t, "testdata/"+name+".txtar")
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := devbind.NewPlanner(r, nil)
	p.Getenv = sshEnv("10.0.0.77 40000 10.0.0.5 22")
	return p
}

// guards renders refusals as "device guard" sorted, for comparison.
func guards(refs []devbind.Refusal) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.Device+" "+r.Guard)
	}
	sort.Strings(out)
	return out
}

func TestGuards(t *testing.T) {
	vfio := "vfio-pci"
	for _, tc := range []struct {
		name     string
		fixture  string
		args     []string
		driver   string
		opts     devbind.Options
		noIOMMU  bool
		refusals []string
		warnings []string
		changes  int
		messages []string // substrings expected in the refusals
	}{
		{name: "ssh interface", fixture: "pf-siblings", args: []string{"eth0"}, driver: vfio,
			refusals: []string{"0000:00:03.0 address", "0000:00:03.0 default-route", "0000:00:03.0 route", "0000:00:03.0 ssh-session", "0000:00:03.0 ssh-session"},
			messages: []string{"10.0.0.5/24", "default via 10.0.0.1 (table main)", "10.0.0.77:40000 -> 10.0.0.5:22 (SSH_CONNECTION)", "10.0.0.99:51234 -> 10.0.0.5:22 (/proc/net/tcp)", "cannot be forced"}},
		{name: "ssh interface forced: the session still refuses", fixture: "pf-siblings", args: []string{"0000:00:03.0"}, driver: vfio, opts: devbind.Options{Force: true},
			refusals: []string{"0000:00:03.0 default-route", "0000:00:03.0 ssh-session", "0000:00:03.0 ssh-session"},
			warnings: []string{"0000:00:03.0 address", "0000:00:03.0 route"}},
		{name: "PF sibling on a kernel driver", fixture: "pf-siblings", args: []string{"03:00.0"}, driver: vfio,
			refusals: []string{"0000:03:00.0 iommu-group"},
			messages: []string{"IOMMU group 12 also holds 0000:03:00.1 (ixgbe, eth2)", "bind them together"}},
		{name: "PF sibling is not forceable", fixture: "pf-siblings", args: []string{"03:00.0"}, driver: vfio, opts: devbind.Options{Force: true},
			refusals: []string{"0000:03:00.0 iommu-group"}},
		{name: "both functions together", fixture: "pf-siblings", args: []string{"eth1", "eth2"}, driver: vfio, changes: 2},
		{name: "group option adds the sibling", fixture: "pf-siblings", args: []string{"eth1"}, driver: vfio, opts: devbind.Options{Group: true}, changes: 2},
		{name: "PF siblings to uio_pci_generic: groups do not matter", fixture: "pf-siblings", args: []string{"03:00.0"}, driver: "uio_pci_generic", changes: 2},
		{name: "address and route", fixture: "pf-siblings", args: []string{"eth3"}, driver: vfio,
			refusals: []string{"0000:04:00.0 address", "0000:04:00.0 route"},
			messages: []string{"192.0.2.10/24", "192.0.2.0/24 (table main)", "local 192.0.2.10/32 (table local)", "ip address flush dev eth3"}},
		{name: "address and route forced", fixture: "pf-siblings", args: []string{"eth3"}, driver: vfio, opts: devbind.Options{Force: true},
			warnings: []string{"0000:04:00.0 address", "0000:04:00.0 route"}, changes: 1},
		{name: "bifurcated mlx5_core", fixture: "pf-siblings", args: []string{"05:00.0"}, driver: vfio,
			refusals: []string{"0000:05:00.0 bifurcated"},
			messages: []string{"mlx5_core is a bifurcated driver", "-a 0000:05:00.0"}},
		{name: "bifurcated is not forceable", fixture: "pf-siblings", args: []string{"eth4"}, driver: vfio, opts: devbind.Options{Force: true},
			refusals: []string{"0000:05:00.0 bifurcated"}},
		{name: "bond port", fixture: "pf-siblings", args: []string{"eth5"}, driver: vfio,
			refusals: []string{"0000:06:00.0 lower-device"},
			messages: []string{"eth5 is a lower device of bond0 (bond), which is up"}},
		{name: "VLAN with an address on top", fixture: "pf-siblings", args: []string{"eth6"}, driver: vfio,
			refusals: []string{"0000:07:00.0 address", "0000:07:00.0 lower-device", "0000:07:00.0 route"},
			messages: []string{"198.51.100.2/24 on eth6.100 (vlan)", "198.51.100.0/24 (table main) on eth6.100 (vlan)"}},
		{name: "route in another table", fixture: "pf-siblings", args: []string{"eth7"}, driver: vfio,
			refusals: []string{"0000:09:00.0 route"},
			messages: []string{"203.0.113.0/24 (table 100)"}},
		{name: "device without driver", fixture: "pf-siblings", args: []string{"0000:08:00.0"}, driver: vfio, changes: 1},
		{name: "unknown device", fixture: "pf-siblings", args: []string{"eth99"}, driver: vfio,
			refusals: []string{"eth99 unknown-device"}},
		{name: "driver this kernel lacks", fixture: "pf-siblings", args: []string{"0000:08:00.0"}, driver: "igb_uio",
			refusals: []string{"0000:08:00.0 driver-unavailable"}},
		{name: "same device twice", fixture: "pf-siblings", args: []string{"eth1", "0000:03:00.0", "eth2"}, driver: vfio,
			refusals: []string{"0000:03:00.0 request"}, changes: 2},
		{name: "device behind a PCI bridge", fixture: "bridge", args: []string{"02:01.0"}, driver: vfio,
			refusals: []string{"0000:02:01.0 iommu-group"},
			messages: []string{"IOMMU group 6 also holds 0000:02:02.0 (e1000, eth2) on kernel drivers"}},
		{name: "both devices behind the bridge", fixture: "bridge", args: []string{"eth1", "eth2"}, driver: vfio, changes: 2},
		{name: "the bridge itself", fixture: "bridge", args: []string{"01:00.0"}, driver: vfio,
			refusals: []string{"0000:01:00.0 bridge"}},
		{name: "no IOMMU", fixture: "noiommu", args: []string{"eth2"}, driver: vfio,
			refusals: []string{"0000:00:05.0 no-iommu"},
			messages: []string{"unsafe no-IOMMU mode", "--no-iommu"}},
		{name: "no IOMMU is not forceable", fixture: "noiommu", args: []string{"eth2"}, driver: vfio, opts: devbind.Options{Force: true},
			refusals: []string{"0000:00:05.0 no-iommu"}},
		{name: "no IOMMU mode asked for", fixture: "noiommu", args: []string{"eth2"}, driver: vfio, noIOMMU: true,
			warnings: []string{"vfio no-iommu"}, changes: 2},
		{name: "no IOMMU with uio_pci_generic", fixture: "noiommu", args: []string{"eth2"}, driver: "uio_pci_generic", changes: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := offlinePlanner(t, tc.fixture)
			var targets []devbind.Target
			for _, a := range tc.args {
				targets = append(targets, devbind.Target{Arg: a, Driver: tc.driver, NoIOMMU: tc.noIOMMU})
			}
			res, err := p.Bind(context.Background(), targets, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := guards(res.Refusals); strings.Join(got, "|") != strings.Join(nonNilStrings(tc.refusals), "|") {
				t.Errorf("refusals = %q, want %q\n%v", got, tc.refusals, res.Refusals)
			}
			if got := guards(res.Warnings); strings.Join(got, "|") != strings.Join(nonNilStrings(tc.warnings), "|") {
				t.Errorf("warnings = %q, want %q", got, tc.warnings)
			}
			if got := len(res.Changes()); len(tc.refusals) == 0 && got != tc.changes {
				t.Errorf("%d changes, want %d: %v", got, tc.changes, res.Changes())
			}
			var all strings.Builder
			for _, r := range res.Refusals {
				all.WriteString(r.String() + "\n")
			}
			for _, m := range tc.messages {
				if !strings.Contains(all.String(), m) {
					t.Errorf("refusals lack %q:\n%s", m, all.String())
				}
			}
		})
	}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	sort.Strings(s)
	return s
}

// TestGuardSessionRoute: the SSH session's local address is not on the
// interface, but the route back to the client leaves through it.
func TestGuardSessionRoute(t *testing.T) {
	p := offlinePlanner(t, "pf-siblings")
	p.Getenv = sshEnv("198.18.0.7 50000 10.9.9.9 22")
	p.Network = staticNetwork{&devbind.Network{
		Links: []devbind.Link{{Name: "lo", Index: 1, Up: true}, {Name: "eth1", Index: 3, Up: true}},
		Addrs: []devbind.Addr{{Link: "lo", Prefix: netip.MustParsePrefix("10.9.9.9/32")}},
		Routes: []devbind.Route{
			{Link: "eth1", Table: 254, Dst: netip.MustParsePrefix("198.18.0.0/15")},
		},
	}}
	os.Remove(p.Root.Proc("net/tcp"))
	res, err := p.Bind(context.Background(), []devbind.Target{{Arg: "eth1", Driver: "vfio-pci"}, {Arg: "eth2", Driver: "vfio-pci"}}, devbind.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := guards(res.Refusals)
	if strings.Join(got, "|") != "0000:03:00.0 route|0000:03:00.0 ssh-session" {
		t.Fatalf("refusals %q", got)
	}
	if !strings.Contains(res.Refusals[0].Message+res.Refusals[1].Message, "the route back to 198.18.0.7 goes out through eth1") {
		t.Errorf("messages: %v", res.Refusals)
	}
}

func TestGuardNetworkUnknown(t *testing.T) {
	p := offlinePlanner(t, "pf-siblings")
	if err := os.Remove(p.Root.Path(devbind.NetworkFile)); err != nil {
		t.Fatal(err)
	}
	targets := []devbind.Target{{Arg: "eth1", Driver: "vfio-pci"}, {Arg: "eth2", Driver: "vfio-pci"}, {Arg: "0000:08:00.0", Driver: "vfio-pci"}}
	res, err := p.Bind(context.Background(), targets, devbind.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := guards(res.Refusals); strings.Join(got, "|") != "0000:03:00.0 network-unknown|0000:03:00.1 network-unknown" {
		t.Fatalf("refusals %q", got)
	}
	if !strings.Contains(res.Refusals[0].Message, "nettune snapshot") {
		t.Errorf("message: %s", res.Refusals[0].Message)
	}
	res, err = p.Bind(context.Background(), targets, devbind.Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refusals) != 0 || len(res.Warnings) != 2 || len(res.Changes()) != 3 {
		t.Fatalf("forced: %+v", res)
	}
}

// TestPlanAlreadyBound: a device already in the wanted state is an ok
// item, and its guards do not run.
func TestPlanAlreadyBound(t *testing.T) {
	r, _ := simHost(t, "pf-siblings")
	ctx := context.Background()
	for _, a := range []string{"0000:03:00.0", "0000:03:00.1"} {
		if err := devbind.Transition(ctx, r, a, devbind.State{Driver: "vfio-pci", Override: "vfio-pci"}); err != nil {
			t.Fatal(err)
		}
	}
	p := devbind.NewPlanner(r, nil)
	res, err := p.Bind(ctx, []devbind.Target{{Arg: "0000:03:00.0", Driver: "vfio_pci"}}, devbind.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refusals) != 0 || len(res.Items) != 1 || res.Items[0].Status != plan.OK {
		t.Fatalf("%+v", res)
	}
}

// TestPlanBoundGroupNotViable: a device already on vfio-pci whose group
// peer went back to a kernel driver is ok, with a warning.
func TestPlanBoundGroupNotViable(t *testing.T) {
	r, _ := simHost(t, "pf-siblings")
	ctx := context.Background()
	if err := devbind.Transition(ctx, r, "0000:03:00.0", devbind.State{Driver: "vfio-pci", Override: "vfio-pci"}); err != nil {
		t.Fatal(err)
	}
	res, err := devbind.NewPlanner(r, nil).Bind(ctx, []devbind.Target{{Arg: "0000:03:00.0", Driver: "vfio-pci"}}, devbind.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refusals) != 0 || len(res.Changes()) != 0 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Message, "bound, but unusable: IOMMU group 12 also holds 0000:03:00.1") {
		t.Fatalf("%+v", res)
	}
}
