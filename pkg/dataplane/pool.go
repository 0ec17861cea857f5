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

// The hugepage memory of the forwarder, measured: free_hugepages before
// and while fwdtest ran two net_null ports with --in-memory and no -m (the
// EAL then takes memory as it needs it), for pools of 2047 to 131071
// mbufs (docs/run.md): 8, 22, 40, 78 and 302 MiB for 2047, 8191, 16383,
// 32767 and 131071 mbufs: 2389 B per mbuf and 3.5 to 5 MiB besides.
const (
	// MbufBytes is the memory one mbuf takes in a pool: the mempool's
	// object header (64 B), struct rte_mbuf (128 B), the default data room
	// RTE_MBUF_DEFAULT_BUF_SIZE (2048 B + 128 B headroom) and its slot in
	// the pool's ring (8 B) make 2376 B; the measured slope is 2389 B.
	MbufBytes = DefaultMbufDataSize + mbufOverhead
	// mbufOverhead is what an mbuf takes besides its data room.
	mbufOverhead = 216
	// EALOverheadBytes is what the EAL and the pools take besides the
	// mbufs: memseg lists, the pools' headers and per-lcore caches, the
	// workers' state.
	EALOverheadBytes = 4 << 20
	// DescBytes is the memory per rx or tx descriptor of a queue: the
	// hardware descriptor (16 or 32 B) and the driver's software ring.
	DescBytes = 64
)

// MemoryEstimate is the hugepage memory, in bytes, the forwarder needs on
// a NUMA node, before rounding to pages: its mbuf pool, the descriptor
// rings of the ports there and the EAL's overhead; 0 for a node without
// ports. Preflight checks it against the free hugepages.
func MemoryEstimate(cfg Config, socket int) uint64 {
	n := PoolSize(cfg, socket)
	if n == 0 {
		return 0
	}
	cfg = cfg.WithDefaults()
	plans, _ := Layout(cfg)
	queues := QueueCounts(plans, len(cfg.Ports))
	var desc uint64
	for i, p := range cfg.Ports {
		if max(p.Socket, 0) == socket {
			desc += uint64(queues[i]) * uint64(cfg.RxDesc+cfg.TxDesc)
		}
	}
	return uint64(n)*uint64(cfg.MbufDataSize+mbufOverhead) + desc*DescBytes + EALOverheadBytes
}

// MbufBytesOf is the memory one mbuf of cfg's pool takes.
func MbufBytesOf(cfg Config) int { return cfg.WithDefaults().MbufDataSize + mbufOverhead }

// The reservation the planner makes (MemoryNeeded), larger than the
// estimate on purpose: headroom for the PMDs of real NICs, which this
// estimate has not been measured with.
const (
	reserveMbufBytes  = 2432
	reserveOverheadMB = 64
)

// MemoryNeeded is the hugepage memory the planner reserves for the
// forwarder on a node: PoolSize × 2432 B + 64 MiB, about 1.3 to 4 times
// MemoryEstimate (more for small pools); 0 for a node without ports.
func MemoryNeeded(cfg Config, socket int) uint64 {
	n := PoolSize(cfg, socket)
	if n == 0 {
		return 0
	}
	return uint64(n)*reserveMbufBytes + reserveOverheadMB<<20
}
