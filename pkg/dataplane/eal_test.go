package dataplane

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func nullConfig(workers ...int) Config {
	return Config{
		Ports:    []Port{{Vdev: "net_null0", Socket: -1}, {Vdev: "net_null1", Socket: -1}},
		Pairs:    [][2]int{{0, 1}},
		Lcores:   workers,
		MainCPUs: []int{0},
	}
}

func TestLcoreMap(t *testing.T) {
	tests := []struct {
		main, workers []int
		want          string
	}{
		{[]int{0}, []int{1}, "0@0,1@1"},
		{[]int{0, 1}, []int{2, 3}, "0@(0-1),1@2,2@3"},
		{[]int{1, 0, 4, 5, 6, 8}, []int{3, 2}, "0@(0-1,4-6,8),1@3,2@2"},
		{[]int{0, 2, 4}, []int{7}, "0@(0,2,4),1@7"},
		{[]int{5, 5}, []int{1}, "0@5,1@1"},
	}
	for _, tt := range tests {
		if got := LcoreMap(tt.main, tt.workers); got != tt.want {
			t.Errorf("LcoreMap(%v, %v) = %q, want %q", tt.main, tt.workers, got, tt.want)
		}
	}
}

func TestEALArgs(t *testing.T) {
	pid := os.Getpid()
	tests := []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"null no huge", func(c *Config) { c.NoHuge = true; c.MemoryMB = 256 },
			fmt.Sprintf("--lcores 0@0,1@1 --main-lcore 0 --file-prefix nettune-%d --no-huge --no-shconf -m 256 --no-pci --vdev net_null0 --vdev net_null1", pid)},
		{"hugepages in memory", func(c *Config) { c.FilePrefix = "fp"; c.MainCPUs = []int{0, 1}; c.Lcores = []int{2, 3} },
			"--lcores 0@(0-1),1@2,2@3 --main-lcore 0 --file-prefix fp --in-memory --no-pci --vdev net_null0 --vdev net_null1"},
		{"pci and extra", func(c *Config) {
			c.FilePrefix = "x"
			c.Ports = []Port{{PCI: "03:00.0"}, {PCI: "0000:03:00.1"}, {Vdev: "net_af_packet0,iface=v0"}}
			c.Pairs = [][2]int{{0, 1}, {2, 2}}
			c.ExtraEAL = []string{"--log-level", "pmd.net.*:debug"}
		}, "--lcores 0@0,1@1 --main-lcore 0 --file-prefix x --in-memory -a 0000:03:00.0 -a 0000:03:00.1 --vdev net_af_packet0,iface=v0 --log-level pmd.net.*:debug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := nullConfig(1)
			tt.cfg(&cfg)
			got, err := EALArgs(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("EALArgs =\n%s\nwant\n%s", strings.Join(got, " "), tt.want)
			}
		})
	}
}

func TestEALArgsErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"no main cpus", func(c *Config) { c.MainCPUs = nil }, "no housekeeping cpus"},
		{"overlap", func(c *Config) { c.MainCPUs = []int{0, 1} }, "cpu 1 is both a worker and a housekeeping cpu"},
		{"no workers", func(c *Config) { c.Lcores = nil }, "no worker cpus"},
		{"duplicate worker", func(c *Config) { c.Lcores = []int{1, 1} }, "worker cpu 1 listed twice"},
		{"bad prefix", func(c *Config) { c.FilePrefix = "a/b" }, "contains a slash"},
		{"pci without huge", func(c *Config) { c.NoHuge = true; c.Ports[0] = Port{PCI: "03:00.0"} }, "needs hugepages"},
		{"pci and vdev", func(c *Config) { c.Ports[0].PCI = "03:00.0" }, "set exactly one of pci and vdev"},
		{"same device", func(c *Config) { c.Ports[1].Vdev = "net_null0,size=128" }, `device "net_null0" already used by port 0`},
		{"port in two pairs", func(c *Config) { c.Pairs = [][2]int{{0, 1}, {1, 1}} }, "net_null1 is in 2 pairs"},
		{"port in no pair", func(c *Config) { c.Pairs = [][2]int{{0, 0}} }, "net_null1 is in 0 pairs"},
		{"pair out of range", func(c *Config) { c.Pairs = [][2]int{{0, 2}} }, "port index 2 out of range"},
		{"mode", func(c *Config) { c.Mode = "macswap" }, `mode "macswap"`},
		{"burst", func(c *Config) { c.Burst = 1024 }, "burst 1024"},
		{"burst under 4", func(c *Config) { c.Burst = 3 }, "burst 3: want 4-512 (the vector rx paths"},
		{"mtu too small", func(c *Config) { c.MTU = 60 }, "mtu 60: want 68-65509"},
		{"mtu too large", func(c *Config) { c.MTU = 70000 }, "mtu 70000"},
		{"mbuf data size", func(c *Config) { c.MbufDataSize = 128 }, "mbuf data size 128: want 192-65535"},
		{"rt priority", func(c *Config) { c.RTPriority = 100 }, "real-time priority 100: want 1-99"},
		{"peer mac", func(c *Config) { c.Ports[0].PeerMAC = []byte{1, 2, 3} }, "not an ethernet address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := nullConfig(1)
			tt.cfg(&cfg)
			_, err := EALArgs(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("EALArgs error = %v, want one containing %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestPortDeviceName(t *testing.T) {
	tests := []struct {
		port Port
		want string
	}{
		{Port{PCI: "03:00.0"}, "0000:03:00.0"},
		{Port{PCI: "0000:81:00.1"}, "0000:81:00.1"},
		{Port{Vdev: "net_af_packet0,iface=veth0"}, "net_af_packet0"},
		{Port{Vdev: "net_null1"}, "net_null1"},
		{Port{Vdev: "net_ring0,nodeaction=r:0:CREATE"}, "net_ring0"},
	}
	for _, tt := range tests {
		if got := tt.port.DeviceName(); got != tt.want {
			t.Errorf("%+v.DeviceName() = %q, want %q", tt.port, got, tt.want)
		}
	}
}
