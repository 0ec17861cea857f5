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

// One-shot commands collect only near a ceiling.
const (
	oneShotMemLimit = 48 << 20
	// oneShotGCPercent is the collector's pace when GOMEMLIMIT is the
	// operator's: without a ceiling of nettune's own, it does not turn
	// the pacing off.
	oneShotGCPercent = 400
)

// tuneGC sets the collector of a one-shot command: almost everything a
// plan or a check allocates is garbage it never reuses. It turns the
// pacing off (GOGC=off) under a soft limit of 48 MiB: the runtime then
// collects only as the heap nears the limit. On the 256-CPU host with
// 1,040 IRQs, check allocates about 19 MB and never collects; at 4x the
// live heap (GOGC=400), its one collection came as the plan's items were
// copied and stalled that copy 10 ms. At 16x256 queues, where check
// allocates several times the limit, wall time fell from 213 to 167 ms at
// the same peak RSS, 56 MB (docs/performance.md). Above the limit the
// runtime collects as often as it must, at most half of the CPU time: a
// host several times larger is slower, not larger. GOGC and GOMEMLIMIT in
// the environment win; with only GOMEMLIMIT set, the pace is GOGC=400.
func tuneGC(cmd *cobra.Command) {
	if longRunning[cmd.Name()] {
		return
	}
	ownLimit := os.Getenv("GOMEMLIMIT") == ""
	if ownLimit {
		debug.SetMemoryLimit(oneShotMemLimit)
	}
	if os.Getenv("GOGC") == "" {
		if ownLimit {
			debug.SetGCPercent(-1)
		} else {
			debug.SetGCPercent(oneShotGCPercent)
		}
	}
}
