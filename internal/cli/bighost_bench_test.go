package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture/bighost"
)

// bigRoot writes the bighost fixture with the given queues per port on
// tmpfs (like /proc and /sys, memory-backed) when there is one.
func bigRoot(b *testing.B, queues int) string {
	b.Helper()
	dir := b.TempDir()
	if d, err := os.MkdirTemp("/dev/shm", "nettune-bighost-"); err == nil {
		dir = d
		b.Cleanup(func() { os.RemoveAll(d) })
	}
	root := dir + "/root"
	if err := bighost.Write(root, bighost.Default(queues)); err != nil {
		b.Fatal(err)
	}
	return root
}

const bigProfile = "../fixture/bighost/nics.yaml"

// BenchmarkBigHost times check, plan and irqs in-process on a 256-CPU,
// 2-node host with 16 ice ports of 64 and of 256 queues (1,040 and 4,112
// IRQs), before the profile is applied (every row drifts) and after (every
// row ok). Targets and results: docs/performance.md; the whole-process
// figures (wall time, peak RSS) come from scripts/bench-bighost.sh.
func BenchmarkBigHost(b *testing.B) {
	for _, q := range []int{64, 256} {
		root := bigRoot(b, q)
		size := fmt.Sprintf("16x%d", q)
		cmds := []struct {
			name string
			args []string
			code int
		}{
			{"plan", []string{"plan", "--root", root, bigProfile}, ExitOK},
			{"check-drift", []string{"check", "--interval", "0", "--root", root, bigProfile}, ExitDrift},
			{"irqs", []string{"irqs", "--root", root}, ExitOK},
		}
		for _, c := range cmds {
			b.Run(c.name+"/"+size, func(b *testing.B) { benchRun(b, c.args, c.code) })
		}
		b.Run("check-ok/"+size, func(b *testing.B) {
			// b.Loop starts the timer at its first call: the apply is set-up.
			if code := Run(context.Background(), []string{"apply", "--yes", "--root", root, bigProfile}, IO{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}); code != ExitOK {
				b.Fatalf("apply: exit %d", code)
			}
			benchRun(b, []string{"check", "--interval", "0", "--root", root, bigProfile}, ExitOK)
		})
	}
}

func benchRun(b *testing.B, args []string, want int) {
	b.ReportAllocs()
	for b.Loop() {
		var errOut strings.Builder
		if code := Run(context.Background(), args, IO{In: strings.NewReader(""), Out: io.Discard, ErrOut: &errOut}); code != want {
			b.Fatalf("%s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, errOut.String())
		}
	}
}
