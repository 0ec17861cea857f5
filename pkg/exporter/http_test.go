package exporter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/host"
	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestHandler(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(testCollector(t)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()

	code, ctype, body := get(t, srv.URL+"/healthz")
	if code != 200 || body != "ok\n" || !strings.HasPrefix(ctype, "text/plain") {
		t.Errorf("/healthz: %d %q %q, want 200 text/plain \"ok\\n\"", code, ctype, body)
	}
	code, ctype, body = get(t, srv.URL+"/")
	if code != 200 || !strings.HasPrefix(ctype, "text/html") {
		t.Errorf("/: %d %q, want 200 text/html", code, ctype)
	}
	for _, link := range []string{`href="metrics"`, `href="healthz"`} {
		if !strings.Contains(body, link) {
			t.Errorf("/ lacks the link %s:\n%s", link, body)
		}
	}
	code, _, body = get(t, srv.URL+"/metrics")
	if code != 200 || !strings.Contains(body, "nettune_scrape_success 1") {
		t.Errorf("/metrics: %d, want 200 with nettune_scrape_success 1:\n%s", code, body)
	}
	if code, _, _ = get(t, srv.URL+"/nothing"); code != 404 {
		t.Errorf("/nothing: %d, want 404", code)
	}
	resp, err := http.Post(srv.URL+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d, want 405", resp.StatusCode)
	}
}

// TestHealthzWithoutHost: /healthz does not depend on the host being
// readable (that is what nettune_scrape_success reports).
func TestHealthzWithoutHost(t *testing.T) {
	c := testCollector(t)
	r, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c.Engine.Env.Root = r
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	if code, _, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz on an empty root: %d %q, want 200 ok", code, body)
	}
	if _, _, body := get(t, srv.URL+"/metrics"); !strings.Contains(body, "nettune_scrape_success 0") {
		t.Errorf("/metrics on an empty root lacks nettune_scrape_success 0:\n%s", body)
	}
}
