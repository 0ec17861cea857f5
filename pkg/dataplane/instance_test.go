package dataplane

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeProc writes procDir/PID/stat with this starttime (field 22) and a
// command with spaces and parentheses.
func fakeProc(t *testing.T, procDir string, pid int, start uint64) {
	t.Helper()
	d := filepath.Join(procDir, strconv.Itoa(pid))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	f := []string{strconv.Itoa(pid), "(a b) (c)", "S"}
	for i := 4; i <= 52; i++ {
		f = append(f, strconv.Itoa(i))
	}
	f[21] = strconv.FormatUint(start, 10)
	if err := os.WriteFile(filepath.Join(d, "stat"), []byte(strings.Join(f, " ")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeInstance(t *testing.T, runDir string, f InstanceFile) {
	t.Helper()
	b, _ := json.Marshal(f)
	if err := os.WriteFile(InstancePath(runDir, f.Prefix), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestProcStartTime(t *testing.T) {
	proc := t.TempDir()
	fakeProc(t, proc, 42, 123456)
	if st, err := ProcStartTime(proc, 42); err != nil || st != 123456 {
		t.Errorf("ProcStartTime = %d, %v; want 123456", st, err)
	}
	if _, err := ProcStartTime(proc, 43); err == nil {
		t.Error("no error for a missing pid")
	}
	// The real /proc: this process.
	if st, err := ProcStartTime("/proc", os.Getpid()); err != nil || st == 0 {
		t.Errorf("own start time %d, %v", st, err)
	}
}

// A file is live only when its pid runs with the same start time: a dead
// pid and a reused pid are stale; a sweep removes the stale files only.
func TestReadInstancesStale(t *testing.T) {
	proc, run := t.TempDir(), t.TempDir()
	fakeProc(t, proc, 100, 5000) // live
	fakeProc(t, proc, 200, 9999) // pid reused: file says 7000
	st := Stats{Ports: []PortStats{{Name: "p0", Rx: 7}}}
	writeInstance(t, run, InstanceFile{Prefix: "a", PID: 100, StartTime: 5000, Stats: st})
	writeInstance(t, run, InstanceFile{Prefix: "b", PID: 200, StartTime: 7000, XDPIfaces: []string{"veth0"}})
	writeInstance(t, run, InstanceFile{Prefix: "c", PID: 300, StartTime: 1})
	os.WriteFile(InstancePath(run, "d"), []byte("{broken"), 0o644)
	os.WriteFile(filepath.Join(run, "other.json"), []byte("{}"), 0o644)
	os.WriteFile(InstancePath(run, "e")+".tmp", []byte("{}"), 0o644)

	got := ReadInstancesProc(run, proc)
	var names []string
	for _, in := range got {
		names = append(names, in.Prefix+"="+strconv.FormatBool(in.Up))
	}
	if strings.Join(names, " ") != "a=true b=false c=false d=false" {
		t.Fatalf("instances %v", names)
	}
	if got[0].Stats.Ports[0].Rx != 7 || got[0].Stale != "" {
		t.Errorf("live instance: %+v", got[0])
	}
	if !strings.Contains(got[1].Stale, "another process") || !strings.Contains(got[2].Stale, "gone") || !strings.Contains(got[3].Stale, "unreadable") {
		t.Errorf("stale reasons: %q %q %q", got[1].Stale, got[2].Stale, got[3].Stale)
	}

	gone := SweepInstances(run, proc)
	if len(gone) != 3 || gone[0].Prefix != "b" || len(gone[0].XDPIfaces) != 1 {
		t.Errorf("swept %+v", gone)
	}
	if left := ReadInstancesProc(run, proc); len(left) != 1 || left[0].Prefix != "a" {
		t.Errorf("after the sweep: %+v", left)
	}
	if ReadInstances(filepath.Join(run, "missing")) != nil {
		t.Error("instances in a missing dir")
	}
}

func TestPublisher(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	p, err := NewPublisher(run, "/proc", "nt-a")
	if err != nil {
		t.Fatal(err)
	}
	p.SetInterfaces([]string{"x"}, nil)
	if err := p.Publish(Stats{Ports: []PortStats{{Name: "p0", Tx: 3}}}); err != nil {
		t.Fatal(err)
	}
	in := ReadInstances(run)
	if len(in) != 1 || !in[0].Up || in[0].PID != os.Getpid() || in[0].Stats.Ports[0].Tx != 3 || in[0].Updated.IsZero() || in[0].Path != p.Path() {
		t.Fatalf("instances %+v", in)
	}
	// Another live process under the same prefix: refused. Fake it by a
	// file with pid 1's real start time.
	st1, err := ProcStartTime("/proc", 1)
	if err == nil {
		writeInstance(t, run, InstanceFile{Prefix: "nt-b", PID: 1, StartTime: st1})
		if _, err := NewPublisher(run, "/proc", "nt-b"); err == nil || !strings.Contains(err.Error(), "pid 1") {
			t.Errorf("second instance under a live prefix: %v", err)
		}
	}
	if _, err := NewPublisher(run, "/proc", "a/b"); err == nil {
		t.Error("prefix with a slash accepted")
	}
	if err := p.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}
