package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/exporter"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

func (a *app) runCommand() *cobra.Command {
	var (
		duration      time.Duration
		metricsListen string
		force         bool
		instance      string
		statsPeriod   int
	)
	cmd := &cobra.Command{
		Use: "run PROFILE",
		Example: `  nettune run null-forwarder --duration 10s
  nettune run --metrics-listen 127.0.0.1:9618 dpdk-forwarder
  nettune run -o json --duration 60s ./my-forwarder.yaml`,
		Short: "Run the bundled DPDK forwarder on the cores and devices the profile prepared",
		Long: `Start nettune's DPDK L2 forwarder with everything taken from the profile's
spec.dataplane: ports (PCI devices bound by spec.devices, or vdevs such as
net_null0, net_af_packet0,iface=veth0), pairs, mode, worker CPUs (default:
the profile's isolated CPUs on the ports' NUMA nodes), descriptors and burst.

Before starting it checks the host: PCI ports on a DPDK driver and enough
free hugepages (refuses otherwise; --force runs anyway), worker CPUs
isolated (warns). It prints the EAL arguments, then a line of per-port
rates every second on a terminal. SIGINT, SIGTERM or SIGHUP (or --duration) stops
the workers, closes the ports and cleans up the EAL; the summary follows
(-o json: per-port counters, total forwarded, elapsed seconds, Mpps).

The forwarder is a separate program, nettune-forwarder, the only one that
links DPDK: nettune looks for it next to its own binary, then in
/usr/lib/nettune, then in PATH, runs it and forwards SIGINT, SIGTERM (and SIGHUP, as SIGTERM) to
it; its exit code becomes nettune's. Without it (or without DPDK's
libraries) nettune run says which package to install and exits 1.

With spec.cpu.power.cpuDmaLatency, nettune run holds that PM QoS CPU
latency limit (microseconds) on /dev/cpu_dma_latency from before the
forwarder starts until it has exited.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profile.Load(args[0])
			if err != nil {
				return err
			}
			eng, err := a.engine()
			if err != nil {
				return err
			}
			r := eng.Env.Root
			if !r.Live() {
				return errors.New("nettune run starts DPDK on this machine; it cannot run against --root")
			}
			prog, err := dataplane.FindForwarder(selfPath(), nil)
			if err != nil {
				return err
			}
			topo, err := numa.Read(r)
			if err != nil {
				return err
			}
			cfg, err := dataplane.FromProfile(r, &p.Spec, topo)
			if err != nil {
				return err
			}
			cfg.FilePrefix = instance
			problems, warnings := dataplane.Preflight(r, topo, cfg)
			for _, w := range warnings {
				fmt.Fprintln(a.io.ErrOut, "warning: "+w)
			}
			if len(problems) > 0 {
				for _, pr := range problems {
					fmt.Fprintln(a.io.ErrOut, "problem: "+pr)
				}
				if !force {
					return fmt.Errorf("the host is not ready for the forwarder (%d problem(s) above); fix them or pass --force", len(problems))
				}
			}
			if statsPeriod < 0 {
				return fmt.Errorf("--stats-period %d: want seconds >= 0", statsPeriod)
			}
			return a.runForwarder(cmd.Context(), prog, cfg, duration, metricsListen, time.Duration(statsPeriod)*time.Second, r, dmaLatency(&p.Spec))
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this long (default: until SIGINT/SIGTERM)")
	cmd.Flags().StringVar(&metricsListen, "metrics-listen", "", "serve the forwarder's Prometheus metrics on this address (e.g. 127.0.0.1:9618)")
	cmd.Flags().BoolVar(&force, "force", false, "start even when the host checks find problems")
	cmd.Flags().IntVar(&statsPeriod, "stats-period", 0, "print the counters and rates every SECONDS on stdout (a table, or one JSON object per line with -o json), like testpmd's --stats-period")
	cmd.Flags().StringVar(&instance, "instance", "", "name of this forwarder instance: its EAL --file-prefix, its stats file /run/nettune/forwarder-NAME.json and its metrics label (default nettune-<pid of the forwarder>)")
	return cmd
}

// startedLine is the line printed once the forwarder's ports are up and
// its workers run; scripts wait for its first words, "forwarding started".
func startedLine(m dataplane.Message) string {
	var b strings.Builder
	b.WriteString("forwarding started")
	if m.Instance != "" {
		fmt.Fprintf(&b, ": instance %s", m.Instance)
	}
	if st := m.Stats; st != nil {
		var ports []string
		for _, p := range st.Ports {
			link := "link down"
			if p.LinkUp {
				link = "link up"
			}
			ports = append(ports, fmt.Sprintf("%s %s", p.Name, link))
		}
		var cpus []string
		for _, w := range st.Workers {
			cpus = append(cpus, fmt.Sprint(w.CPU))
		}
		fmt.Fprintf(&b, ", %d port(s) (%s), %d worker(s) on CPU %s", len(st.Ports), strings.Join(ports, ", "), len(st.Workers), strings.Join(cpus, ","))
	}
	return b.String()
}

// periodPort is one port in a periodic statistics line.
type periodPort struct {
	Name     string  `json:"name"`
	Rx       uint64  `json:"rx"`
	Tx       uint64  `json:"tx"`
	Dropped  uint64  `json:"dropped"`
	RxMissed uint64  `json:"rxMissed"`
	RxPPS    float64 `json:"rxPps"`
	TxPPS    float64 `json:"txPps"`
	DropPPS  float64 `json:"dropPps"`
}

// printPeriodStats prints the counters of cur and the rates since prev on
// stdout: a small table, or with -o json one object per line of kind
// "run-stats".
func (a *app) printPeriodStats(prev, cur dataplane.Stats) error {
	if len(prev.Ports) == 0 {
		// No counters yet: rates since the start.
		prev = dataplane.Stats{Ports: make([]dataplane.PortStats, len(cur.Ports))}
	}
	rates := dataplane.Rates(prev, cur)
	ports := make([]periodPort, len(cur.Ports))
	for i, p := range cur.Ports {
		ports[i] = periodPort{Name: p.Name, Rx: p.Rx, Tx: p.Tx, Dropped: p.Dropped, RxMissed: p.Device.RxMissed}
		if i < len(rates) {
			ports[i].RxPPS, ports[i].TxPPS, ports[i].DropPPS = rates[i].RxPPS, rates[i].TxPPS, rates[i].DropPPS
		}
	}
	if a.printer.Format != output.Table {
		return jsonLine(a.io.Out, "run-stats", struct {
			ElapsedSeconds float64      `json:"elapsedSeconds"`
			Ports          []periodPort `json:"ports"`
		}{cur.Elapsed.Seconds(), ports})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %.1fs\n%-16s %14s %14s %12s %10s %10s %10s\n", cur.Elapsed.Seconds(), "PORT", "RX", "TX", "DROPPED", "RX-MPPS", "TX-MPPS", "DROP-MPPS")
	for _, p := range ports {
		fmt.Fprintf(&b, "%-16s %14d %14d %12d %10.3f %10.3f %10.3f\n", p.Name, p.Rx, p.Tx, p.Dropped, p.RxPPS/1e6, p.TxPPS/1e6, p.DropPPS/1e6)
	}
	_, err := io.WriteString(a.io.Out, b.String())
	return err
}

// jsonLine writes body as one compact JSON object of this kind, with
// format_version, like output.Printer's documents.
func jsonLine(w io.Writer, kind string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	doc := map[string]any{}
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	doc["format_version"], doc["kind"] = plan.FormatVersion, kind
	b, err = json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func rateLine(rates []dataplane.PortRate) string {
	var parts []string
	for _, r := range rates {
		parts = append(parts, fmt.Sprintf("%s rx %.2f tx %.2f drop %.2f Mpps", r.Name, r.RxPPS/1e6, r.TxPPS/1e6, r.DropPPS/1e6))
	}
	return strings.Join(parts, " | ")
}

type runPort struct {
	Name     string `json:"name"`
	Rx       uint64 `json:"rx"`
	Tx       uint64 `json:"tx"`
	Dropped  uint64 `json:"dropped"`
	RxMissed uint64 `json:"rxMissed"`
	RxNoMbuf uint64 `json:"rxNoMbuf"`
	RxErrors uint64 `json:"rxErrors"`
	TxErrors uint64 `json:"txErrors"`
	RxBytes  uint64 `json:"rxBytes"`
	TxBytes  uint64 `json:"txBytes"`
	LinkUp   bool   `json:"linkUp"`
	// Xstats are the driver's extended statistics that are not zero.
	Xstats map[string]uint64 `json:"xstats,omitempty"`
}

type runBody struct {
	Ports          []runPort `json:"ports"`
	Forwarded      uint64    `json:"forwarded"`
	Dropped        uint64    `json:"dropped"`
	ElapsedSeconds float64   `json:"elapsedSeconds"`
	Mpps           float64   `json:"mpps"`
	EALArgs        []string  `json:"ealArgs"`
}

// printRunSummary prints the final counters; with jsonLines (-o json
// --stats-period) as one compact line after the periodic ones.
func (a *app) printRunSummary(st dataplane.Stats, eal []string, jsonLines bool) error {
	body := runBody{Forwarded: st.Forwarded(), Dropped: st.Dropped(), ElapsedSeconds: st.Elapsed.Seconds(), Mpps: st.Mpps(), EALArgs: eal, Ports: []runPort{}}
	for _, p := range st.Ports {
		body.Ports = append(body.Ports, runPort{Name: p.Name, Rx: p.Rx, Tx: p.Tx, Dropped: p.Dropped, RxMissed: p.Device.RxMissed,
			RxNoMbuf: p.Device.RxNoMbuf, RxErrors: p.Device.RxErrors, TxErrors: p.Device.TxErrors,
			RxBytes: p.Device.RxBytes, TxBytes: p.Device.TxBytes, LinkUp: p.LinkUp, Xstats: p.Xstats})
	}
	if jsonLines && a.printer.Format == output.JSON {
		return jsonLine(a.io.Out, "run", body)
	}
	return a.printer.Print(output.Document{Kind: "run", Body: body, Table: func(t *output.TableWriter) {
		var rows [][]string
		for _, p := range body.Ports {
			rows = append(rows, []string{p.Name, fmt.Sprint(p.Rx), fmt.Sprint(p.Tx), fmt.Sprint(p.Dropped), fmt.Sprint(p.RxMissed),
				fmt.Sprint(p.RxNoMbuf), fmt.Sprint(p.RxErrors), fmt.Sprint(p.TxErrors), fmt.Sprint(p.RxBytes), fmt.Sprint(p.TxBytes), fmt.Sprint(p.LinkUp)})
		}
		t.Rows([]string{"PORT", "RX", "TX", "DROPPED", "RX-MISSED", "RX-NOMBUF", "RX-ERRORS", "TX-ERRORS", "RX-BYTES", "TX-BYTES", "LINK"}, rows)
		t.Line("")
		for _, p := range body.Ports {
			if len(p.Xstats) == 0 {
				continue
			}
			names := make([]string, 0, len(p.Xstats))
			for n := range p.Xstats {
				names = append(names, n)
			}
			sort.Strings(names)
			var kv []string
			for _, n := range names {
				kv = append(kv, fmt.Sprintf("%s=%d", n, p.Xstats[n]))
			}
			t.Line("%s xstats: %s", p.Name, strings.Join(kv, " "))
		}
		t.Line("Forwarded %d packets in %.1fs: %.2f Mpps (%d dropped).", body.Forwarded, body.ElapsedSeconds, body.Mpps, body.Dropped)
	}})
}

// statsPublisher keeps the latest counters for the metrics endpoint; the
// forwarder itself publishes them in its instance file under
// /run/nettune for 'nettune exporter' (dataplane.ReadInstances).
type statsPublisher struct {
	mu   sync.Mutex
	last exporter.ForwarderStats
}

func (s *statsPublisher) publish(st dataplane.Stats) {
	s.mu.Lock()
	s.last.Stats = st
	s.mu.Unlock()
}

// setInstance names the instance, the label of its series.
func (s *statsPublisher) setInstance(name string) {
	s.mu.Lock()
	s.last.Instance = name
	s.mu.Unlock()
}

func (s *statsPublisher) snapshot() exporter.ForwarderStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// listenMetrics binds addr for the forwarder's metrics; it runs before
// the forwarder starts, so that a bad address fails before the EAL touches
// any device.
func listenMetrics(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// serveForwarderMetrics serves read's counters on ln until the returned
// stop function is called.
func serveForwarderMetrics(ln net.Listener, read func() exporter.ForwarderStats) (func(), error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(exporter.ForwarderCollector{Read: read}); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
