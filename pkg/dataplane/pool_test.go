package dataplane

import (
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
)

func TestPoolSize(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		socket int
		want   uint32
	}{
		// 2 ports × 1 queue × 2048 + 2 lcores × 384 + 2 streams × 32 = 4928
		{"null pair one worker", nullConfig(1), 0, 8191},
		{"no ports on socket", nullConfig(1), 1, 0},
		// 2 × 1 × (256+256) + 2 × 384 + 2 × 32 = 1856
		{"small rings", func() Config { c := nullConfig(1); c.RxDesc, c.TxDesc = 256, 256; return c }(), 0, 2047},
		// 2 ports × 4 queues × 4096 + 5 × 384 + 8 × 64 = 35200
		{"four workers", func() Config {
			c := nullConfig(1, 2, 3, 4)
			c.RxDesc, c.TxDesc, c.Burst = 2048, 2048, 64
			return c
		}(), 0, 65535},
		// socket 1: port 1 only: 1 × 2048 + 2 × 384 + 1 × 32 = 2848
		{"split sockets", func() Config { c := nullConfig(1); c.Ports[1].Socket = 1; return c }(), 1, 4095},
		{"invalid", Config{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PoolSize(tt.cfg, tt.socket); got != tt.want {
				t.Errorf("PoolSize = %d, want %d", got, tt.want)
			}
		})
	}
}

// The pool always holds every descriptor, every cache and one burst per
// stream, and is 2^k-1.
func TestPoolSizeBounds(t *testing.T) {
	for w := 1; w <= 8; w++ {
		for _, desc := range []int{64, 512, 1024, 4096} {
			var workers []int
			for i := 1; i <= w; i++ {
				workers = append(workers, i)
			}
			cfg := nullConfig(workers...)
			cfg.RxDesc, cfg.TxDesc = desc, desc
			n := uint64(PoolSize(cfg, 0))
			need := uint64(2*w*2*desc + (w+1)*MbufCacheSize*3/2 + 2*w*DefaultBurst)
			if n < need || n&(n+1) != 0 || n > 2*need {
				t.Errorf("%d workers %d desc: PoolSize %d, need %d", w, desc, n, need)
			}
		}
	}
}

// MemoryEstimate = mbufs × MbufBytes + descriptors × DescBytes + the EAL's
// overhead; the preflight rounds it to pages and refuses only when it is
// more than the free memory, printing both in MiB.
func TestMemoryNeeded(t *testing.T) {
	cfg := nullConfig(1)
	// 8191 mbufs × 2392 + 2 queues × 2048 descriptors × 64 + 4 MiB
	want := uint64(8191*2392 + 2*2048*64 + 4<<20)
	if got := MemoryEstimate(cfg, 0); got != want {
		t.Errorf("MemoryEstimate = %d, want %d", got, want)
	}
	if got := MemoryNeeded(cfg, 0); got != 8191*2432+64<<20 {
		t.Errorf("MemoryNeeded (the planner's reservation) = %d", got)
	}
	jumbo := cfg
	jumbo.MbufDataSize = 9344
	if got := MemoryEstimate(jumbo, 0); got != want+8191*(9344-2176) {
		t.Errorf("MemoryEstimate with 9344-byte mbufs = %d, want %d", got, want+8191*(9344-2176))
	}
	if MemoryEstimate(cfg, 1) != 0 {
		t.Error("memory needed on a node without ports")
	}
	pages := int((want + 2<<20 - 1) / (2 << 20)) // 12 pages of 2 MiB
	topo := func(free int) *numa.Topology {
		return &numa.Topology{Nodes: []numa.Node{{ID: 0, Hugepages: []numa.HugepagePool{{SizeKB: 2048, Total: 100, Free: free}}}}}
	}
	r, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if problems, _ := Preflight(r, topo(pages), cfg); len(problems) != 0 {
		t.Errorf("exactly enough free pages (%d): %v", pages, problems)
	}
	problems, _ := Preflight(r, topo(pages-1), cfg)
	if len(problems) != 1 || !strings.Contains(problems[0], "needs 24.00 MiB of hugepages (8191 mbufs × 2392 B + 4.25 MiB") || !strings.Contains(problems[0], "in 2.00 MiB pages), 22.00 MiB are free") {
		t.Errorf("one page short: %q", problems)
	}
}
