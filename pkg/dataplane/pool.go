package dataplane

// MbufCacheSize is the per-lcore cache of every mbuf pool.
const MbufCacheSize = 256

// PoolSize returns the number of mbufs in the pool for NUMA node socket:
//
//	n = Σ queues(p) × (RxDesc + TxDesc)     over the ports p on socket
//	  + (workers + 1) × MbufCacheSize × 3/2 (each lcore's cache may fill to 1.5×)
//	  + Σ streams(w) × Burst                 (one burst in flight per stream)
//
// rounded up to 2^k − 1, the mempool's most economical size. Every
// descriptor may hold an mbuf, every lcore (the main one too) may keep a
// full cache, and a worker holds at most one received burst per stream
// before it is sent or freed. A port with Socket -1 counts as socket 0;
// Start replaces unknown sockets by the device's before sizing. PoolSize
// is 0 for a socket without ports and for an invalid cfg.
func PoolSize(cfg Config, socket int) uint32 {
	cfg = cfg.WithDefaults()
	plans, err := Layout(cfg)
	if err != nil {
		return 0
	}
	queues := QueueCounts(plans, len(cfg.Ports))
	var n uint64
	onSocket := make([]bool, len(cfg.Ports))
	for i, p := range cfg.Ports {
		s := p.Socket
		if s < 0 {
			s = 0
		}
		if s != socket {
			continue
		}
		onSocket[i] = true
		n += uint64(queues[i]) * uint64(cfg.RxDesc+cfg.TxDesc)
	}
	if n == 0 {
		return 0
	}
	n += uint64(len(cfg.Lcores)+1) * MbufCacheSize * 3 / 2
	for _, pl := range plans {
		for _, s := range pl.Streams {
			if onSocket[s.RxPort] {
				n += uint64(cfg.Burst)
			}
		}
	}
	p := uint64(1)
	for p-1 < n {
		p <<= 1
	}
	if p-1 > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(p - 1)
}
