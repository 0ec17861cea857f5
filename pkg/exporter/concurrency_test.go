package exporter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestConcurrentScrapes scrapes one collector from several HTTP clients at
// once, as several Prometheus servers (or a retry after a timeout) do. Run
// with -race: a scrape must not write state another scrape reads (the
// engine's Env, the profile).
func TestConcurrentScrapes(t *testing.T) {
	c := testCollector(t)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	const clients, rounds = 4, 3
	var wg sync.WaitGroup
	errs := make(chan string, clients*rounds)
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

// scrapeOnce scrapes url and checks what every scrape of testCollector
// must show; it returns a problem or "".
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
	if v, ok := value(fams["nettune_profile_in_sync"], map[string]string{"profile": "p"}); !ok || v != 0 {
		return "nettune_profile_in_sync{profile=\"p\"} missing or not 0"
	}
	return ""
}
