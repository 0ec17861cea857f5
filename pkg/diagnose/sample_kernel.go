package diagnose

import (
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
)

// cpuTime is one CPU's softirq counters: NET_RX softirqs raised
// (/proc/softirqs, 32-bit) and the time spent in softirq and in total
// (/proc/stat, USER_HZ ticks).
type cpuTime struct {
	NetRX, NetTX   uint64
	Softirq, Total uint64
}

// mibCounters are the /proc/net/netstat, /proc/net/snmp and
// /proc/net/snmp6 counters the socket rules use, as "Group:Name".
var mibCounters = map[string]bool{
	"TcpExt:ListenOverflows": true,
	"TcpExt:ListenDrops":     true,
	"Udp:InErrors":           true,
	"Udp:RcvbufErrors":       true,
	"Udp:InCsumErrors":       true,
	"Udp:MemErrors":          true,
	"Udp6:InErrors":          true,
	"Udp6:RcvbufErrors":      true,
	"Udp6:InCsumErrors":      true,
	"Udp6:MemErrors":         true,
}

// readKernelCounters fills the sample's MIB and CPU time counters: four
// files, each read once.
func readKernelCounters(r *host.Root, s *Sample) {
	s.MIB = map[string]uint64{}
	for _, f := range []string{"net/netstat", "net/snmp"} {
		if b, err := os.ReadFile(r.Proc(f)); err == nil {
			parseMIBPairs(b, s.MIB)
		}
	}
	if b, err := os.ReadFile(r.Proc("net/snmp6")); err == nil {
		parseSNMP6(b, s.MIB)
	}
	s.CPUTime = map[int]cpuTime{}
	if b, err := os.ReadFile(r.Proc("softirqs")); err == nil {
		parseSoftirqs(b, s.CPUTime)
	}
	if b, err := os.ReadFile(r.Proc("stat")); err == nil {
		parseStatCPUs(b, s.CPUTime)
	}
	readQdiscs(r, s)
}

// parseMIBPairs reads the header/value line pairs of /proc/net/netstat
// and /proc/net/snmp ("TcpExt: SyncookiesSent ..." then "TcpExt: 0 ...")
// for the groups mibCounters names.
func parseMIBPairs(b []byte, out map[string]uint64) {
	var header []string
	var group string
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		g, rest, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		if header != nil && string(g) == group {
			vals := strings.Fields(string(rest))
			for i, name := range header {
				if i < len(vals) && mibCounters[group+":"+name] {
					if v, err := strconv.ParseUint(vals[i], 10, 64); err == nil {
						out[group+":"+name] = v
					}
				}
			}
			header = nil
			continue
		}
		header = nil
		switch string(g) {
		case "TcpExt", "Udp":
			group, header = string(g), strings.Fields(string(rest))
		}
	}
}

// parseSNMP6 reads /proc/net/snmp6 ("Udp6RcvbufErrors   0" per line).
func parseSNMP6(b []byte, out map[string]uint64) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		if !bytes.HasPrefix(line, []byte("Udp6")) {
			continue
		}
		f := strings.Fields(string(line))
		if len(f) != 2 {
			continue
		}
		k := "Udp6:" + strings.TrimPrefix(f[0], "Udp6")
		if mibCounters[k] {
			if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				out[k] = v
			}
		}
	}
}

// parseSoftirqs reads the NET_RX and NET_TX rows of /proc/softirqs; the
// header names the CPU of each column (possible CPUs).
func parseSoftirqs(b []byte, out map[int]cpuTime) {
	head, rest, _ := bytes.Cut(b, []byte("\n"))
	var cpus []int
	for _, f := range strings.Fields(string(head)) {
		n, err := strconv.Atoi(strings.TrimPrefix(f, "CPU"))
		if err != nil || n < 0 {
			return
		}
		cpus = append(cpus, n)
	}
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		name, vals, ok := bytes.Cut(bytes.TrimLeft(line, " "), []byte(":"))
		if !ok || (string(name) != "NET_RX" && string(name) != "NET_TX") {
			continue
		}
		for i, f := range strings.Fields(string(vals)) {
			if i >= len(cpus) {
				break
			}
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				continue
			}
			t := out[cpus[i]]
			if string(name) == "NET_RX" {
				t.NetRX = v
			} else {
				t.NetTX = v
			}
			out[cpus[i]] = t
		}
	}
}

// parseStatCPUs reads the cpuN lines of /proc/stat: user nice system idle
// iowait irq softirq steal (guest time is already in user). It stops at
// the first line after them.
func parseStatCPUs(b []byte, out map[int]cpuTime) {
	seen := false
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		if !bytes.HasPrefix(line, []byte("cpu")) {
			if seen {
				return
			}
			continue
		}
		seen = true
		f := strings.Fields(string(line))
		cpu, err := strconv.Atoi(strings.TrimPrefix(f[0], "cpu"))
		if err != nil || cpu < 0 || len(f) < 8 {
			continue // the aggregate "cpu" line
		}
		var total uint64
		var vals [8]uint64
		for i := 1; i < len(f) && i <= 8; i++ {
			vals[i-1], _ = strconv.ParseUint(f[i], 10, 64)
			total += vals[i-1]
		}
		t := out[cpu]
		t.Softirq, t.Total = vals[6], total
		out[cpu] = t
	}
}
