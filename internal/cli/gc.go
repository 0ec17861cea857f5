package cli

import (
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// longRunning are the commands that stay up (the exporter, the
// Kubernetes agent, run's supervision of the forwarder): they keep Go's
// default collector.
var longRunning = map[string]bool{"exporter": true, "agent": true, "run": true}

// One-shot commands collect less often under a ceiling.
const (
	oneShotGCPercent = 400
	oneShotMemLimit  = 48 << 20
)

// tuneGC sets the collector of a one-shot command: almost everything a
// plan or a check allocates is garbage it never reuses, and on a 256-CPU
// host with 16,000 plan items the default (a collection each time the
// heap doubles from 4 MB) spent a quarter of check's CPU time collecting.
// It runs at 4× the live heap, under a soft limit of 48 MiB that keeps
// the peak RSS of check and plan at 16×256 queues near 50 MB
// (docs/performance.md). Above the limit the runtime collects as often as
// it must, at most half of the CPU time: a host several times larger than
// that is slower, not larger. GOGC and GOMEMLIMIT in the environment win.
func tuneGC(cmd *cobra.Command) {
	if longRunning[cmd.Name()] {
		return
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(oneShotGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(oneShotMemLimit)
	}
}
