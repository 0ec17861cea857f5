// Command fwdtest drives pkg/dataplane for tests and benchmarks; it is not
// part of nettune's CLI.
//
//	fwdtest run  -vdev net_null0 -vdev net_null1 -workers 1 -main 0 -duration 5s [-mode mac] [-json FILE]
//	fwdtest send -iface veth0 -count 1000 [-pps 20000] [-ip SRC,DST]   (AF_PACKET sender)
//	fwdtest count -iface veth1 -want 1000 -timeout 10s   (AF_PACKET counter)
//
// run prints one line of per-port rates per -interval, "rate: X Mpps" lines
// for scripts, and a final summary; SIGINT or SIGTERM stops it cleanly.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/dataplane/forwarder"
)

// etherType marks the test frames (IEEE local experimental).
const etherType = 0x88b5

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: fwdtest run|send|count [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "send":
		err = send(os.Args[2:])
	case "count":
		err = count(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want run, send or count", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fwdtest:", err)
		os.Exit(1)
	}
}

type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var vdevs, pcis, eal, peers list
	fs.Var(&vdevs, "vdev", "vdev port (repeatable)")
	fs.Var(&pcis, "pci", "pci port (repeatable, after the vdevs)")
	fs.Var(&eal, "eal", "extra eal argument (repeatable)")
	fs.Var(&peers, "peer-mac", "peer mac of port i, in port order (repeatable)")
	pairs := fs.String("pairs", "", "pairs of port indexes, e.g. 0-1,2-3 (default: consecutive ports)")
	mode := fs.String("mode", "io", "io or mac")
	workers := fs.String("workers", "1", "worker cpu list")
	mainCPUs := fs.String("main", "", "housekeeping cpu list (default: allowed cpus minus workers)")
	burst := fs.Int("burst", 0, "burst size")
	rxd := fs.Int("rxd", 0, "rx descriptors")
	txd := fs.Int("txd", 0, "tx descriptors")
	noHuge := fs.Bool("no-huge", false, "run without hugepages")
	mem := fs.Int("m", 0, "eal memory in MB")
	txFirst := fs.Bool("tx-first", false, "send one burst per port at start")
	prefix := fs.String("file-prefix", "", "eal file prefix")
	duration := fs.Duration("duration", 0, "run time (0: until SIGINT/SIGTERM)")
	interval := fs.Duration("interval", time.Second, "rate print interval")
	jsonOut := fs.String("json", "", "write final stats as json to this file")
	linkTimeout := fs.Duration("link-timeout", 0, "link wait")
	fs.Parse(args)

	cfg := dataplane.Config{
		Mode: *mode, Burst: *burst, RxDesc: *rxd, TxDesc: *txd, NoHuge: *noHuge,
		MemoryMB: *mem, TxFirst: *txFirst, FilePrefix: *prefix, ExtraEAL: eal, LinkTimeout: *linkTimeout,
	}
	for _, v := range vdevs {
		cfg.Ports = append(cfg.Ports, dataplane.Port{Vdev: v, Socket: -1})
	}
	for _, p := range pcis {
		cfg.Ports = append(cfg.Ports, dataplane.Port{PCI: p, Socket: -1})
	}
	for i, p := range peers {
		if i >= len(cfg.Ports) {
			return fmt.Errorf("peer mac %d: only %d ports", i, len(cfg.Ports))
		}
		mac, err := net.ParseMAC(p)
		if err != nil {
			return fmt.Errorf("parse peer mac %q: %w", p, err)
		}
		cfg.Ports[i].PeerMAC = mac
	}
	if *pairs == "" {
		for i := 0; i+1 < len(cfg.Ports); i += 2 {
			cfg.Pairs = append(cfg.Pairs, [2]int{i, i + 1})
		}
		if len(cfg.Ports)%2 == 1 {
			n := len(cfg.Ports) - 1
			cfg.Pairs = append(cfg.Pairs, [2]int{n, n})
		}
	} else {
		for _, pr := range strings.Split(*pairs, ",") {
			a, b, ok := strings.Cut(pr, "-")
			x, err1 := strconv.Atoi(a)
			y, err2 := strconv.Atoi(b)
			if !ok || err1 != nil || err2 != nil {
				return fmt.Errorf("parse pair %q: want A-B", pr)
			}
			cfg.Pairs = append(cfg.Pairs, [2]int{x, y})
		}
	}
	w, err := cpuset.Parse(*workers)
	if err != nil {
		return err
	}
	cfg.Lcores = w.List()
	if *mainCPUs != "" {
		m, err := cpuset.Parse(*mainCPUs)
		if err != nil {
			return err
		}
		cfg.MainCPUs = m.List()
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	f, err := forwarder.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("eal: %s\n", strings.Join(f.EALArgs(), " "))
	for _, w := range f.Warnings() {
		fmt.Printf("warning: %s\n", w)
	}
	fmt.Println("started")
	var end <-chan time.Time
	if *duration > 0 {
		end = time.After(*duration)
	}
	tick := time.NewTicker(*interval)
	prev := f.Stats()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-tick.C:
			cur := f.Stats()
			var b strings.Builder
			var tx float64
			for _, r := range dataplane.Rates(prev, cur) {
				fmt.Fprintf(&b, " %s rx %.3f tx %.3f drop %.3f Mpps;", r.Name, r.RxPPS/1e6, r.TxPPS/1e6, r.DropPPS/1e6)
				tx += r.TxPPS
			}
			fmt.Printf("t=%.1fs%s\nrate: %.3f Mpps\n", cur.Elapsed.Seconds(), b.String(), tx/1e6)
			prev = cur
		}
	}
	tick.Stop()
	s, err := f.Stop()
	fmt.Printf("stopped after %.3fs\n", s.Elapsed.Seconds())
	for _, p := range s.Ports {
		fmt.Printf("port %s (dpdk %d, %s, %d queues): rx %d tx %d dropped %d generated %d; device ipackets %d opackets %d imissed %d rx_nombuf %d\n",
			p.Name, p.DPDKPort, p.MAC, p.Queues, p.Rx, p.Tx, p.Dropped, p.Generated,
			p.Device.RxPackets, p.Device.TxPackets, p.Device.RxMissed, p.Device.RxNoMbuf)
	}
	fmt.Printf("total forwarded %d dropped %d in %.3fs: %.3f Mpps\n", s.Forwarded(), s.Dropped(), s.Elapsed.Seconds(), s.Mpps())
	if *jsonOut != "" {
		b, jerr := json.MarshalIndent(s, "", "  ")
		if jerr == nil {
			jerr = os.WriteFile(*jsonOut, b, 0o644)
		}
		if jerr != nil {
			err = errors.Join(err, fmt.Errorf("write %s: %w", *jsonOut, jerr))
		}
	}
	return err
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// packetSocket opens an AF_PACKET socket bound to iface for ethertype proto.
func packetSocket(iface string, proto uint16) (int, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return -1, fmt.Errorf("find interface: %w", err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(proto)))
	if err != nil {
		return -1, fmt.Errorf("open packet socket on %s: %w", iface, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind packet socket to %s: %w", iface, err)
	}
	return fd, nil
}

