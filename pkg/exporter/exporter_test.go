package exporter

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/sysctl"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T, c *Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the text format parser rejects the output: %v", err)
	}
	return fams
}

func value(fam *dto.MetricFamily, labels map[string]string) (float64, bool) {
	for _, m := range fam.GetMetric() {
		match := true
		for k, v := range labels {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if match {
			if m.Counter != nil {
				return m.Counter.GetValue(), true
			}
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// testProfile has one setting that is ok on the quiet fixture and one that
// drifts.
const testProfile = "apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: p}\nspec:\n  sysctl:\n    net.core.netdev_max_backlog: 1000\n    net.core.netdev_budget: 600\n"

// testCollector is a collector over the quiet fixture with transparent
// hugepages set to always (finding NT503), a forwarder's statistics file
// and testProfile.
func testCollector(t *testing.T) *Collector {
	t.Helper()
	return testCollectorFor(t, writeProfile(t, testProfile), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// writeProfile writes a profile file in a temporary directory.
func writeProfile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testCollectorFor is testCollector with the profile file at path.
func testCollectorFor(t *testing.T, path string, log *slog.Logger) *Collector {
	t.Helper()
	root := fixture.Unpack(t, "../diagnose/testdata/quiet.txtar")
	fixture.Overwrite(t, filepath.Join(root, "sys/kernel/mm/transparent_hugepage/enabled"), []byte("[always] madvise never\n"))
	// Two forwarder instances: "fwd-a" runs (pid 4242 with the start
	// time its file records), "fwd-b" was killed with SIGKILL (pid 4343
	// is gone) and left its file.
	os.MkdirAll(filepath.Join(root, "run/nettune"), 0o755)
	os.MkdirAll(filepath.Join(root, "proc/4242"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/4242/stat"), []byte("4242 (nettune-forwar) S 1 4242 4242 0 -1 4194560 0 0 0 0 5 3 0 0 20 0 3 0 777 0 0\n"), 0o644)
	os.WriteFile(filepath.Join(root, "run/nettune/forwarder-fwd-a.json"), []byte(`{"prefix":"fwd-a","pid":4242,"startTime":777,"updated":"2026-12-01T12:00:00Z","stats":{"Ports":[{"Name":"p0","Rx":10,"Tx":9,"Dropped":1,"Device":{"RxNoMbuf":3,"RxBytes":640}}]}}`), 0o644)
	os.WriteFile(filepath.Join(root, "run/nettune/forwarder-fwd-b.json"), []byte(`{"prefix":"fwd-b","pid":4343,"startTime":12,"updated":"2026-12-01T11:00:00Z","stats":{"Ports":[{"Name":"p0","Rx":99,"Tx":99}]}}`), 0o644)
	r, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(&module.Env{Root: r, Log: log}, "test", []module.Module{sysctl.Module{}})
	w, err := NewProfileWatcher(path, log)
	if err != nil {
		t.Fatal(err)
	}
	return &Collector{Engine: eng, Profile: w, Log: log}
}

func TestMetrics(t *testing.T) {
	fams := scrape(t, testCollector(t))
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"nettune_profile_items", map[string]string{"module": "sysctl", "status": "ok"}, 1},
		{"nettune_profile_items", map[string]string{"module": "sysctl", "status": "drift"}, 2}, // netdev_budget and the conf file
		{"nettune_profile_in_sync", map[string]string{"profile": "p"}, 0},
		{"nettune_diagnostic_finding", map[string]string{"rule": "NT503", "severity": "warning"}, 1},
		{"nettune_diagnostic_finding", map[string]string{"rule": "NT601"}, 0},
		{"nettune_softnet_processed_packets_total", map[string]string{"cpu": "0"}, 4096},
		{"nettune_nic_statistic_total", map[string]string{"interface": "eth0", "counter": "rx_packets"}, 123456},
		{"nettune_forwarder_packets_total", map[string]string{"forwarder": "fwd-a", "port": "p0", "direction": "dropped"}, 1},
		{"nettune_forwarder_bytes_total", map[string]string{"forwarder": "fwd-a", "port": "p0", "direction": "rx"}, 640},
		{"nettune_forwarder_device_drops_total", map[string]string{"forwarder": "fwd-a", "port": "p0", "reason": "nombuf"}, 3},
		{"nettune_forwarder_up", map[string]string{"forwarder": "fwd-a"}, 1},
		{"nettune_forwarder_up", map[string]string{"forwarder": "fwd-b"}, 0},
		{"nettune_forwarder_last_update_timestamp_seconds", map[string]string{"forwarder": "fwd-a"}, 1796126400},
		{"nettune_scrape_success", nil, 1},
	} {
		fam, ok := fams[tc.name]
		if !ok {
			t.Errorf("no metric %s", tc.name)
			continue
		}
		got, ok := value(fam, tc.labels)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	// The stale instance's counters are not served as live.
	if _, ok := value(fams["nettune_forwarder_packets_total"], map[string]string{"forwarder": "fwd-b"}); ok {
		t.Error("counters of the dead forwarder fwd-b are served")
	}
	for name := range fams {
		if !strings.HasPrefix(name, "nettune_") {
			t.Errorf("metric %s lacks the nettune_ prefix", name)
		}
	}
}

func TestForwarderCollector(t *testing.T) {
	st := ForwarderStats{Instance: "fwd", Stats: dataplane.Stats{Ports: []dataplane.PortStats{{Name: "p0", Rx: 5, Tx: 4, Dropped: 1}, {Name: "p1", Rx: 4, Tx: 5}}}}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(ForwarderCollector{Read: func() ForwarderStats { return st }}); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	if err != nil || len(byName["nettune_forwarder_packets_total"].GetMetric()) != 6 {
		t.Fatalf("gather: %v %v", fams, err)
	}
	if up, ok := value(byName["nettune_forwarder_up"], map[string]string{"forwarder": "fwd"}); !ok || up != 1 {
		t.Errorf("nettune_forwarder_up = %v", up)
	}
	got, ok := value(byName["nettune_forwarder_packets_total"], map[string]string{"forwarder": "fwd", "port": "p0", "direction": "dropped"})
	if !ok || got != 1 {
		t.Errorf("p0 dropped = %v", got)
	}
}
