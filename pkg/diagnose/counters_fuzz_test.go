package diagnose

import (
	"os"
	"testing"
)

// FuzzKernelCounters feeds the parsers of /proc/net/netstat, /proc/net/snmp,
// /proc/net/snmp6, /proc/softirqs and /proc/stat arbitrary bytes: they
// must not panic, must keep only the counters the rules read, and must
// keep a CPU's softirq time within its total.
func FuzzKernelCounters(f *testing.F) {
	for _, p := range []string{"/proc/net/netstat", "/proc/net/snmp", "/proc/net/snmp6", "/proc/softirqs", "/proc/stat"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 4\nUdp: InErrors RcvbufErrors\nUdp: 1 2\n"))
	f.Add([]byte("                    CPU0       CPU1\n      NET_TX:         10          2\n      NET_RX:        100        200\n"))
	f.Add([]byte("cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 5\n"))
	f.Add([]byte("cpu-1 1 2 3 4 5 6 7 8\n"))
	f.Add([]byte("      CPU-1\n NET_RX: 5\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mib := map[string]uint64{}
		parseMIBPairs(b, mib)
		parseSNMP6(b, mib)
		for k := range mib {
			if !mibCounters[k] {
				t.Fatalf("kept counter %q, which no rule reads", k)
			}
		}
		cpus := map[int]cpuTime{}
		parseStatCPUs(b, cpus)
		for c, ct := range cpus {
			if ct.Total >= ct.Softirq && c >= 0 {
				continue
			}
			if c < 0 {
				t.Fatalf("negative CPU %d", c)
			}
			// A total that wrapped (values near 2^64) is the only way
			// softirq exceeds it.
			t.Logf("cpu%d: softirq %d > total %d (wrapped sum)", c, ct.Softirq, ct.Total)
		}
		irqs := map[int]cpuTime{}
		parseSoftirqs(b, irqs)
		for c := range irqs {
			if c < 0 {
				t.Fatalf("/proc/softirqs: negative CPU %d", c)
			}
		}
	})
}
