//go:build cgo && !nodpdk && linux

package forwarder

import (
	"context"
	"errors"
	"fmt"
	"github.com/nettune/nettune/pkg/dataplane"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"golang.org/x/sys/unix"
)

// startCPUs is the process's CPU affinity before any test ran: an
// in-process Start confines the process's threads to the housekeeping
// CPUs.
var startCPUs = func() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}()

// needRoot skips tests that start the EAL unless run as root on a
// machine with at least two CPUs; it returns the housekeeping CPUs and the
// worker CPU to use.
func needRoot(t *testing.T) (mainCPUs []int, worker int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root (the DPDK EAL's runtime dir and, for the end-to-end tests, network namespaces)")
	}
	cpus := startCPUs
	if len(cpus) < 2 {
		t.Skipf("skipped: needs 2 cpus (a housekeeping and a worker cpu), have %v", cpus)
	}
	return cpus[:len(cpus)-1], cpus[len(cpus)-1]
}

// TestPrivilegedForwardNull is the only test of this binary that starts the
// EAL in-process (the EAL exists once per process); the others run the
// forwarder in a helper process.
func TestPrivilegedForwardNull(t *testing.T) {
	mainCPUs, worker := needRoot(t)
	fixture.LockHost(t, "dpdk-cpus")
	prefix := fmt.Sprintf("nettune-test-%d", os.Getpid())
	cfg := nullConfig(worker)
	cfg.MainCPUs = mainCPUs
	cfg.NoHuge, cfg.MemoryMB, cfg.FilePrefix = true, 256, prefix
	cfg.Mode = dataplane.ModeMAC
	cfg.TxFirst = true
	f, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Start confined the test process's threads to mainCPUs; give later
	// tests (and the processes they start) all CPUs back.
	t.Cleanup(func() {
		if err := confineThreads(startCPUs); err != nil {
			t.Errorf("restore cpu affinity: %v", err)
		}
	})
	if _, err := os.Stat(filepath.Join("/var/run/dpdk", prefix)); err != nil {
		t.Errorf("runtime dir while running: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	s1 := f.Stats()
	time.Sleep(500 * time.Millisecond)
	s2 := f.Stats()
	if s1.Forwarded() == 0 || s2.Forwarded() <= s1.Forwarded() || s2.Elapsed <= s1.Elapsed {
		t.Errorf("not forwarding: %d then %d packets after %v, %v", s1.Forwarded(), s2.Forwarded(), s1.Elapsed, s2.Elapsed)
	}
	for i, p := range s2.Ports {
		if p.Rx < s1.Ports[i].Rx || p.Tx < s1.Ports[i].Tx || p.Device.RxPackets < s1.Ports[i].Device.RxPackets {
			t.Errorf("port %s counters went backwards: %+v then %+v", p.Name, s1.Ports[i], p)
		}
		if p.Queues != 1 || len(p.MAC) != 6 || p.Name != cfg.Ports[i].Vdev {
			t.Errorf("port %d: %+v", i, p)
		}
	}
	if r := dataplane.Rates(s1, s2); len(r) != 2 || r[0].RxPPS <= 0 {
		t.Errorf("Rates = %+v", r)
	}

	final, err := f.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("forwarded %d packets in %v: %.2f Mpps", final.Forwarded(), final.Elapsed, final.Mpps())
	if final.Forwarded() < s2.Forwarded() || final.Elapsed < s2.Elapsed {
		t.Errorf("final stats behind running ones: %d < %d", final.Forwarded(), s2.Forwarded())
	}
	if len(final.Workers) != 1 || final.Workers[0].CPU != worker || len(final.Workers[0].Streams) != 2 {
		t.Errorf("workers: %+v", final.Workers)
	}
	for _, w := range final.Workers {
		for _, st := range w.Streams {
			if st.Rx != st.Tx+st.Dropped {
				t.Errorf("stream %d->%d: rx %d != tx %d + dropped %d", st.RxPort, st.TxPort, st.Rx, st.Tx, st.Dropped)
			}
			if st.Generated != uint64(dataplane.DefaultBurst) {
				t.Errorf("stream %d->%d: generated %d, want one burst", st.RxPort, st.TxPort, st.Generated)
			}
		}
	}
	for _, p := range final.Ports {
		// net_null counts every packet it hands out and takes back.
		if p.Device.RxPackets != p.Rx || p.Device.TxPackets != p.Tx+p.Generated {
			t.Errorf("port %s: workers rx %d tx %d+%d, device rx %d tx %d", p.Name, p.Rx, p.Tx, p.Generated, p.Device.RxPackets, p.Device.TxPackets)
		}
		// Extended statistics: ethdev's generic ones and the per-queue
		// ones (net_null counts no bytes: TestPrivilegedAFPacketNamespaces
		// checks them).
		if p.Xstats["rx_good_packets"] != p.Device.RxPackets || p.Xstats["rx_q0_packets"] != p.Device.RxPackets || p.Xstats["tx_q0_packets"] != p.Device.TxPackets {
			t.Errorf("port %s: xstats %v, device counters %+v", p.Name, p.Xstats, p.Device)
		}
	}
	t.Logf("xstats of %s: %v", final.Ports[0].Name, final.Ports[0].Xstats)
	if again := f.Stats(); again.Forwarded() != final.Forwarded() {
		t.Errorf("Stats after Stop = %d packets, want the final %d", again.Forwarded(), final.Forwarded())
	}
	if _, err := f.Stop(); !errors.Is(err, dataplane.ErrStopped) {
		t.Errorf("second Stop: %v, want dataplane.ErrStopped", err)
	}
	if _, err := os.Stat(filepath.Join("/var/run/dpdk", prefix)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("runtime dir after Stop: %v, want it removed", err)
	}
	if _, err := Start(context.Background(), cfg); !errors.Is(err, dataplane.ErrEALUsed) {
		t.Errorf("second Start: %v, want dataplane.ErrEALUsed", err)
	}
}

func nullConfig(workers ...int) dataplane.Config {
	return dataplane.Config{
		Ports:    []dataplane.Port{{Vdev: "net_null0", Socket: -1}, {Vdev: "net_null1", Socket: -1}},
		Pairs:    [][2]int{{0, 1}},
		Lcores:   workers,
		MainCPUs: []int{0},
	}
}
