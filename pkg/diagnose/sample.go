package diagnose

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/prometheus/procfs"
)

// Sample is one reading of the counters the rate rules use.
type Sample struct {
	// Softnet is /proc/net/softnet_stat by CPU.
	Softnet map[int]procfs.SoftnetStat
	// NICStats are /sys/class/net/<if>/statistics counters by interface.
	NICStats map[string]map[string]uint64
	// IRQs are the /proc/interrupts rows.
	IRQs []IRQ
}

// IRQ is one row of /proc/interrupts.
type IRQ struct {
	// ID is the IRQ number or the name of a per-CPU row (LOC, RES, ...).
	ID string
	// Counts by CPU column.
	Counts map[int]uint64
	// Name is the rest of the line (chip, type, action names).
	Name string
}

// nicCounters are the generic drop and error counters every driver fills
// (Documentation/ABI/testing/sysfs-class-net-statistics).
var nicCounters = []string{"rx_missed_errors", "rx_fifo_errors", "rx_over_errors", "rx_dropped", "rx_crc_errors", "tx_dropped", "tx_fifo_errors", "rx_packets", "tx_packets"}

// TakeSample reads the counters under the root.
func TakeSample(r *host.Root, topo *numa.Topology) (*Sample, error) {
	s := &Sample{Softnet: map[int]procfs.SoftnetStat{}, NICStats: map[string]map[string]uint64{}}
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
		if len(m) > 0 {
			s.NICStats[nic.Name] = m
		}
	}
	if b, err := os.ReadFile(r.Proc("interrupts")); err == nil {
		s.IRQs = ParseInterrupts(b)
	}
	return s, nil
}

// ParseInterrupts reads /proc/interrupts: a header of CPU columns, then
// one row per IRQ with a count per CPU column and a free-form name.
func ParseInterrupts(b []byte) []IRQ {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var cpus []int
	var out []IRQ
	for sc.Scan() {
		line := sc.Text()
		if cpus == nil {
			for _, f := range strings.Fields(line) {
				n, ok := strings.CutPrefix(f, "CPU")
				if !ok {
					continue
				}
				if c, err := strconv.Atoi(n); err == nil {
					cpus = append(cpus, c)
				}
			}
			if cpus == nil {
				return nil
			}
			continue
		}
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		irq := IRQ{ID: strings.TrimSpace(id), Counts: map[int]uint64{}}
		fields := strings.Fields(rest)
		i := 0
		for ; i < len(fields) && i < len(cpus); i++ {
			v, err := strconv.ParseUint(fields[i], 10, 64)
			if err != nil {
				break
			}
			irq.Counts[cpus[i]] = v
		}
		irq.Name = strings.Join(fields[i:], " ")
		out = append(out, irq)
	}
	return out
}

// delta returns after-before.
func delta(before, after uint64) uint64 {
	if after < before { // wrapped (softnet counters are 32-bit) or reset
		return after
	}
	return after - before
}