func send(args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	iface := fs.String("iface", "", "interface")
	n := fs.Int("count", 1000, "frames to send")
	size := fs.Int("size", 60, "frame size without fcs")
	pps := fs.Int("pps", 0, "rate limit (0: as fast as possible)")
	dst := fs.String("dst", "ff:ff:ff:ff:ff:ff", "destination mac")
	ip := fs.String("ip", "", "SRC,DST: send IPv4/UDP frames (port 9) between these addresses, which a kernel can route, instead of test frames")
	fs.Parse(args)
	fd, err := packetSocket(*iface, etherType)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifi, _ := net.InterfaceByName(*iface)
	d, err := net.ParseMAC(*dst)
	if err != nil {
		return fmt.Errorf("parse dst: %w", err)
	}
	frame := make([]byte, max(*size, 60))
	copy(frame, d)
	copy(frame[6:], ifi.HardwareAddr)
	binary.BigEndian.PutUint16(frame[12:], etherType)
	seq := 14 // where each frame's number goes
	if *ip != "" {
		if seq, err = udpFrame(frame, *ip); err != nil {
			return err
		}
	}
	start := time.Now()
	sent := 0
	for i := 0; i < *n; i++ {
		binary.BigEndian.PutUint32(frame[seq:], uint32(i))
		if *pps > 0 {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(*pps))); d > 0 {
				time.Sleep(d)
			}
		}
		for {
			err = unix.Send(fd, frame, 0)
			if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
				time.Sleep(50 * time.Microsecond)
				continue
			}
			if errors.Is(err, unix.ENETDOWN) && *n > 1e6 {
				// A long-running generator outlives forwarders that
				// take the peer link down when they stop.
				time.Sleep(10 * time.Millisecond)
				continue
			}
			break
		}
		if err != nil {
			return fmt.Errorf("send frame %d on %s: %w", i, *iface, err)
		}
		sent++
	}
	el := time.Since(start)
	fmt.Printf("sent %d in %.3fs (%.3f Mpps)\n", sent, el.Seconds(), float64(sent)/el.Seconds()/1e6)
	return nil
}

