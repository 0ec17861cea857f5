package exporter

import (
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/host"
	"github.com/prometheus/client_golang/prometheus"
)

// The forwarder's series carry the label "forwarder" (the instance's EAL
// file prefix): "instance" is the label Prometheus gives every target.
var (
	fwdLabels  = []string{"forwarder", "port", "direction"}
	descFwd    = prometheus.NewDesc("nettune_forwarder_packets_total", "Packets of a running nettune forwarder by port and direction (rx, tx, dropped).", fwdLabels, nil)
	descFwdB   = prometheus.NewDesc("nettune_forwarder_bytes_total", "Bytes the port's device counted, by direction (rx, tx); 0 for PMDs that count no bytes (net_null).", fwdLabels, nil)
	descFwdErr = prometheus.NewDesc("nettune_forwarder_device_drops_total", "Frames the port's device dropped or failed, by reason: missed (rx queue full), nombuf (no mbuf), rx_errors, tx_errors.",
		[]string{"forwarder", "port", "reason"}, nil)
	descFwdX = prometheus.NewDesc("nettune_forwarder_xstat", "The driver's extended statistics (rte_eth_xstats) that are not zero, by name; per queue where the PMD has them.",
		[]string{"forwarder", "port", "name"}, nil)
	descFwdUp = prometheus.NewDesc("nettune_forwarder_up", "1 while the forwarder that published the stats file runs, 0 for a stale file (its process is gone or its pid was reused); a stale file's counters are not served.",
		[]string{"forwarder"}, nil)
	descFwdUpdated = prometheus.NewDesc("nettune_forwarder_last_update_timestamp_seconds", "When a running forwarder last published its counters (about once a second).",
		[]string{"forwarder"}, nil)
)

// ForwarderStats is one forwarder instance's counters as the metrics show
// them.
type ForwarderStats struct {
	Instance string
	Stats    dataplane.Stats
}

// ForwarderCollector serves a running forwarder's counters (nettune run
// --metrics-listen).
type ForwarderCollector struct {
	Read func() ForwarderStats
}

// Describe implements prometheus.Collector.
func (c ForwarderCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFwd, descFwdB, descFwdErr, descFwdX, descFwdUp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c ForwarderCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.Read()
	ch <- prometheus.MustNewConstMetric(descFwdUp, prometheus.GaugeValue, 1, st.Instance)
	emitForwarder(st, ch)
}

func emitForwarder(st ForwarderStats, ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{st.Instance}, labels...)...)
	}
	for _, p := range st.Stats.Ports {
		counter(descFwd, p.Rx, p.Name, "rx")
		counter(descFwd, p.Tx, p.Name, "tx")
		counter(descFwd, p.Dropped, p.Name, "dropped")
		counter(descFwdB, p.Device.RxBytes, p.Name, "rx")
		counter(descFwdB, p.Device.TxBytes, p.Name, "tx")
		counter(descFwdErr, p.Device.RxMissed, p.Name, "missed")
		counter(descFwdErr, p.Device.RxNoMbuf, p.Name, "nombuf")
		counter(descFwdErr, p.Device.RxErrors, p.Name, "rx_errors")
		counter(descFwdErr, p.Device.TxErrors, p.Name, "tx_errors")
		for name, v := range p.Xstats {
			ch <- prometheus.MustNewConstMetric(descFwdX, prometheus.GaugeValue, float64(v), st.Instance, p.Name, name)
		}
	}
}

// collectForwarder exports the counters every forwarder instance
// publishes under /run/nettune (dataplane.ReadInstances): up 1 and its
// counters for a running one, up 0 and nothing else for a stale file (a
// forwarder killed with SIGKILL leaves its file; serving its counters as
// live would lie). False when a stats file cannot be read.
func (c *Collector) collectForwarder(r *host.Root, ch chan<- prometheus.Metric) bool {
	ok := true
	for _, in := range dataplane.ReadInstancesProc(r.Path(dataplane.RunDir), r.Proc()) {
		up := 0.0
		if in.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descFwdUp, prometheus.GaugeValue, up, in.Prefix)
		if !in.Up {
			if in.PID == 0 {
				c.Log.Warn("unreadable forwarder statistics", "file", in.Path, "why", in.Stale)
				ok = false
			} else {
				c.Log.Debug("stale forwarder statistics", "file", in.Path, "why", in.Stale)
			}
			continue
		}
		ch <- prometheus.MustNewConstMetric(descFwdUpdated, prometheus.GaugeValue, float64(in.Updated.UnixNano())/1e9, in.Prefix)
		emitForwarder(ForwarderStats{Instance: in.Prefix, Stats: in.Stats}, ch)
	}
	return ok
}
