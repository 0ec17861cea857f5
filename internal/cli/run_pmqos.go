package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/pmqos"
	"github.com/nettune/nettune/pkg/profile"
)

// dmaLatency is spec.cpu.power.cpuDmaLatency, or nil.
func dmaLatency(s *profile.Spec) *int {
	if s.CPU == nil || s.CPU.Power == nil {
		return nil
	}
	return s.CPU.Power.DMALatency
}

// runForwarder supervises the forwarder while holding the profile's PM QoS
// CPU latency request on /dev/cpu_dma_latency: taken before the forwarder
// starts, dropped when it has exited (and by the kernel if nettune dies,
// since the request is an open file; the forwarder does not inherit it).
func (a *app) runForwarder(ctx context.Context, prog string, cfg dataplane.Config, duration time.Duration, metricsListen string, statsPeriod time.Duration, r *host.Root, latency *int) error {
	if latency != nil {
		h, err := pmqos.Hold(r, int32(*latency))
		if err != nil {
			return fmt.Errorf("spec.cpu.power.cpuDmaLatency: %w", err)
		}
		defer h.Close()
		fmt.Fprintf(a.io.ErrOut, "holding %s at %d us while the forwarder runs\n", pmqos.Device, *latency)
	}
	return a.superviseForwarder(ctx, prog, cfg, duration, metricsListen, statsPeriod, r)
}
