package exporter

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// brokenModule is a sysctl module whose Plan fails (an unreadable host
// file, a kernel interface that errors).
type brokenModule struct{}

func (brokenModule) Name() string                                           { return "sysctl" }
func (brokenModule) Configured(s *profile.Spec) bool                        { return len(s.Sysctl) > 0 }
func (brokenModule) Apply(context.Context, *module.Env, plan.Change) error  { return nil }
func (brokenModule) Revert(context.Context, *module.Env, plan.Change) error { return nil }
func (brokenModule) Plan(context.Context, *module.Env, *profile.Spec) (*module.Result, error) {
	return nil, errors.New("read /proc/sys/net/core/netdev_budget: input/output error")
}

func scrapeSuccess(t *testing.T, c *Collector) float64 {
	t.Helper()
	v, ok := value(scrape(t, c)["nettune_scrape_success"], nil)
	if !ok {
		t.Fatal("no nettune_scrape_success")
	}
	return v
}

func TestScrapeSuccess(t *testing.T) {
	if got := scrapeSuccess(t, testCollector(t)); got != 1 {
		t.Errorf("readable host, profile checked: nettune_scrape_success = %v, want 1", got)
	}
	quiet := testCollector(t)
	quiet.Profile = nil
	if got := scrapeSuccess(t, quiet); got != 1 {
		t.Errorf("readable host, no profile: nettune_scrape_success = %v, want 1", got)
	}

	// A root where nothing can be read: no CPU topology, no softnet_stat.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	empty := &Collector{Engine: engine.New(&module.Env{Root: r, Log: log}, "test", nil), Log: log}
	if got := scrapeSuccess(t, empty); got != 0 {
		t.Errorf("empty root: nettune_scrape_success = %v, want 0", got)
	}

	// One of the files every Linux host has is missing.
	for _, f := range []string{"/proc/net/softnet_stat", "/sys/devices/system/cpu/online"} {
		c := testCollector(t)
		if err := os.Remove(c.Engine.Env.Root.Path(f)); err != nil {
			t.Fatal(err)
		}
		if got := scrapeSuccess(t, c); got != 0 {
			t.Errorf("no %s: nettune_scrape_success = %v, want 0", f, got)
		}
	}

	// The host reads fine but the profile's check fails.
	broken := testCollector(t)
	broken.Engine.Modules = []module.Module{brokenModule{}}
	if got := scrapeSuccess(t, broken); got != 0 {
		t.Errorf("check failed: nettune_scrape_success = %v, want 0", got)
	}

	// The forwarder's statistics file is there but is not JSON.
	garbled := testCollector(t)
	fixture.Overwrite(t, dataplane.InstancePath(garbled.Engine.Env.Root.Path(dataplane.RunDir), "fwd-a"), []byte(`{"prefix":`))
	if got := scrapeSuccess(t, garbled); got != 0 {
		t.Errorf("unreadable forwarder statistics: nettune_scrape_success = %v, want 0", got)
	}
}
