//go:build cgo && !nodpdk

package forwarder

/*
#cgo pkg-config: libdpdk
#cgo CFLAGS: -O3 -Wall
#include <stdlib.h>
#include "fwd.h"
*/
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/nettune/nettune/pkg/dataplane"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Available reports whether this build contains the DPDK forwarder.
const Available = true

// ealUsed is set by the first Start: the EAL exists once per process.
var ealUsed atomic.Bool

// control runs closures on one OS thread, the thread that ran
// rte_eal_init; it is locked for the life of the process.
type control struct{ ch chan func() }

func newControl() *control {
	c := &control{ch: make(chan func())}
	go func() {
		runtime.LockOSThread() // never unlocked: this is the EAL thread
		for fn := range c.ch {
			fn()
		}
	}()
	return c
}

func (c *control) do(fn func()) {
	done := make(chan struct{})
	c.ch <- func() { fn(); close(done) }
	<-done
}

// Forwarder is a running forwarder. Its methods may be called from any
// goroutine.
type Forwarder struct {
	cfg        dataplane.Config
	plans      []dataplane.WorkerPlan
	ctl        *control
	ports      []dataplane.PortStats // static fields filled at start
	dpdkPorts  []uint16
	configured int // ports from dpdkPorts[0] on that were configured
	pools      []*C.struct_rte_mempool
	workers    []*C.struct_nt_worker
	runtimeDir string
	warnings   []string
	xnames     [][]string // per port, the names of its xstats
	started    time.Time

	mu      sync.Mutex
	stopped bool
	final   dataplane.Stats
}

// Start initialises the EAL, sets up the ports and launches one worker per
// Config.Lcores entry. ctx bounds the start-up only (the wait for links);
// the forwarder runs until Stop. Start succeeds at most once per process.
func Start(ctx context.Context, cfg dataplane.Config) (*Forwarder, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.MainCPUs) == 0 {
		hk, err := housekeepingCPUs(cfg.Lcores)
		if err != nil {
			return nil, err
		}
		cfg.MainCPUs = hk
	}
	if cfg.FilePrefix == "" {
		cfg.FilePrefix = fmt.Sprintf("nettune-%d", os.Getpid())
	}
	args, err := dataplane.EALArgs(cfg)
	if err != nil {
		return nil, err
	}
	plans, err := dataplane.Layout(cfg)
	if err != nil {
		return nil, err
	}
	if !ealUsed.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("start forwarder: %w; run each forwarder in its own process", dataplane.ErrEALUsed)
	}
	f := &Forwarder{cfg: cfg, plans: plans, ctl: newControl()}
	f.ctl.do(func() { err = f.start(ctx, args) })
	if err != nil {
		return nil, err
	}
	return f, nil
}

// housekeepingCPUs is the process's allowed CPUs minus the workers.
func housekeepingCPUs(workers []int) ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("read cpu affinity of the process: %w", err)
	}
	w := map[int]bool{}
	for _, c := range workers {
		w[c] = true
	}
	var hk []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) && !w[c] {
			hk = append(hk, c)
		}
	}
	if len(hk) == 0 {
		return nil, fmt.Errorf("%w: no housekeeping cpu left: every allowed cpu is a worker (%v)", dataplane.ErrInvalidConfig, workers)
	}
	return hk, nil
}

// confineThreads sets the CPU affinity of every thread of the process (the
// Go runtime's and the caller's) to cpus, so that only the workers, which
// the EAL pins itself, run on worker CPUs. Threads created later inherit
// the affinity of their creator. It repeats until a pass finds no new
// thread.
func confineThreads(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	done := map[int]bool{}
	for pass := 0; pass < 10; pass++ {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("list threads to confine to housekeeping cpus %v: %w", cpus, err)
		}
		fresh := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			fresh = true
			if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("set cpu affinity of thread %d to housekeeping cpus %v: %w", tid, cpus, err)
			}
			done[tid] = true
		}
		if !fresh {
			return nil
		}
	}
	return nil
}

func dpdkErr(ret C.int) error {
	if ret < 0 {
		ret = -ret
	}
	return fmt.Errorf("%s (errno %d)", C.GoString(C.nt_strerror(ret)), int(ret))
}

