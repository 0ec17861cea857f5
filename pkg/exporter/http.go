package exporter

import (
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// indexPage is what / serves. The links are relative, so that the page
// works behind a reverse proxy that serves the exporter under a path.
const indexPage = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>nettune exporter</title></head>
<body>
<h1>nettune exporter</h1>
<p>Drift, diagnostics and packet counters of this host as Prometheus metrics.</p>
<ul>
<li><a href="metrics">metrics</a>: the metrics, read from the host at every request</li>
<li><a href="healthz">healthz</a>: "ok" while the exporter serves requests</li>
</ul>
</body>
</html>
`

// Handler serves the metrics of g at /metrics, a liveness check at
// /healthz and a page linking both at /. Other paths are not found.
//
// /healthz answers 200 "ok" as long as the server handles requests: it
// reads neither the host nor the profile, so that a liveness probe does not
// restart an exporter for what it reports (nettune_scrape_success says
// whether the host and the profile could be read).
func Handler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, indexPage)
	})
	return mux
}
