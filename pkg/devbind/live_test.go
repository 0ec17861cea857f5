package devbind_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/host"
)

// TestLiveEth0IsRefused plans (never applies) binding the live host's
// eth0 to vfio-pci: the interface that carries this machine's addresses
// and routes must be refused. Read-only: netlink dumps and sysfs reads.
func TestLiveEth0IsRefused(t *testing.T) {
	if _, err := os.Stat("/sys/class/net/eth0/device"); err != nil {
		t.Skip("no eth0 backed by a device on this host")
	}
	if p, _ := filepath.EvalSymlinks("/sys/class/net/eth0/device"); p == "" {
		t.Skip("eth0 has no device")
	}
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	p := devbind.NewPlanner(r, nil)
	res, err := p.Bind(context.Background(), []devbind.Target{{Arg: "eth0", Driver: "vfio-pci"}}, devbind.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refusals) > 0 && res.Refusals[0].Guard == devbind.GuardUnknownDevice {
		t.Skipf("eth0 is not a PCI device: %v", res.Refusals[0])
	}
	if len(res.Refusals) == 0 {
		t.Fatalf("binding the live eth0 is not refused: %+v", res)
	}
	guards := map[string]bool{}
	for _, ref := range res.Refusals {
		guards[ref.Guard] = true
		t.Logf("refused: %s [%s]", ref, ref.Guard)
	}
	if !guards[devbind.GuardAddress] || !guards[devbind.GuardRoute] {
		t.Errorf("eth0 carries this host's addresses and routes, yet the guards say %v", guards)
	}
	inv, err := p.Devices(context.Background(), devbind.LoadIDs(r))
	if err != nil {
		t.Fatal(err)
	}
	d, err := inv.Resolve("eth0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Active {
		t.Errorf("the live eth0 (%s) is not listed as in use", d.Address)
	}
}