// start runs on the control thread.
func (f *Forwarder) start(ctx context.Context, args []string) (err error) {
	argv := make([]*C.char, 0, len(args)+2)
	argv = append(argv, C.CString("nettune"))
	for _, a := range args {
		argv = append(argv, C.CString(a)) // kept: the EAL may keep pointers into argv
	}
	argv = append(argv, nil)
	cargv := (**C.char)(C.malloc(C.size_t(len(argv)) * C.size_t(unsafe.Sizeof(argv[0]))))
	copy(unsafe.Slice(cargv, len(argv)), argv)
	if os.Geteuid() == 0 {
		sweepRuntimeDirs("/var/run/dpdk", processAlive)
	}
	if err := confineThreads(f.cfg.MainCPUs); err != nil {
		return err
	}
	if C.nt_eal_init(C.int(len(argv)-1), cargv) < 0 {
		return fmt.Errorf("initialise dpdk eal with %q: %w", args, dpdkErr(C.nt_errno()))
	}
	f.runtimeDir = C.GoString(C.nt_runtime_dir())
	defer func() {
		if err != nil {
			f.teardown()
		}
	}()
	if n := int(C.nt_lcore_count()); n != len(f.cfg.Lcores)+1 {
		return fmt.Errorf("dpdk eal has %d lcores, want %d (main + %d workers)", n, len(f.cfg.Lcores)+1, len(f.cfg.Lcores))
	}

	cfg := &f.cfg
	queues := dataplane.QueueCounts(f.plans, len(cfg.Ports))
	infos := make([]C.struct_nt_port_info, len(cfg.Ports))
	f.dpdkPorts = make([]uint16, len(cfg.Ports))
	f.configured = 0
	for i, p := range cfg.Ports {
		name := C.CString(p.DeviceName())
		var id C.uint16_t
		ret := C.nt_port_by_name(name, &id)
		C.free(unsafe.Pointer(name))
		if ret != 0 {
			return fmt.Errorf("find dpdk port %s (device %q): not probed by the eal; check the vdev arguments or the device's driver binding", p.Label(), p.DeviceName())
		}
		f.dpdkPorts[i] = uint16(id)
		if ret := C.nt_port_info(id, &infos[i]); ret != 0 {
			return fmt.Errorf("get device info of port %s: %w", p.Label(), dpdkErr(ret))
		}
		if s := int(infos[i].socket); s >= 0 {
			cfg.Ports[i].Socket = s
		}
		if queues[i] > int(infos[i].max_rxq) || queues[i] > int(infos[i].max_txq) {
			return fmt.Errorf("port %s (driver %s) has at most %d rx and %d tx queues, %d needed: use fewer workers",
				p.Label(), C.GoString(&infos[i].driver[0]), infos[i].max_rxq, infos[i].max_txq, queues[i])
		}
	}
	// Unknown sockets: take the node of the first worker serving the port.
	for _, pl := range f.plans {
		for _, s := range pl.Streams {
			if cfg.Ports[s.RxPort].Socket < 0 {
				cfg.Ports[s.RxPort].Socket = int(C.nt_lcore_socket(C.uint(pl.Lcore)))
			}
		}
	}

	// One pool per socket.
	poolOf := map[int]*C.struct_rte_mempool{}
	for _, p := range cfg.Ports {
		if poolOf[p.Socket] != nil {
			continue
		}
		n := dataplane.PoolSize(*cfg, p.Socket)
		name := C.CString(fmt.Sprintf("nettune_mbuf_%d", p.Socket))
		mp := C.nt_pool_create(name, C.uint(n), dataplane.MbufCacheSize, C.int(p.Socket), C.uint16_t(cfg.MbufDataSize))
		C.free(unsafe.Pointer(name))
		if mp == nil {
			return fmt.Errorf("create mbuf pool of %d mbufs on socket %d: %w; give the eal more memory", n, p.Socket, dpdkErr(C.nt_errno()))
		}
		poolOf[p.Socket] = mp
		f.pools = append(f.pools, mp)
	}

	f.ports = make([]dataplane.PortStats, len(cfg.Ports))
	for i, p := range cfg.Ports {
		scatter, err := frameFits(p.Label(), cfg.MTU, cfg.MbufDataSize, &infos[i])
		if err != nil {
			return err
		}
		nrx, ntx := C.uint16_t(cfg.RxDesc), C.uint16_t(cfg.TxDesc)
		var stage *C.char
		id := C.uint16_t(f.dpdkPorts[i])
		f.configured = i + 1
		sc := C.int(0)
		if scatter {
			sc = 1
		}
		ret := C.nt_port_setup(id, C.uint16_t(queues[i]), &nrx, &ntx, C.int(p.Socket), poolOf[p.Socket], 1, infos[i].rss, C.uint16_t(cfg.MTU), sc, &stage)
		if ret != 0 {
			return fmt.Errorf("port %s: %s with %d queues, %d rx and %d tx descriptors, mtu %d, mbuf data size %d: %w",
				p.Label(), C.GoString(stage), queues[i], cfg.RxDesc, cfg.TxDesc, cfg.MTU, cfg.MbufDataSize, dpdkErr(ret))
		}
		var mtu C.uint16_t
		C.nt_port_mtu(id, &mtu)
		if ret := C.nt_promisc(id); ret != 0 {
			f.warnings = append(f.warnings, fmt.Sprintf("port %s: enable promiscuous mode: %v", p.Label(), dpdkErr(ret)))
		}
		mac := make(net.HardwareAddr, 6)
		C.nt_mac(id, (*C.uint8_t)(unsafe.Pointer(&mac[0])))
		f.ports[i] = dataplane.PortStats{
			Name: p.Label(), DPDKPort: int(id), MAC: mac, Socket: p.Socket,
			Queues: queues[i], RxDesc: int(nrx), TxDesc: int(ntx), MTU: int(mtu), Scatter: scatter,
		}
	}
	f.waitLinks(ctx)
	f.xnames = make([][]string, len(cfg.Ports))
	for i := range cfg.Ports {
		f.xnames[i] = xstatNames(C.uint16_t(f.dpdkPorts[i]))
	}

	for _, pl := range f.plans {
		mode := C.int(C.NT_MODE_IO)
		if cfg.Mode == dataplane.ModeMAC {
			mode = C.NT_MODE_MAC
		}
		txFirst := C.int(0)
		if cfg.TxFirst {
			txFirst = 1
		}
		w := C.nt_worker_new(C.uint(pl.Lcore), mode, C.uint16_t(cfg.Burst), txFirst, C.int(cfg.RTPriority))
		if w == nil {
			return fmt.Errorf("allocate worker state for lcore %d: out of memory", pl.Lcore)
		}
		f.workers = append(f.workers, w)
		for _, s := range pl.Streams {
			var hdr [12]byte
			copy(hdr[:6], cfg.PeerMAC(s.TxPort))
			copy(hdr[6:], f.ports[s.TxPort].MAC)
			ret := C.nt_worker_add(w, C.uint16_t(f.dpdkPorts[s.RxPort]), C.uint16_t(s.RxQueue),
				C.uint16_t(f.dpdkPorts[s.TxPort]), C.uint16_t(s.TxQueue),
				(*C.uint8_t)(unsafe.Pointer(&hdr[0])), poolOf[cfg.Ports[s.RxPort].Socket])
			if ret != 0 {
				return fmt.Errorf("add stream to worker on lcore %d: %w", pl.Lcore, dpdkErr(ret))
			}
		}
	}
	C.nt_set_stop(0)
	f.started = time.Now()
	for i, w := range f.workers {
		if ret := C.nt_worker_launch(w); ret != 0 {
			C.nt_set_stop(1)
			C.nt_wait_workers()
			return fmt.Errorf("launch worker on lcore %d (cpu %d): %w", f.plans[i].Lcore, f.plans[i].CPU, dpdkErr(ret))
		}
	}
	if err := f.checkSched(); err != nil {
		C.nt_set_stop(1)
		C.nt_wait_workers()
		return err
	}
	return nil
}

