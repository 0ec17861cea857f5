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
	os.MkdirAll(filepath.Join(root, "run/nettune"), 0o755)
	os.WriteFile(filepath.Join(root, "run/nettune/forwarder.json"), []byte(`{"ports":[{"name":"p0","rx":10,"tx":9,"dropped":1}]}`), 0o644)
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
		{"nettune_forwarder_packets_total", map[string]string{"port": "p0", "direction": "dropped"}, 1},
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
	for name := range fams {
		if !strings.HasPrefix(name, "nettune_") {
			t.Errorf("metric %s lacks the nettune_ prefix", name)
		}
	}
}

func TestForwarderCollector(t *testing.T) {
	st := ForwarderStats{Ports: []ForwarderPort{{Name: "p0", RX: 5, TX: 4, Dropped: 1}, {Name: "p1", RX: 4, TX: 5}}}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(ForwarderCollector{Read: func() ForwarderStats { return st }}); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil || len(fams) != 1 || len(fams[0].GetMetric()) != 6 {
		t.Fatalf("gather: %v %v", fams, err)
	}
	got, ok := value(fams[0], map[string]string{"port": "p0", "direction": "dropped"})
	if !ok || got != 1 {
		t.Errorf("p0 dropped = %v", got)
	}
}
