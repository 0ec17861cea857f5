package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

// The journal is one JSON-lines file per generation under
// <state>/generations/NNNNNN.jsonl. Records are appended and fsynced:
//
//	{"op":"open", ...header}      when apply starts
//	{"op":"begin","seq":1,...}    before a change is written (prior value inside)
//	{"op":"done","seq":1}         after it was written and read back
//	{"op":"commit"}               after the last change
//
// A generation without "commit" belongs to an apply that crashed or was
// killed; revert undoes every change that has a "begin".

const generationsDir = "generations"

type record struct {
	Op      string       `json:"op"`
	Seq     int          `json:"seq,omitempty"`
	Change  *plan.Change `json:"change,omitempty"`
	Profile string       `json:"profile,omitempty"`
	Source  string       `json:"source,omitempty"`
	Time    string       `json:"time,omitempty"`
	Version string       `json:"version,omitempty"`
}

// Generation is one apply as recorded in the journal.
type Generation struct {
	Number    int           `json:"number" yaml:"number"`
	Profile   string        `json:"profile" yaml:"profile"`
	Source    string        `json:"source" yaml:"source"`
	Time      string        `json:"time" yaml:"time"`
	Committed bool          `json:"committed" yaml:"committed"`
	Changes   []plan.Change `json:"changes" yaml:"changes"`
	// Done is true for the changes whose write was confirmed.
	Done []bool `json:"-" yaml:"-"`
}

type journal struct {
	root *host.Root
	f    *os.File
	path string
}

func genPath(r *host.Root, n int) string {
	return r.State(generationsDir, fmt.Sprintf("%06d.jsonl", n))
}

// openGeneration creates the journal file of generation n. It goes through
// the Root's writer so that fault injection sees it.
func openGeneration(r *host.Root, n int, hdr record) (*journal, error) {
	p := genPath(r, n)
	hdr.Op = "open"
	b, _ := json.Marshal(hdr)
	if err := r.W.WriteFile(p, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	return &journal{root: r, f: f, path: p}, nil
}

func (j *journal) append(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) close() error { return j.f.Close() }

// readGeneration parses one journal file.
func readGeneration(p string, n int) (*Generation, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return parseGeneration(data, n)
}

func parseGeneration(data []byte, n int) (*Generation, error) {
	g := &Generation{Number: n}
	seqIndex := map[int]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			// A torn last line from a crash mid-append is expected; anything
			// earlier is corruption.
			if !sc.Scan() {
				break
			}
			return nil, fmt.Errorf("generation %d line %d: %w", n, line, err)
		}
		switch rec.Op {
		case "open":
			g.Profile, g.Source, g.Time = rec.Profile, rec.Source, rec.Time
		case "begin":
			if rec.Change == nil {
				return nil, fmt.Errorf("generation %d line %d: begin without change", n, line)
			}
			seqIndex[rec.Seq] = len(g.Changes)
			g.Changes = append(g.Changes, *rec.Change)
			g.Done = append(g.Done, false)
		case "done":
			if i, ok := seqIndex[rec.Seq]; ok {
				g.Done[i] = true
			}
		case "commit":
			g.Committed = true
		default:
			return nil, fmt.Errorf("generation %d line %d: unknown op %q", n, line, rec.Op)
		}
	}
	return g, sc.Err()
}

// listGenerations returns the generation numbers present, ascending.
func listGenerations(r *host.Root) ([]int, error) {
	entries, err := os.ReadDir(r.State(generationsDir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []int
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out, nil
}

// Generations returns every recorded generation, oldest first.
func Generations(r *host.Root) ([]*Generation, error) {
	nums, err := listGenerations(r)
	if err != nil {
		return nil, err
	}
	var out []*Generation
	for _, n := range nums {
		g, err := readGeneration(genPath(r, n), n)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// lock is an exclusive, non-blocking flock on <state>/lock.
type lock struct {
	f *os.File
}

func acquire(r *host.Root) (*lock, error) {
	if err := r.W.Mkdir(r.State(), 0o700); err != nil {
		return nil, err
	}
	p := r.State("lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder, _ := os.ReadFile(p)
			msg := strings.TrimSpace(string(holder))
			if msg == "" {
				msg = "unknown process"
			}
			return nil, fmt.Errorf("%w (lock %s held by %s); wait for it to finish", ErrBusy, r.HostPath(p), msg)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	return &lock{f: f}, nil
}

// release unlocks. When no generation is left, nettune's state directory is
// removed entirely, so that a host (or fixture tree) that was applied and
// fully reverted is exactly as it was.
func (l *lock) release(r *host.Root) {
	defer l.f.Close()
	nums, err := listGenerations(r)
	if err == nil && len(nums) == 0 {
		os.Remove(r.State(generationsDir))
		os.Remove(r.State("lock"))
		os.Remove(r.State())
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
}

func stateExists(r *host.Root) bool {
	_, err := os.Stat(filepath.Clean(r.State()))
	return err == nil
}
