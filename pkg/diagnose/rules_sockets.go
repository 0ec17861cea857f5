package diagnose

import (
	"fmt"
	"sort"
	"strings"
)

func mibDelta(in *Input, k string) uint64 {
	return delta(in.Before.MIB[k], in.After.MIB[k])
}

// ruleListenDrops: TCP connections dropped at a listening socket.
// ListenOverflows counts SYNs and handshake ACKs dropped because the
// accept queue (the listen backlog, capped by net.core.somaxconn) was
// full; ListenDrops counts every drop at a listener, overflows included.
func ruleListenDrops(in *Input) []Finding {
	over, drops := mibDelta(in, "TcpExt:ListenOverflows"), mibDelta(in, "TcpExt:ListenDrops")
	if over == 0 && drops == 0 {
		return nil
	}
	return []Finding{{
		Severity: Warning, Object: "/proc/net/netstat",
		Message:  fmt.Sprintf("%d TCP connection attempts dropped at listening sockets, %d of them because the accept queue was full", max(drops, over), over),
		Evidence: fmt.Sprintf("TcpExt ListenOverflows: %s; ListenDrops: %s", per(over, in.Interval), per(drops, in.Interval)),
		Remedy: fmt.Sprintf("the application accepts too slowly or listens with a small backlog: raise its listen() backlog and spec.sysctl net.core.somaxconn (now %s, the cap on every backlog) and net.ipv4.tcp_max_syn_backlog (now %s); ss -ltn shows each listener's Recv-Q (queued) against Send-Q (backlog)",
			readSysctl(in.Root, "net.core.somaxconn"), readSysctl(in.Root, "net.ipv4.tcp_max_syn_backlog")),
	}}
}

// ruleUDPErrors: UDP datagrams dropped on receive. InErrors counts all of
// them; RcvbufErrors those dropped because the socket's receive buffer
// was full, InCsumErrors bad checksums, MemErrors those refused under
// udp_mem pressure.
func ruleUDPErrors(in *Input) []Finding {
	var ev []string
	var total, rcvbuf, mem uint64
	for _, g := range []string{"Udp", "Udp6"} {
		inErr := mibDelta(in, g+":InErrors")
		if inErr == 0 {
			continue
		}
		total += inErr
		rb, cs, me := mibDelta(in, g+":RcvbufErrors"), mibDelta(in, g+":InCsumErrors"), mibDelta(in, g+":MemErrors")
		rcvbuf += rb
		mem += me
		ev = append(ev, fmt.Sprintf("%s InErrors: %s (RcvbufErrors %d, InCsumErrors %d, MemErrors %d)", g, per(inErr, in.Interval), rb, cs, me))
	}
	if total == 0 {
		return nil
	}
	src := "/proc/net/snmp"
	if len(ev) == 2 || strings.HasPrefix(ev[0], "Udp6") {
		src += ", /proc/net/snmp6"
	}
	remedy := "look for checksum errors (InCsumErrors: a NIC or path corrupting packets) and sockets closed under traffic"
	switch {
	case mem > 0:
		remedy = fmt.Sprintf("UDP memory is under pressure (net.ipv4.udp_mem now %s): raise udp_mem within the host's memory (see NT404) or drain the sockets faster", readSysctl(in.Root, "net.ipv4.udp_mem"))
	case rcvbuf > 0:
		remedy = fmt.Sprintf("receive buffers overflow: the application reads too slowly for its bursts; raise its SO_RCVBUF and spec.sysctl net.core.rmem_max (now %s, the cap on SO_RCVBUF) or net.core.rmem_default (now %s), and spread the sockets over CPUs (SO_REUSEPORT)",
			readSysctl(in.Root, "net.core.rmem_max"), readSysctl(in.Root, "net.core.rmem_default"))
	}
	return []Finding{{
		Severity: Warning, Object: src,
		Message:  fmt.Sprintf("%d UDP datagrams dropped on receive, %d of them because a socket's receive buffer was full", total, rcvbuf),
		Evidence: strings.Join(ev, "; "),
		Remedy:   remedy,
	}}
}

// softirqHotShare is the share of a CPU's time in softirq above which
// NT106 fires: beyond it the CPU has little left for tasks, and the
// kernel hands the rest of the softirq work to ksoftirqd, which competes
// with them as a normal thread.
const softirqHotShare = 0.5

func ruleSoftirqHot(in *Input) []Finding {
	cpus := make([]int, 0, len(in.After.CPUTime))
	for c := range in.After.CPUTime {
		cpus = append(cpus, c)
	}
	sort.Ints(cpus)
	iso := isolated(in)
	var hot []string
	var hotCPUs []int
	for _, c := range cpus {
		a, b := in.After.CPUTime[c], in.Before.CPUTime[c]
		total := delta(b.Total, a.Total)
		if total == 0 {
			continue
		}
		share := float64(delta(b.Softirq, a.Softirq)) / float64(total)
		if share < softirqHotShare {
			continue
		}
		s := fmt.Sprintf("cpu%d: %.0f%% softirq, NET_RX %.0f/s, NET_TX %.0f/s", c, share*100,
			float64(delta32(b.NetRX, a.NetRX))/in.Interval.Seconds(), float64(delta32(b.NetTX, a.NetTX))/in.Interval.Seconds())
		if iso.Contains(c) {
			s += " (isolated)"
		}
		hot = append(hot, s)
		hotCPUs = append(hotCPUs, c)
	}
	if len(hot) == 0 {
		return nil
	}
	if len(hot) > 8 {
		hot = append(hot[:8], fmt.Sprintf("and %d more", len(hot)-8))
	}
	return []Finding{{
		Severity: Warning, Object: fmt.Sprintf("cpus %s", cpuList(hotCPUs)),
		Message:  fmt.Sprintf("CPUs spend more than %.0f%% of their time in softirq: packet processing saturates them and ksoftirqd takes over the rest", softirqHotShare*100),
		Evidence: "/proc/stat softirq column, /proc/softirqs: " + strings.Join(hot, "; "),
		Remedy:   "spread receive work over more queues and CPUs (spec.nics[].channels, spec.nics[].rss, spec.nics[].irqAffinity, spec.nics[].rps); check that NIC IRQs are not all on one CPU (cat /proc/interrupts) and that the CPUs are not isolated ones",
	}}
}

func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = fmt.Sprint(c)
	}
	return strings.Join(s, ",")
}
