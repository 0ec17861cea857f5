package cli

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/spf13/cobra"
)

// TestTuneGC: one-shot commands collect at 4x under the ceiling; the
// long-running ones keep the runtime's defaults; GOGC and GOMEMLIMIT win.
func TestTuneGC(t *testing.T) {
	pct, lim := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(pct); debug.SetMemoryLimit(lim) })
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	read := func() (int, int64) {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p, debug.SetMemoryLimit(-1)
	}
	for _, name := range []string{"exporter", "agent", "run"} {
		tuneGC(&cobra.Command{Use: name})
		if p, l := read(); p != 100 || l != math.MaxInt64 {
			t.Errorf("%s: GC percent %d, limit %d: a long-running command's collector was changed", name, p, l)
		}
	}
	tuneGC(&cobra.Command{Use: "check"})
	if p, l := read(); p != oneShotGCPercent || l != oneShotMemLimit {
		t.Errorf("check: GC percent %d, limit %d", p, l)
	}
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOGC", "50")
	t.Setenv("GOMEMLIMIT", "1GiB")
	tuneGC(&cobra.Command{Use: "plan"})
	if p, l := read(); p != 100 || l != math.MaxInt64 {
		t.Errorf("with GOGC and GOMEMLIMIT set: GC percent %d, limit %d", p, l)
	}
}
