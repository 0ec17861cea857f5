package cli

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
)

// TestExporterConcurrentScrapes serves what nettune exporter serves, with
// every module and a profile that uses five of them, to concurrent
// scrapes. Run with -race: no module may keep state between calls or write
// the profile it plans, since scrapes share both.
func TestExporterConcurrentScrapes(t *testing.T) {
	dir := t.TempDir()
	for _, a := range []string{"../../pkg/nics/testdata/multi.txtar", "../../testdata/hosts/boot-debian-grub.txtar", "../../testdata/hosts/shipped-extras.txtar"} {
		if err := fixture.UnpackTo(a, dir); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := exporterHandler(engine.New(&module.Env{Root: r, Log: log}, "test", Modules()), log, "kernel-low-latency")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	const clients = 3
	bodies := make([]string, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL + "/metrics")
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			bodies[i] = resp.Status + "\n" + string(b)
		}()
	}
	wg.Wait()
	for i, b := range bodies {
		for _, want := range []string{"200 OK\n", `nettune_profile_items{module="nics",profile="kernel-low-latency",status="drift"}`, "nettune_scrape_success 1"} {
			if !strings.Contains(b, want) {
				t.Errorf("scrape %d lacks %q:\n%s", i, want, b)
			}
		}
	}
	for path, want := range map[string]string{"/healthz": "ok\n", "/": `<a href="metrics">`} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %s %q, want 200 with %q", path, resp.Status, b, want)
		}
	}
}
