package exporter

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"

	"github.com/nettune/nettune/pkg/host"
	"github.com/prometheus/client_golang/prometheus"
)

var descFwd = prometheus.NewDesc("nettune_forwarder_packets_total",
	"Packets of the running nettune forwarder by port and direction (rx, tx, dropped).", []string{"port", "direction"}, nil)

// ForwarderStatsFile is where `nettune run` publishes its counters (host
// path), for the exporter to pick up.
const ForwarderStatsFile = "/run/nettune/forwarder.json"

// ForwarderStats is the content of ForwarderStatsFile.
type ForwarderStats struct {
	Ports []ForwarderPort `json:"ports"`
}

// ForwarderPort is one port's counters.
type ForwarderPort struct {
	Name    string `json:"name"`
	RX      uint64 `json:"rx"`
	TX      uint64 `json:"tx"`
	Dropped uint64 `json:"dropped"`
}

// ForwarderCollector serves a running forwarder's counters (nettune run
// --metrics-listen).
type ForwarderCollector struct {
	Read func() ForwarderStats
}

// Describe implements prometheus.Collector.
func (c ForwarderCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descFwd }

// Collect implements prometheus.Collector.
func (c ForwarderCollector) Collect(ch chan<- prometheus.Metric) { emitForwarder(c.Read(), ch) }

func emitForwarder(st ForwarderStats, ch chan<- prometheus.Metric) {
	for _, p := range st.Ports {
		ch <- prometheus.MustNewConstMetric(descFwd, prometheus.CounterValue, float64(p.RX), p.Name, "rx")
		ch <- prometheus.MustNewConstMetric(descFwd, prometheus.CounterValue, float64(p.TX), p.Name, "tx")
		ch <- prometheus.MustNewConstMetric(descFwd, prometheus.CounterValue, float64(p.Dropped), p.Name, "dropped")
	}
}

// collectForwarder exports the counters a running nettune run publishes;
// false when the file is there but cannot be read (no forwarder running
// is not a failure).
func (c *Collector) collectForwarder(r *host.Root, ch chan<- prometheus.Metric) bool {
	b, err := os.ReadFile(r.Path(ForwarderStatsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	var st ForwarderStats
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		c.Log.Warn("unreadable forwarder statistics", "file", ForwarderStatsFile, "err", err)
		return false
	}
	emitForwarder(st, ch)
	return true
}
