package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/pmqos"
)

// TestPrivilegedRunHoldsDMALatency: while the forwarder runs, the kernel's
// CPU latency limit is the profile's (the fake forwarder reads it from
// /dev/cpu_dma_latency itself); after nettune run returns it is back.
func TestPrivilegedRunHoldsDMALatency(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	before, err := pmqos.Read(r)
	if err != nil {
		t.Skipf("no %s: %v", pmqos.Device, err)
	}
	const want = 150 // not 0: this VM's vCPUs keep halting
	if before <= want {
		t.Skipf("another process already holds %d us", before)
	}
	dir := t.TempDir()
	prog := fakeForwarder(t, dir)
	// The fake forwarder records the limit in force when it starts.
	script, _ := os.ReadFile(prog)
	script = bytes.Replace(script, []byte("cat > "), []byte("od -An -t d4 -N4 /dev/cpu_dma_latency > "+dir+"/latency\ncat > "), 1)
	if err := os.WriteFile(prog, script, 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	a := &app{io: IO{Out: &out, ErrOut: &errOut}, log: slog.New(slog.NewTextHandler(&errOut, nil))}
	a.printer = &output.Printer{W: &out, ErrW: &errOut, Format: output.JSON}
	lat := want
	if err := a.runForwarder(context.Background(), prog, dataplane.Config{Lcores: []int{1}}, 300*time.Millisecond, "", 0, r, &lat); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	seen, err := os.ReadFile(filepath.Join(dir, "latency"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := strconv.Atoi(strings.TrimSpace(string(seen))); got != want {
		t.Errorf("the forwarder saw %q us, want %d", seen, want)
	}
	if got, _ := pmqos.Read(r); got != before {
		t.Errorf("after run: %d us, want %d (the request was not dropped)", got, before)
	}
	if !strings.Contains(errOut.String(), "holding /dev/cpu_dma_latency at 150 us") {
		t.Errorf("stderr: %s", errOut.String())
	}
}

// TestRunDMALatencyMissingDevice: without the device (a container) nettune
// run fails before starting the forwarder.
func TestRunDMALatencyMissingDevice(t *testing.T) {
	dir := t.TempDir()
	prog := fakeForwarder(t, dir)
	r, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	a := &app{io: IO{Out: &out, ErrOut: &errOut}, log: slog.New(slog.NewTextHandler(&errOut, nil))}
	a.printer = &output.Printer{W: &out, ErrW: &errOut, Format: output.JSON}
	lat := 0
	err = a.runForwarder(context.Background(), prog, dataplane.Config{Lcores: []int{1}}, 300*time.Millisecond, "", 0, r, &lat)
	if err == nil || !strings.Contains(err.Error(), "spec.cpu.power.cpuDmaLatency") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("err %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "args")); err == nil {
		t.Error("the forwarder was started")
	}
}