// udpFrame fills frame (its Ethernet addresses set) with an IPv4/UDP
// datagram from SRC to DST ("SRC,DST") to port 9 (discard), TTL 64, and
// returns the payload offset. The IPv4 checksum covers the header only,
// which stays the same; the UDP checksum is 0 (none, allowed over IPv4).
func udpFrame(frame []byte, spec string) (int, error) {
	a, b, ok := strings.Cut(spec, ",")
	src, dst := net.ParseIP(a).To4(), net.ParseIP(b).To4()
	if !ok || src == nil || dst == nil {
		return 0, fmt.Errorf("-ip %q: want two IPv4 addresses, SRC,DST", spec)
	}
	if len(frame) < 14+20+8+4 {
		return 0, fmt.Errorf("-size %d: too small for IPv4/UDP", len(frame))
	}
	binary.BigEndian.PutUint16(frame[12:], 0x0800)
	h := frame[14:34]
	h[0], h[1] = 0x45, 0
	binary.BigEndian.PutUint16(h[2:], uint16(len(frame)-14))
	h[8], h[9] = 64, 17 // TTL, UDP
	copy(h[12:], src)
	copy(h[16:], dst)
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
	u := frame[34:42]
	binary.BigEndian.PutUint16(u[0:], 9)
	binary.BigEndian.PutUint16(u[2:], 9)
	binary.BigEndian.PutUint16(u[4:], uint16(len(frame)-34))
	return 42, nil
}

func count(args []string) error {
	fs := flag.NewFlagSet("count", flag.ExitOnError)
	iface := fs.String("iface", "", "interface")
	want := fs.Int("want", 0, "stop after this many frames (0: until timeout)")
	timeout := fs.Duration("timeout", 10*time.Second, "overall time limit")
	idle := fs.Duration("idle", 0, "stop after this long without a frame, once one arrived")
	ready := fs.String("ready", "", "create this file once the socket is open")
	fs.Parse(args)
	fd, err := packetSocket(*iface, etherType)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if *ready != "" {
		if err := os.WriteFile(*ready, nil, 0o644); err != nil {
			return err
		}
	}
	buf := make([]byte, 2048)
	deadline := time.Now().Add(*timeout)
	got := 0
	last := time.Time{}
	for time.Now().Before(deadline) && (*want == 0 || got < *want) {
		if *idle > 0 && got > 0 && time.Since(last) > *idle {
			break
		}
		nr, from, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("receive on %s: %w", *iface, err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if nr >= 14 && binary.BigEndian.Uint16(buf[12:]) == etherType {
			got++
			last = time.Now()
		}
	}
	fmt.Printf("received %d\n", got)
	return nil
}
