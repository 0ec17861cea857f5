package dataplane

import (
	"strings"
	"testing"
)

func TestKernelIfaces(t *testing.T) {
	cfg := Config{Ports: []Port{
		{Vdev: "net_af_xdp0,iface=x0,start_queue=0"},
		{Vdev: "net_af_packet1,framecnt=4096,iface=p1"},
		{Vdev: "net_null0"},
		{PCI: "0000:03:00.0"},
		{Vdev: "net_af_packet2"},
	}}
	all, xdp := KernelIfaces(cfg)
	if strings.Join(all, " ") != "x0 p1" || strings.Join(xdp, " ") != "x0" {
		t.Errorf("KernelIfaces = %v, %v", all, xdp)
	}
	// Nothing to clean on ports without kernel interfaces.
	if n := CleanLeftovers(Config{Ports: []Port{{Vdev: "net_null0"}}}, []Instance{{InstanceFile: InstanceFile{PromiscIfaces: []string{"eth0"}}}}, nil); n != nil {
		t.Errorf("CleanLeftovers on net_null: %v", n)
	}
}
