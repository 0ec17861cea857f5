// Package dataplane describes nettune's bundled DPDK layer-2 forwarder:
// its configuration, EAL arguments, worker layout, pool sizes, host checks,
// counters, and how nettune run finds and talks to the forwarder program.
// It is pure Go; the forwarder itself, the only cgo in nettune, is package
// [github.com/nettune/nettune/pkg/dataplane/forwarder], linked only into
// the nettune-forwarder program (cmd/nettune-forwarder), so nettune links
// no DPDK library.
//
// All forwarding happens in C on DPDK worker lcores launched with
// rte_eal_remote_launch; Go only controls. Each worker owns queue q of every
// port it serves (no locks), receives bursts, optionally rewrites the
// Ethernet addresses, sends the burst to the paired port and bulk-frees what
// the driver did not take, counting it as dropped.
//
// # API
//
//   - [Config] and [Port] describe ports (PCI devices or vdevs such as
//     "net_null0" or "net_af_packet0,iface=veth0"), the port pairs to
//     forward between (both directions), the mode ("io" or "mac"), the
//     worker CPUs and the housekeeping CPUs.
//   - [EALArgs], [PoolSize] and [Layout] are pure functions of a Config:
//     the EAL command line, the mbuf pool size for one NUMA socket and
//     which worker serves which (port, queue).
//   - forwarder.Start initialises the EAL, sets up the ports and launches the
//     workers; Forwarder.Stats reads the counters cheaply (about once a
//     second is the intended use) and Forwarder.Stop stops the workers,
//     closes the ports and cleans up the EAL, returning the final [Stats].
//   - [Rates] turns two Stats snapshots into per-port packet rates;
//     [Stats.Forwarded], [Stats.Dropped] and [Stats.Mpps] summarise a run.
//   - [FindForwarder] finds the nettune-forwarder program and [Message]
//     is one line of its output (see process.go).
//
// # Threads
//
// rte_eal_init runs on a goroutine locked to its OS thread for the life of
// the process, and every later DPDK control call runs on that same thread.
// The EAL is given "--lcores" with the main lcore mapped to the
// housekeeping CPU set (for example "0@(0-1),1@2,2@3"), so the Go runtime
// and the EAL's control threads float on housekeeping CPUs and only the
// workers are pinned. Before rte_eal_init, Start sets the CPU affinity of
// every existing thread of the process to the housekeeping CPUs (threads
// created later inherit it); it is not restored by Stop. The package
// installs no signal handlers: the caller handles SIGINT/SIGTERM and calls
// Stop.
//
// # Counters
//
// Each worker has a cache-line-aligned block of counters per stream (rx,
// tx, dropped, generated), written once per burst by the worker alone and
// read by Stats with relaxed atomic loads, no locks. Stats also reads the
// devices' counters (rte_eth_stats_get) on the EAL thread. DPDK telemetry
// stays enabled.
//
// # Once per process
//
// DPDK cannot initialise its EAL twice in one process, even after
// rte_eal_cleanup. Start may therefore succeed at most once per process; a
// second call returns an error wrapping [ErrEALUsed]. Run each forwarder
// (and each test scenario) in its own process.
//
// # Files left behind
//
// With hugepages the EAL runs with "--in-memory", so no hugepage files exist
// even after kill -9. With Config.NoHuge it runs with "--no-shconf". Either
// way each instance gets its own "--file-prefix" (nettune-<pid> unless set),
// so two instances can run side by side; Stop removes the (then empty)
// runtime directory /var/run/dpdk/<prefix>.
//
// # Building
//
// Package forwarder links dynamically against DPDK (pkg-config libdpdk,
// tested with Debian's DPDK 22.11). Without cgo, or with the build tag
// "nodpdk", it still compiles and Start returns an error wrapping
// [ErrNoDPDK] that says how to get a build with the forwarder. This package
// needs neither.
package dataplane
