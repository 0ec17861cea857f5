package exporter

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	dto "github.com/prometheus/client_model/go"
)

// labelNames returns the label names of one family's series, failing when
// two series differ. A label with an empty value counts as absent, as in
// Prometheus.
func labelNames(t *testing.T, fam *dto.MetricFamily) string {
	t.Helper()
	names := ""
	for i, m := range fam.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			if l.GetValue() != "" {
				ls = append(ls, l.GetName())
			}
		}
		sort.Strings(ls)
		got := strings.Join(ls, ",")
		if i > 0 && got != names {
			t.Errorf("%s: series with labels {%s} and {%s}", fam.GetName(), names, got)
		}
		names = got
	}
	return names
}

// TestStableLabels: every family has the same label names whether the
// host is clean or drifted and has findings (a series whose label set
// changes is a new series to Prometheus, and breaks joins and alerts).
func TestStableLabels(t *testing.T) {
	clean := testCollector(t)
	fixture.Overwrite(t, filepath.Join(clean.Engine.Env.Root.Prefix, "sys/kernel/mm/transparent_hugepage/enabled"), []byte("always [madvise] never\n"))
	cleanFams := scrape(t, clean)
	driftFams := scrape(t, testCollector(t))

	if v, ok := value(cleanFams["nettune_diagnostic_finding"], map[string]string{"rule": "NT503"}); !ok || v != 0 {
		t.Fatalf("the clean host has finding NT503 (%v, %v)", v, ok)
	}
	if v, ok := value(driftFams["nettune_diagnostic_finding"], map[string]string{"rule": "NT503", "severity": "warning"}); !ok || v != 1 {
		t.Fatalf("the drifted host has no warning NT503 (%v, %v)", v, ok)
	}
	for name, fam := range driftFams {
		cf, ok := cleanFams[name]
		if !ok {
			t.Errorf("%s only in the drifted scrape", name)
			continue
		}
		if c, d := labelNames(t, cf), labelNames(t, fam); c != d {
			t.Errorf("%s: labels {%s} on the clean host, {%s} on the drifted one", name, c, d)
		}
	}
	for name := range cleanFams {
		if _, ok := driftFams[name]; !ok {
			t.Errorf("%s only in the clean scrape", name)
		}
	}
	severities := []string{"error", "warning", "info"}
	for _, fams := range []map[string]*dto.MetricFamily{cleanFams, driftFams} {
		for _, m := range fams["nettune_diagnostic_finding"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "severity" && !slices.Contains(severities, l.GetValue()) {
					t.Errorf("nettune_diagnostic_finding with severity %q, not one of %v", l.GetValue(), severities)
				}
			}
		}
	}
}
