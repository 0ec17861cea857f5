package devbind

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/host"
)

// TestSessionsBothTables: the SSH sessions come from SSH_CONNECTION, from
// /proc/net/tcp and from /proc/net/tcp6 (read side by side), each once;
// a listening socket and a connection to another port are not sessions.
func TestSessionsBothTables(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "proc/net"), 0o755); err != nil {
		t.Fatal(err)
	}
	const head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	// Little-endian words, as an x86 kernel prints them: 192.0.2.2:22
	// from 198.51.100.7:50000, and a listener on :22.
	tcp := head +
		"   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n" +
		"   1: 020200C0:0016 076433C6:C350 01 00000000:00000000 02:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n" +
		"   2: 020200C0:1F90 076433C6:C351 01 00000000:00000000 02:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n"
	// fd00::2 port 22 from fd00::9.
	tcp6 := head +
		"   0: 000000FD000000000000000002000000:0016 000000FD000000000000000009000000:D431 01 00000000:00000000 02:00000000 00000000     0        0 4 1 0 100 0 0 10 0\n"
	for name, s := range map[string]string{"tcp": tcp, "tcp6": tcp6} {
		if err := os.WriteFile(filepath.Join(dir, "proc/net", name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SSH_CONNECTION": "198.51.100.7 50000 192.0.2.2 22"}
	got := Sessions(r, func(k string) string { return env[k] })
	want := map[string]string{
		"SSH session 198.51.100.7:50000 -> 192.0.2.2:22 (SSH_CONNECTION)": "",
		"SSH session [fd00::9]:54321 -> [fd00::2]:22 (/proc/net/tcp)":     "",
	}
	if len(got) != len(want) {
		t.Fatalf("sessions %v, want %d", got, len(want))
	}
	for _, s := range got {
		if _, ok := want[s.String()]; !ok {
			t.Errorf("unexpected %s (want %v)", s, want)
		}
	}
}

// TestReadNetTableLive: on the running kernel, a /proc/net/tcp of several
// pages (60 listening sockets of this test, 150 bytes a line) is read
// whole without the final read: every one of the test's ports is in it.
func TestReadNetTableLive(t *testing.T) {
	var ports []uint16
	for i := 0; i < 60; i++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Skipf("listen: %v", err)
		}
		defer l.Close()
		ports = append(ports, uint16(l.Addr().(*net.TCPAddr).Port))
	}
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	b, err := readNetTable(r, "/proc/net/tcp")
	if err != nil {
		t.Skipf("/proc/net/tcp: %v", err)
	}
	if len(b) <= os.Getpagesize() {
		t.Fatalf("table of %d bytes: want more than a page", len(b))
	}
	for _, p := range ports {
		if !strings.Contains(string(b), fmt.Sprintf(":%04X 00000000:0000 0A", p)) {
			t.Errorf("listening port %d missing from the %d bytes read", p, len(b))
		}
	}
}