// checkSched waits until every worker has set its scheduling policy
// (SCHED_FIFO with RTPriority) and returns the first failure.
func (f *Forwarder) checkSched() error {
	deadline := time.Now().Add(5 * time.Second)
	for i, w := range f.workers {
		var ret C.int
		for C.nt_worker_sched(w, &ret) == 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("worker on lcore %d (cpu %d) did not start in 5s", f.plans[i].Lcore, f.plans[i].CPU)
			}
			time.Sleep(time.Millisecond)
		}
		if ret != 0 {
			return fmt.Errorf("run worker on lcore %d (cpu %d) SCHED_FIFO at priority %d: %w", f.plans[i].Lcore, f.plans[i].CPU, f.cfg.RTPriority, syscall.Errno(ret))
		}
	}
	return nil
}

// frameFits checks the MTU against the device's range and tells whether
// its frames need rx scatter: longer than an mbuf's data room minus the
// headroom. A device that cannot scatter is an error naming the mbuf data
// size that would do.
func frameFits(label string, mtu, dataRoom int, info *C.struct_nt_port_info) (scatter bool, err error) {
	driver := C.GoString(&info.driver[0])
	if mtu != 0 && (mtu < int(info.min_mtu) || mtu > int(info.max_mtu)) {
		return false, fmt.Errorf("port %s (driver %s): mtu %d is outside the device's range %d-%d", label, driver, mtu, info.min_mtu, info.max_mtu)
	}
	if mtu == 0 {
		mtu = 1500 // RTE_ETHER_MTU, the devices' default
	}
	// The frame: the MTU plus what the device counts around it.
	overhead := 18 // Ethernet header and CRC
	if info.max_rx_pktlen > C.uint32_t(info.max_mtu) && info.max_mtu != 0 && int(info.max_rx_pktlen)-int(info.max_mtu) < 64 {
		overhead = int(info.max_rx_pktlen) - int(info.max_mtu)
	}
	frame := mtu + overhead
	if frame <= dataRoom-dataplane.MbufHeadroom {
		return false, nil
	}
	if info.scatter == 0 {
		return false, fmt.Errorf("port %s (driver %s): frames of mtu %d (%d bytes) do not fit an mbuf data room of %d bytes (%d after the headroom) and the device cannot scatter them over several mbufs; set spec.dataplane.mbufDataSize to at least %d",
			label, driver, mtu, frame, dataRoom, dataRoom-dataplane.MbufHeadroom, frame+dataplane.MbufHeadroom)
	}
	return true, nil
}

