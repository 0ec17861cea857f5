package dataplane

import (
	"net"
	"time"
)

// StreamStats are one worker's counters for one stream.
type StreamStats struct {
	RxPort, TxPort int
	// Rx counts packets received on RxPort, Tx packets forwarded out
	// TxPort and Dropped packets the TxPort driver did not take (freed).
	// Once the forwarder has stopped, Rx == Tx + Dropped; while it runs
	// they can be one burst apart.
	Rx, Tx, Dropped uint64
	// Generated counts the TxFirst packets sent out TxPort (not in Tx).
	Generated uint64
}

// WorkerStats are the counters of one worker lcore.
type WorkerStats struct {
	Lcore, CPU int
	Streams    []StreamStats
}

// DeviceCounters are a port's counters as DPDK's rte_eth_stats_get
// reports them.
type DeviceCounters struct {
	RxPackets, TxPackets uint64
	RxBytes, TxBytes     uint64
	RxMissed             uint64 // dropped by the device: rx queue full
	RxErrors, TxErrors   uint64
	RxNoMbuf             uint64 // rx mbuf allocation failures
}

// PortStats describe one port: what it is and its counters.
type PortStats struct {
	Name string
	// DPDKPort is the DPDK port id.
	DPDKPort int
	MAC      net.HardwareAddr
	Socket   int
	Queues   int
	// Descriptors per rx and tx queue after the driver's adjustment.
	RxDesc, TxDesc int
	LinkUp         bool
	SpeedMbps      uint32
	// MTU is the device's MTU after start; Scatter is set when frames
	// longer than an mbuf's data room arrive in mbuf chains.
	MTU     int  `json:",omitempty"`
	Scatter bool `json:",omitempty"`
	// Rx, Tx, Dropped and Generated sum the workers' stream counters for
	// this port: Rx over streams receiving on it, the others over streams
	// sending on it.
	Rx, Tx, Dropped, Generated uint64
	Device                     DeviceCounters
	// Xstats are the driver's extended statistics (rte_eth_xstats_get)
	// that are not zero, by name: per queue ("rx_q0_packets") where the
	// PMD has them, and the driver's own (missed, errors, per-size counts).
	Xstats map[string]uint64 `json:",omitempty"`
}

// Stats is a snapshot of a forwarder's counters.
type Stats struct {
	// Elapsed is the time since the workers were launched (until Stop).
	Elapsed time.Duration
	Ports   []PortStats
	Workers []WorkerStats
}

// Forwarded is the number of packets forwarded, over all ports.
func (s Stats) Forwarded() uint64 {
	var n uint64
	for _, p := range s.Ports {
		n += p.Tx
	}
	return n
}

// Dropped is the number of packets received and not forwarded.
func (s Stats) Dropped() uint64 {
	var n uint64
	for _, p := range s.Ports {
		n += p.Dropped
	}
	return n
}

// Mpps is the average forwarding rate in million packets per second.
func (s Stats) Mpps() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Forwarded()) / s.Elapsed.Seconds() / 1e6
}

// SumPorts fills the Rx, Tx, Dropped and Generated fields of s.Ports from
// the workers' stream counters.
func (s *Stats) SumPorts() {
	for i := range s.Ports {
		p := &s.Ports[i]
		p.Rx, p.Tx, p.Dropped, p.Generated = 0, 0, 0, 0
	}
	for _, w := range s.Workers {
		for _, st := range w.Streams {
			if st.RxPort >= 0 && st.RxPort < len(s.Ports) {
				s.Ports[st.RxPort].Rx += st.Rx
			}
			if st.TxPort >= 0 && st.TxPort < len(s.Ports) {
				p := &s.Ports[st.TxPort]
				p.Tx += st.Tx
				p.Dropped += st.Dropped
				p.Generated += st.Generated
			}
		}
	}
}

// PortRate is one port's packet rates between two snapshots, in packets
// per second.
type PortRate struct {
	Name                  string
	RxPPS, TxPPS, DropPPS float64
}

// Rates returns the per-port rates between snapshots prev and cur of the
// same forwarder; it is empty when no time passed between them.
func Rates(prev, cur Stats) []PortRate {
	dt := (cur.Elapsed - prev.Elapsed).Seconds()
	if dt <= 0 || len(prev.Ports) != len(cur.Ports) {
		return nil
	}
	out := make([]PortRate, len(cur.Ports))
	for i, c := range cur.Ports {
		p := prev.Ports[i]
		out[i] = PortRate{
			Name:    c.Name,
			RxPPS:   float64(c.Rx-p.Rx) / dt,
			TxPPS:   float64(c.Tx-p.Tx) / dt,
			DropPPS: float64(c.Dropped-p.Dropped) / dt,
		}
	}
	return out
}
