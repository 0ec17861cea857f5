package dataplane

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

// TestVFPort: a port named by pf and vf is the VF's address: the virtfnN
// link once the VF exists, before that the address the kernel will give it
// (the I350 capture's 0000:03:10.4 for VF 1: offset 128, stride 4).
func TestVFPort(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "sys/bus/pci/devices/0000:03:00.0")
	if err := os.MkdirAll(pf, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"sriov_totalvfs": "7", "sriov_offset": "128", "sriov_stride": "4"} {
		if err := os.WriteFile(filepath.Join(pf, k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &host.Root{Prefix: dir}
	one := 1
	spec := &profile.Spec{Dataplane: &profile.Dataplane{Lcores: cpuset.Of(1), Ports: []profile.DataplanePort{
		{Name: "vf", PF: "03:00.0", VF: &one}, {Name: "null", Vdev: "net_null0"}}}}
	topo := &numa.Topology{Online: cpuset.Of(0, 1)}
	cfg, err := FromProfile(r, spec, topo)
	if err != nil || cfg.Ports[0].PCI != "0000:03:10.4" {
		t.Fatalf("before the VF exists: %v %+v", err, cfg.Ports)
	}
	if err := os.Symlink("../0000:03:10.6", filepath.Join(pf, "virtfn1")); err != nil {
		t.Fatal(err)
	}
	cfg, err = FromProfile(r, spec, topo)
	if err != nil || cfg.Ports[0].PCI != "0000:03:10.6" {
		t.Fatalf("with virtfn1: %v %+v", err, cfg.Ports)
	}
	spec.Dataplane.Ports[0].PF = "0000:00:1f.0"
	if _, err := FromProfile(r, spec, topo); err == nil {
		t.Fatal("a PF that is not SR-IOV capable was accepted")
	}
}
