package exporter

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestConcurrentScrapes scrapes one collector from several HTTP clients at
// once, as several Prometheus servers (or a retry after a timeout) do,
// while the profile file is being edited. Run with -race: a scrape must not
// write state another scrape reads (the engine's Env, the profile), and
// every scrape checks one whole profile.
func TestConcurrentScrapes(t *testing.T) {
	path := writeProfile(t, testProfile)
	c := testCollectorFor(t, path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	const clients, rounds = 4, 3
	var wg sync.WaitGroup
	errs := make(chan string, clients*rounds+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range clients * rounds {
			// p and q differ in name and in a setting: a scrape that mixed
			// them would show both names.
			name, budget := "p", "600"
			if i%2 == 1 {
				name, budget = "q", "300"
			}
			content := strings.NewReplacer("{name: p}", "{name: "+name+"}", "netdev_budget: 600", "netdev_budget: "+budget).Replace(testProfile)
			// Written aside and renamed over, as editors save: a scrape
			// reading a file half written would rightly fail.
			tmp := path + ".new"
			if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
				errs <- err.Error()
				return
			}
			if err := os.Rename(tmp, path); err != nil {
				errs <- err.Error()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if msg := scrapeOnce(srv.URL); msg != "" {
					errs <- msg
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

// scrapeOnce scrapes url and checks that every series with a profile label
// names the same profile, p or q; it returns a problem or "".
func scrapeOnce(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return resp.Status + ": " + string(b)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return err.Error()
	}
	names := map[string]bool{}
	for _, fam := range fams {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "profile" {
					names[l.GetValue()] = true
				}
			}
		}
	}
	if len(names) != 1 || !(names["p"] || names["q"]) {
		return fmt.Sprintf("one scrape shows the profiles %v, want p or q", names)
	}
	if v, ok := value(fams["nettune_scrape_success"], nil); !ok || v != 1 {
		return fmt.Sprintf("nettune_scrape_success = %v (found %v), want 1", v, ok)
	}
	return ""
}
