package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/nettune/nettune/pkg/sysctl"
)

// benchChanges is the size of the apply the engine must keep fast: 4,195
// changes, what a nics profile makes on a 256-CPU host with 16 NICs.
const benchChanges = 4195

// genSysctlRoot writes a root with n writable parameters under
// /proc/sys/net/bench and returns it with a profile that changes them all.
//
// The tree is on tmpfs (/dev/shm) when there is one: like /proc and /sys it
// is memory-backed, whereas rewriting a truncated file on ext4 forces block
// allocation at close and measures the disk instead of nettune.
func genSysctlRoot(b *testing.B, n int) (string, *profile.Profile) {
	dir := b.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "nettune-bench-"); err == nil {
			dir = d
			b.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	base := filepath.Join(dir, "proc/sys/net/bench")
	if err := os.MkdirAll(base, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, d := range []string{"etc/sysctl.d", "var/lib"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	p := sysctlProfile("bench")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("q%05d", i)
		if err := os.WriteFile(filepath.Join(base, name), []byte("0\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		p.Spec.Sysctl["net.bench."+name] = profile.SysctlValue(fmt.Sprint(i%97 + 1))
	}
	return dir, p
}

// BenchmarkApply4k applies 4,195 changes and reverts them: the engine's
// journal cost (one durable intent record and one commit per apply) plus
// one write and one read-back per change. Target: under 1 s per apply on
// the project's 2-core VM (docs/testing.md).
func BenchmarkApply4k(b *testing.B) {
	dir, p := genSysctlRoot(b, benchChanges)
	r, err := host.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	e := &Engine{Env: &module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, Modules: []module.Module{sysctl.Module{}}, Now: time.Now, Journal: OSJournal{}}
	ctx := context.Background()
	for b.Loop() {
		res, err := e.Apply(ctx, p, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Applied) != benchChanges+1 {
			b.Fatalf("applied %d", len(res.Applied))
		}
		b.StopTimer()
		if _, err := e.Revert(ctx, RevertOptions{}, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
