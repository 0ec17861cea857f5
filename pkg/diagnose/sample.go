package diagnose

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/irqaffinity"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/prometheus/procfs"
)

// Sample is one reading of the counters the rate rules use.
type Sample struct {
	// Softnet is /proc/net/softnet_stat by CPU.
	Softnet map[int]procfs.SoftnetStat
	// NICStats are /sys/class/net/<if>/statistics counters by interface.
	NICStats map[string]map[string]uint64
	// IRQs are the numbered rows of /proc/interrupts, by IRQ number.
	IRQs map[int]irqaffinity.IRQ
	// Summary are its per-CPU summary rows (LOC, RES...), by label.
	Summary map[string]map[int]uint64
	// MIB are the socket counters of /proc/net/netstat, snmp and snmp6
	// (mibCounters), and CPUTime the per-CPU softirq counts and times of
	// /proc/softirqs and /proc/stat. Only Run's samples for the rate
	// rules read them (nil otherwise).
	MIB     map[string]uint64
	CPUTime map[int]cpuTime
	// Qdiscs are the root qdisc counters by interface, read through
	// netlink on the running host for the rate rules (nil otherwise).
	Qdiscs map[string]qdiscCounters
}

// ringFullStats are the driver statistics (ethtool -S) that count packets
// a NIC dropped because no receive descriptor was free, under each
// driver family's name for it. They are sampled as "ethtool:<name>".
var ringFullStats = map[string]string{
	"rx_missed_errors":    "ixgbe, igb, e1000e",
	"rx_no_buffer_count":  "ixgbe, igb, e1000e",
	"rx_no_dma_resources": "ixgbe",
	"port.rx_dropped":     "i40e",
	"rx_dropped.nic":      "ice",
	"rx_out_of_buffer":    "mlx5",
	"rx_discards_phy":     "mlx5",
	"rx_fifo_errors":      "generic",
}

// nicCounters are the generic drop and error counters every driver fills
// (Documentation/ABI/testing/sysfs-class-net-statistics).
var nicCounters = []string{"rx_missed_errors", "rx_fifo_errors", "rx_over_errors", "rx_dropped", "rx_crc_errors", "tx_dropped", "tx_fifo_errors", "rx_packets", "tx_packets"}

// TakeSample reads the counters under the root.
func TakeSample(r *host.Root, topo *numa.Topology) (*Sample, error) {
	return takeSample(r, topo, func() (*irqaffinity.Table, error) { return irqaffinity.ReadInterruptTable(r) }, false)
}

// takeSample reads the counters, /proc/interrupts through interrupts;
// kernel adds the socket and CPU time counters (readKernelCounters).
func takeSample(r *host.Root, topo *numa.Topology, interrupts func() (*irqaffinity.Table, error), kernel bool) (*Sample, error) {
	s := &Sample{Softnet: map[int]procfs.SoftnetStat{}, NICStats: map[string]map[string]uint64{}}
	if kernel {
		readKernelCounters(r, s)
	}
	if fs, err := procfs.NewFS(r.Proc()); err == nil {
		if stats, err := fs.NetSoftnetStat(); err == nil {
			for i, st := range stats {
				cpu := i
				if st.Width >= 13 {
					cpu = int(st.Index)
				}
				s.Softnet[cpu] = st
			}
		}
	}
	eth, err := ethtool.Open(r)
	if err != nil {
		eth = nil
	} else {
		defer eth.Close()
	}
	for _, nic := range topo.NICs {
		dir := r.Sys("class/net", nic.Name, "statistics")
		m := map[string]uint64{}
		for _, c := range nicCounters {
			b, err := os.ReadFile(filepath.Join(dir, c))
			if err != nil {
				continue
			}
			if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
				m[c] = v
			}
		}
		if eth != nil {
			if st, err := eth.Stats(nic.Name); err == nil {
				for name, v := range st {
					if _, ok := ringFullStats[name]; ok {
						m["ethtool:"+name] = v
					}
				}
			}
		}
		if len(m) > 0 {
			s.NICStats[nic.Name] = m
		}
	}
	s.IRQs = map[int]irqaffinity.IRQ{}
	if t, err := interrupts(); err == nil {
		for _, q := range t.IRQs {
			s.IRQs[q.Number] = q
		}
		s.Summary = t.Summary
	}
	return s, nil
}

// delta returns after-before for a 64-bit counter (NIC statistics): a
// smaller value after means the counter was reset, and after is what it
// counted since.
func delta(before, after uint64) uint64 {
	if after < before {
		return after
	}
	return after - before
}

// delta32 returns after-before for a counter the kernel keeps in 32 bits
// (softnet_stat columns, /proc/interrupts counts): a smaller value after
// is a wrap past 2^32, not a reset.
func delta32(before, after uint64) uint64 {
	if after < before && before <= math.MaxUint32 && after <= math.MaxUint32 {
		return after + (math.MaxUint32 + 1) - before
	}
	return delta(before, after)
}
