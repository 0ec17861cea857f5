package dataplane

import (
	"reflect"
	"testing"
)

func fourPorts(workers ...int) Config {
	cfg := nullConfig(workers...)
	cfg.Ports = append(cfg.Ports, Port{Vdev: "net_null2"}, Port{Vdev: "net_null3"})
	cfg.Pairs = [][2]int{{0, 1}, {2, 3}}
	cfg.MainCPUs = []int{0}
	return cfg
}

func TestLayout(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		want   []WorkerPlan
		queues []int
	}{
		{"one worker one pair", nullConfig(1), []WorkerPlan{
			{1, 1, []Stream{{0, 0, 1, 0}, {1, 0, 0, 0}}},
		}, []int{1, 1}},
		{"two workers one pair", nullConfig(2, 3), []WorkerPlan{
			{1, 2, []Stream{{0, 0, 1, 0}, {1, 0, 0, 0}}},
			{2, 3, []Stream{{0, 1, 1, 1}, {1, 1, 0, 1}}},
		}, []int{2, 2}},
		{"one worker two pairs", fourPorts(1), []WorkerPlan{
			{1, 1, []Stream{{0, 0, 1, 0}, {1, 0, 0, 0}, {2, 0, 3, 0}, {3, 0, 2, 0}}},
		}, []int{1, 1, 1, 1}},
		{"two workers two pairs", fourPorts(1, 2), []WorkerPlan{
			{1, 1, []Stream{{0, 0, 1, 0}, {1, 0, 0, 0}}},
			{2, 2, []Stream{{2, 0, 3, 0}, {3, 0, 2, 0}}},
		}, []int{1, 1, 1, 1}},
		{"three workers two pairs", fourPorts(1, 2, 3), []WorkerPlan{
			{1, 1, []Stream{{0, 0, 1, 0}, {1, 0, 0, 0}}},
			{2, 2, []Stream{{2, 0, 3, 0}, {3, 0, 2, 0}}},
			{3, 3, []Stream{{0, 1, 1, 1}, {1, 1, 0, 1}}},
		}, []int{2, 2, 1, 1}},
		{"hairpin", func() Config {
			c := nullConfig(1, 2)
			c.Ports = c.Ports[:1]
			c.Pairs = [][2]int{{0, 0}}
			return c
		}(), []WorkerPlan{
			{1, 1, []Stream{{0, 0, 0, 0}}},
			{2, 2, []Stream{{0, 1, 0, 1}}},
		}, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Layout(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Layout =\n%+v\nwant\n%+v", got, tt.want)
			}
			if q := QueueCounts(got, len(tt.cfg.Ports)); !reflect.DeepEqual(q, tt.queues) {
				t.Errorf("queues = %v, want %v", q, tt.queues)
			}
		})
	}
}

// Every (port, queue) is received on by exactly one worker and sent on by
// exactly one worker, for 1..N workers and pairs.
func TestLayoutOwnership(t *testing.T) {
	for np := 1; np <= 4; np++ {
		for nw := 1; nw <= 9; nw++ {
			cfg := Config{MainCPUs: []int{100}}
			for p := 0; p < np; p++ {
				cfg.Ports = append(cfg.Ports, Port{Vdev: "net_null" + string(rune('a'+2*p))}, Port{Vdev: "net_null" + string(rune('b'+2*p))})
				cfg.Pairs = append(cfg.Pairs, [2]int{2 * p, 2*p + 1})
			}
			for w := 0; w < nw; w++ {
				cfg.Lcores = append(cfg.Lcores, w)
			}
			plans, err := Layout(cfg)
			if err != nil {
				t.Fatalf("%d pairs %d workers: %v", np, nw, err)
			}
			type pq struct{ port, q int }
			rx, tx := map[pq]int{}, map[pq]int{}
			for _, pl := range plans {
				if len(pl.Streams) == 0 {
					t.Errorf("%d pairs %d workers: worker %d idle", np, nw, pl.Lcore)
				}
				for _, s := range pl.Streams {
					rx[pq{s.RxPort, s.RxQueue}]++
					tx[pq{s.TxPort, s.TxQueue}]++
				}
			}
			queues := QueueCounts(plans, len(cfg.Ports))
			for p, n := range queues {
				for q := 0; q < n; q++ {
					if rx[pq{p, q}] != 1 || tx[pq{p, q}] != 1 {
						t.Errorf("%d pairs %d workers: port %d queue %d has %d receivers %d senders", np, nw, p, q, rx[pq{p, q}], tx[pq{p, q}])
					}
				}
			}
			if len(rx) != len(tx) {
				t.Errorf("%d pairs %d workers: %d rx queues, %d tx queues", np, nw, len(rx), len(tx))
			}
		}
	}
}

func TestLayoutTooManyStreams(t *testing.T) {
	cfg := Config{MainCPUs: []int{0}, Lcores: []int{1}}
	for p := 0; p < MaxStreams+1; p++ {
		cfg.Ports = append(cfg.Ports, Port{Vdev: "net_null" + string(rune('0'+p))})
		cfg.Pairs = append(cfg.Pairs, [2]int{p, p})
	}
	if _, err := Layout(cfg); err == nil {
		t.Fatal("Layout with 65 streams on one worker: no error")
	}
}
