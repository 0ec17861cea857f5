package dataplane

// Stream is one direction of forwarding served by one worker: packets
// received on queue RxQueue of port RxPort are sent on queue TxQueue of
// port TxPort. Ports are indexes into Config.Ports.
type Stream struct {
	RxPort, RxQueue int
	TxPort, TxQueue int
}

// WorkerPlan is what one worker lcore serves.
type WorkerPlan struct {
	// Lcore is the EAL lcore id (1-based; 0 is the main lcore).
	Lcore int
	// CPU is the CPU the worker is pinned to.
	CPU     int
	Streams []Stream
}

// Layout assigns the pairs of cfg to its workers. With at least as many
// workers as pairs, worker w serves pair w mod len(Pairs) on queue
// w div len(Pairs) of both ports, so a pair's ports get one rx and one tx
// queue per worker serving it and extra workers spread over the pairs.
// With fewer workers than pairs, worker w serves every pair p with
// p mod len(Lcores) == w, on queue 0. Each worker owns its queues: no queue
// is shared.
func Layout(cfg Config) ([]WorkerPlan, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nw, np := len(cfg.Lcores), len(cfg.Pairs)
	plans := make([]WorkerPlan, nw)
	for w := range plans {
		plans[w] = WorkerPlan{Lcore: w + 1, CPU: cfg.Lcores[w]}
	}
	addPair := func(w, pair, q int) {
		a, b := cfg.Pairs[pair][0], cfg.Pairs[pair][1]
		plans[w].Streams = append(plans[w].Streams, Stream{a, q, b, q})
		if a != b {
			plans[w].Streams = append(plans[w].Streams, Stream{b, q, a, q})
		}
	}
	if nw >= np {
		for w := 0; w < nw; w++ {
			addPair(w, w%np, w/np)
		}
	} else {
		for p := 0; p < np; p++ {
			addPair(p%nw, p, 0)
		}
	}
	for _, pl := range plans {
		if len(pl.Streams) > MaxStreams {
			return nil, invalid("worker on cpu %d would serve %d streams, more than %d: add workers", pl.CPU, len(pl.Streams), MaxStreams)
		}
	}
	return plans, nil
}

// QueueCounts returns the number of rx (and tx) queues of each port.
func QueueCounts(plans []WorkerPlan, nports int) []int {
	n := make([]int, nports)
	for _, pl := range plans {
		for _, s := range pl.Streams {
			if s.RxQueue+1 > n[s.RxPort] {
				n[s.RxPort] = s.RxQueue + 1
			}
		}
	}
	return n
}
