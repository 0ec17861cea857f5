package cli

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/spf13/cobra"
)

// TestTuneGC: one-shot commands collect only near the ceiling (at 4x the
// live heap when the ceiling is the operator's); the long-running ones
// keep the runtime's defaults; GOGC and GOMEMLIMIT win.
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
	if p, l := read(); p != -1 || l != oneShotMemLimit {
		t.Errorf("check: GC percent %d, limit %d; want off under %d", p, l, oneShotMemLimit)
	}
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1GiB")
	tuneGC(&cobra.Command{Use: "check"})
	if p, l := read(); p != oneShotGCPercent || l != math.MaxInt64 {
		t.Errorf("check with the operator's GOMEMLIMIT: GC percent %d, limit %d; want %d and the limit untouched", p, l, oneShotGCPercent)
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
