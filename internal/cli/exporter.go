package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nettune/nettune/pkg/exporter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

func (a *app) exporterCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "exporter [PROFILE]",
		Short: "Serve drift, diagnostics and packet counters as Prometheus metrics",
		Long: `Serve Prometheus metrics on --listen at /metrics: with PROFILE, the number of
settings per module and status and whether the host is in sync; the
diagnostic findings; softnet_stat and NIC counters; the counters of a running
'nettune run'. The host is read at every scrape, and PROFILE is reloaded
when its file changes (a profile that no longer loads keeps the last good
one and makes nettune_scrape_success 0). See docs/metrics.md.`,
		Example: `  nettune exporter kernel-throughput
  nettune exporter --listen :9617 /etc/nettune/profile.yaml
  nettune exporter`,
		Annotations: map[string]string{noStructuredOutput: "Prometheus metrics over HTTP"},
		Args:        cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := a.engine()
			if err != nil {
				return err
			}
			c := &exporter.Collector{Engine: eng, Log: a.log}
			if len(args) == 1 {
				if c.Profile, err = exporter.NewProfileWatcher(args[0], a.log); err != nil {
					return err
				}
			}
			reg := prometheus.NewRegistry()
			if err := reg.Register(c); err != nil {
				return err
			}
			mux := http.NewServeMux()
			mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			a.log.Info("serving metrics", "addr", ln.Addr().String())
			fmt.Fprintf(a.io.ErrOut, "serving metrics on http://%s/metrics\n", ln.Addr())
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9617", "address to serve /metrics on")
	return cmd
}
