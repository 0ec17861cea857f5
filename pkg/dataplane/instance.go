package dataplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Every running forwarder publishes its counters in its own file in the run
// directory, named by its EAL file prefix (which is unique per instance):
// RunDir/forwarder-<prefix>.json. The file carries the pid and the start
// time of the process that writes it, so that a reader can tell a file left
// by a process that is gone (kill -9, a crash) from a live one, even when
// the pid has since been reused: a file is live when /proc/<pid>/stat
// exists and its field 22 (starttime, clock ticks after boot) matches.

// RunDir is where forwarders publish their counters (a host path).
const RunDir = "/run/nettune"

const (
	instancePrefix = "forwarder-"
	instanceSuffix = ".json"
)

// InstanceFile is the content of a forwarder's stats file.
type InstanceFile struct {
	// Prefix is the instance's EAL file prefix, its name.
	Prefix string `json:"prefix"`
	// PID and StartTime identify the forwarder process; StartTime is
	// field 22 of /proc/PID/stat.
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	// Updated is when the file was last written.
	Updated time.Time `json:"updated"`
	// XDPIfaces and PromiscIfaces are the kernel interfaces the instance
	// attached an XDP program to (net_af_xdp ports) and those it put in
	// promiscuous mode, for the clean-up after it died.
	XDPIfaces     []string `json:"xdpIfaces,omitempty"`
	PromiscIfaces []string `json:"promiscIfaces,omitempty"`
	Stats         Stats    `json:"stats"`
}

// Instance is one forwarder's stats file as a reader sees it.
type Instance struct {
	InstanceFile
	// Path is the stats file.
	Path string
	// Up is true when the process that wrote the file still runs. A file
	// that is not Up is stale: its counters are not live and a reader must
	// not serve them; the next forwarder start removes it.
	Up bool
	// Stale says why the file is stale; empty when Up.
	Stale string
}

// InstancePath is the stats file of the instance with this EAL prefix.
func InstancePath(runDir, prefix string) string {
	return filepath.Join(runDir, instancePrefix+prefix+instanceSuffix)
}

// ProcStartTime returns field 22 (starttime) of procDir/PID/stat.
func ProcStartTime(procDir string, pid int) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	f, err := statFields(string(b))
	if err != nil || len(f) < 22 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %q", pid, b)
	}
	return strconv.ParseUint(f[21], 10, 64)
}

// statFields splits a /proc/PID/stat line into its fields, numbered from 1
// as in proc(5) at index 0: the command (field 2) may hold spaces and
// parentheses, so it ends at the last ')'.
func statFields(s string) ([]string, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return nil, errors.New("no command in parentheses")
	}
	f := []string{strings.TrimSpace(s[:open]), s[open+1 : end]}
	return append(f, strings.Fields(s[end+1:])...), nil
}

// liveness tells whether the process in f still runs.
func liveness(procDir string, f InstanceFile) (up bool, why string) {
	if f.PID <= 0 {
		return false, "no pid in the file"
	}
	st, err := ProcStartTime(procDir, f.PID)
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Sprintf("process %d is gone", f.PID)
	}
	if err != nil {
		return false, err.Error()
	}
	if st != f.StartTime {
		return false, fmt.Sprintf("pid %d now belongs to another process (started at tick %d, not %d)", f.PID, st, f.StartTime)
	}
	return true, ""
}

// ReadInstances returns the forwarder instances that published counters
// in runDir (RunDir on the host), sorted by prefix, each with Up telling
// whether its process still runs (looked up in /proc). Unreadable files
// are returned as stale too. A missing runDir is no instance.
func ReadInstances(runDir string) []Instance {
	return ReadInstancesProc(runDir, "/proc")
}

// ReadInstancesProc is ReadInstances with the proc filesystem at procDir.
func ReadInstancesProc(runDir, procDir string) []Instance {
	ents, err := os.ReadDir(runDir)
	if err != nil {
		return nil
	}
	var out []Instance
	for _, e := range ents {
		name := e.Name()
		prefix, ok := strings.CutPrefix(name, instancePrefix)
		if !ok || !strings.HasSuffix(prefix, instanceSuffix) || e.IsDir() {
			continue
		}
		prefix = strings.TrimSuffix(prefix, instanceSuffix)
		in := Instance{Path: filepath.Join(runDir, name)}
		b, err := os.ReadFile(in.Path)
		if err == nil {
			err = json.Unmarshal(b, &in.InstanceFile)
		}
		if err != nil {
			in.Prefix, in.Stale = prefix, fmt.Sprintf("unreadable: %v", err)
			out = append(out, in)
			continue
		}
		in.Up, in.Stale = liveness(procDir, in.InstanceFile)
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix < out[j].Prefix })
	return out
}

// SweepInstances removes the stale stats files in runDir and returns what
// they were (for the clean-up of their interfaces).
func SweepInstances(runDir, procDir string) []Instance {
	var gone []Instance
	for _, in := range ReadInstancesProc(runDir, procDir) {
		if in.Up {
			continue
		}
		if err := os.Remove(in.Path); err == nil || errors.Is(err, fs.ErrNotExist) {
			gone = append(gone, in)
		}
	}
	return gone
}

// Publisher writes one instance's stats file.
type Publisher struct {
	path string
	file InstanceFile
}

// NewPublisher prepares the stats file of the instance with this prefix,
// run by this process. It fails when a live process other than this one
// publishes under the same prefix.
func NewPublisher(runDir, procDir, prefix string) (*Publisher, error) {
	if prefix == "" || strings.ContainsAny(prefix, "/ \t\n") {
		return nil, fmt.Errorf("instance name (eal file prefix) %q: empty, or a slash or a space", prefix)
	}
	pid := os.Getpid()
	st, err := ProcStartTime(procDir, pid)
	if err != nil {
		return nil, fmt.Errorf("read this process's start time: %w", err)
	}
	p := &Publisher{path: InstancePath(runDir, prefix), file: InstanceFile{Prefix: prefix, PID: pid, StartTime: st}}
	for _, in := range ReadInstancesProc(runDir, procDir) {
		if in.Prefix == prefix && in.Up && in.PID != pid {
			return nil, fmt.Errorf("another forwarder (pid %d) already runs as instance %q (%s); give this one another file prefix", in.PID, prefix, in.Path)
		}
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", runDir, err)
	}
	return p, nil
}

// Path is the stats file.
func (p *Publisher) Path() string { return p.path }

// SetInterfaces records the kernel interfaces the instance changed.
func (p *Publisher) SetInterfaces(xdp, promisc []string) {
	p.file.XDPIfaces, p.file.PromiscIfaces = xdp, promisc
}

// Publish writes st to the stats file: a new file renamed over the old
// one, so a reader never sees a partial file.
func (p *Publisher) Publish(st Stats) error {
	p.file.Stats = st
	p.file.Updated = time.Now()
	b, err := json.Marshal(p.file)
	if err != nil {
		return err
	}
	tmp := p.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write forwarder stats: %w", err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write forwarder stats: %w", err)
	}
	return nil
}

// Remove deletes the stats file (at a clean exit).
func (p *Publisher) Remove() error {
	err := os.Remove(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