// waitLinks polls the links until all are up, the timeout or ctx ends.
func (f *Forwarder) waitLinks(ctx context.Context) {
	var deadline time.Time
	if f.cfg.LinkTimeout > 0 {
		deadline = time.Now().Add(f.cfg.LinkTimeout)
	}
	for {
		all := true
		for i := range f.ports {
			var up C.int
			var speed C.uint32_t
			if C.nt_link(C.uint16_t(f.dpdkPorts[i]), &up, &speed) == 0 {
				f.ports[i].LinkUp, f.ports[i].SpeedMbps = up != 0, uint32(speed)
			}
			all = all && f.ports[i].LinkUp
		}
		if all || deadline.IsZero() || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, p := range f.ports {
		if !p.LinkUp {
			f.warnings = append(f.warnings, fmt.Sprintf("port %s: link down after %v", p.Name, f.cfg.LinkTimeout))
		}
	}
}

// teardown closes ports, frees memory and cleans up the EAL; it runs on
// the control thread after the workers have returned.
func (f *Forwarder) teardown() error {
	for _, id := range f.dpdkPorts[:f.configured] {
		C.nt_port_close(C.uint16_t(id))
	}
	for _, w := range f.workers {
		C.nt_worker_free(w)
	}
	f.workers = nil
	for _, mp := range f.pools {
		C.nt_pool_free(mp)
	}
	f.pools = nil
	var err error
	if ret := C.nt_eal_cleanup(); ret != 0 {
		err = fmt.Errorf("clean up dpdk eal: %w", dpdkErr(ret))
	}
	if f.runtimeDir != "" {
		err = errors.Join(err, removeRuntimeDir(f.runtimeDir))
	}
	return err
}

// Warnings are the problems found at start that did not stop it (a port
// refusing promiscuous mode, a link still down).
func (f *Forwarder) Warnings() []string { return append([]string(nil), f.warnings...) }

// EALArgs returns the EAL arguments the forwarder was started with.
func (f *Forwarder) EALArgs() []string {
	a, _ := dataplane.EALArgs(f.cfg)
	return a
}

// readWorkers reads the workers' counters; any goroutine may call it while
// the workers exist.
func (f *Forwarder) readWorkers() []dataplane.WorkerStats {
	out := make([]dataplane.WorkerStats, len(f.workers))
	var ctr [C.NT_MAX_STREAMS]C.struct_nt_ctr
	for i, w := range f.workers {
		C.nt_worker_read(w, &ctr[0])
		pl := f.plans[i]
		ws := dataplane.WorkerStats{Lcore: pl.Lcore, CPU: pl.CPU, Streams: make([]dataplane.StreamStats, len(pl.Streams))}
		for j, s := range pl.Streams {
			ws.Streams[j] = dataplane.StreamStats{
				RxPort: s.RxPort, TxPort: s.TxPort,
				Rx: uint64(ctr[j].rx), Tx: uint64(ctr[j].tx),
				Dropped: uint64(ctr[j].dropped), Generated: uint64(ctr[j].generated),
			}
		}
		out[i] = ws
	}
	return out
}

// readPorts reads the device counters; it runs on the control thread.
func (f *Forwarder) readPorts() []dataplane.PortStats {
	ports := make([]dataplane.PortStats, len(f.ports))
	copy(ports, f.ports)
	var c [8]C.uint64_t
	for i := range ports {
		if C.nt_port_stats(C.uint16_t(f.dpdkPorts[i]), &c[0]) == 0 {
			ports[i].Device = dataplane.DeviceCounters{
				RxPackets: uint64(c[0]), TxPackets: uint64(c[1]),
				RxBytes: uint64(c[2]), TxBytes: uint64(c[3]),
				RxMissed: uint64(c[4]), RxErrors: uint64(c[5]),
				TxErrors: uint64(c[6]), RxNoMbuf: uint64(c[7]),
			}
		}
		if i < len(f.xnames) {
			ports[i].Xstats = xstatValues(C.uint16_t(f.dpdkPorts[i]), f.xnames[i])
		}
	}
	return ports
}

// xstatNames lists a port's extended statistics.
func xstatNames(port C.uint16_t) []string {
	n := int(C.nt_xstats_count(port))
	if n <= 0 {
		return nil
	}
	buf := make([]byte, n*C.NT_XSTAT_NAME_SIZE)
	got := int(C.nt_xstats_names(port, (*C.char)(unsafe.Pointer(&buf[0])), C.int(n)))
	if got <= 0 || got > n {
		return nil
	}
	names := make([]string, got)
	for i := range names {
		b := buf[i*C.NT_XSTAT_NAME_SIZE : (i+1)*C.NT_XSTAT_NAME_SIZE]
		if j := bytes.IndexByte(b, 0); j >= 0 {
			b = b[:j]
		}
		names[i] = string(b)
	}
	return names
}

// xstatValues reads a port's extended statistics and keeps those that are
// not zero.
func xstatValues(port C.uint16_t, names []string) map[string]uint64 {
	if len(names) == 0 {
		return nil
	}
	vals := make([]C.uint64_t, len(names))
	if C.nt_xstats_values(port, &vals[0], C.int(len(names))) <= 0 {
		return nil
	}
	m := map[string]uint64{}
	for i, v := range vals {
		if v != 0 {
			m[names[i]] = uint64(v)
		}
	}
	return m
}

// Stats returns the current counters: the workers' by lock-free reads, the
// devices' from rte_eth_stats_get on the control thread. After Stop it
// returns the final counters.
func (f *Forwarder) Stats() dataplane.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return f.final
	}
	var s dataplane.Stats
	f.ctl.do(func() { s.Ports = f.readPorts() })
	s.Workers = f.readWorkers()
	s.Elapsed = time.Since(f.started)
	s.SumPorts()
	return s
}

// Stop stops the workers, reads the final counters, stops and closes the
// ports and cleans up the EAL. A second Stop returns the same Stats and
// ErrStopped.
func (f *Forwarder) Stop() (dataplane.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return f.final, dataplane.ErrStopped
	}
	C.nt_set_stop(1)
	elapsed := time.Since(f.started)
	var s dataplane.Stats
	var err error
	f.ctl.do(func() {
		C.nt_wait_workers()
		s.Workers = f.readWorkers()
		s.Ports = f.readPorts()
		err = f.teardown()
	})
	s.Elapsed = elapsed
	s.SumPorts()
	f.stopped, f.final = true, s
	return s, err
}
