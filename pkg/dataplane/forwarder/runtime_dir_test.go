package forwarder

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func mkSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
}

func TestSweepRuntimeDirs(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{"nettune-100", "nettune-200", "nettune-300", "rte", "nettune-x"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o700); err != nil {
			t.Fatal(err)
		}
		mkSocket(t, filepath.Join(base, d, "dpdk_telemetry.v2"))
	}
	// An unexpected file keeps a dead instance's directory.
	if err := os.WriteFile(filepath.Join(base, "nettune-300", "config"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sweepRuntimeDirs(base, func(pid int) bool { return pid == 200 })
	for d, want := range map[string]bool{"nettune-100": false, "nettune-200": true, "nettune-300": true, "rte": true, "nettune-x": true} {
		_, err := os.Stat(filepath.Join(base, d))
		if got := err == nil; got != want {
			t.Errorf("%s exists: %v, want %v", d, got, want)
		}
	}
	if err := removeRuntimeDir(filepath.Join(base, "missing")); err != nil {
		t.Errorf("removeRuntimeDir of a missing dir: %v", err)
	}
	if !processAlive(os.Getpid()) {
		t.Error("processAlive(self) = false")
	}
}
