package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/exporter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

func (a *app) exporterCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "exporter [PROFILE]",
		Short: "Serve drift, diagnostics and packet counters as Prometheus metrics",
		Long: `Serve Prometheus metrics on --listen at /metrics: with PROFILE, the number of
settings per module and status, whether the host is in sync, whether each
setting is (nettune_setting_in_sync; a NIC's queues and queue IRQs are one
series per NIC and attribute) and the profile's name and content hash; the
journal's newest generation; the diagnostic findings; softnet_stat and NIC
counters; the counters of a running 'nettune run'. The host is read at every scrape, and PROFILE is reloaded
when its file changes (a profile that no longer loads keeps the last good
one and makes nettune_scrape_success 0). /healthz answers "ok" while the
server runs; / links both. See docs/metrics.md.`,
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
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			}
			h, err := exporterHandler(eng, a.log, ref)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
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
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9617", "address to serve /metrics, /healthz and / on")
	return cmd
}

// exporterHandler is what nettune exporter serves: the host eng observes
// and, unless ref is "", the profile ref, at /metrics, /healthz and /.
func exporterHandler(eng *engine.Engine, log *slog.Logger, ref string) (http.Handler, error) {
	c := &exporter.Collector{Engine: eng, Log: log}
	if ref != "" {
		w, err := exporter.NewProfileWatcher(ref, log)
		if err != nil {
			return nil, err
		}
		c.Profile = w
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return exporter.Handler(reg), nil
}
