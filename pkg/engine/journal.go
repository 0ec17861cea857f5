package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

// The journal is one JSON-lines file per generation under
// <state>/generations/NNNNNN.jsonl:
//
//	{"op":"open", ...header}          who applied what, where (namespace)
//	{"op":"intent","changes":[...]}   every change with its prior value
//	{"op":"commit"}                   after the last change was written and read back
//
// The first two records are created together in one durable write (temp
// file, fsync, rename, fsync of the directory) before the first change is
// made: that is the write-ahead guarantee. "commit" is appended and fsynced
// after the last change. A generation without "commit" belongs to an apply
// that crashed or was killed; revert undoes all of its changes (reverting a
// change that was never made is a no-op, so an interrupted apply reverts
// whole). Journals written by earlier versions, with one "begin" record per
// change and "done" after it, are still read.

const generationsDir = "generations"

type record struct {
	Op       string        `json:"op"`
	Seq      int           `json:"seq,omitempty"`
	Change   *plan.Change  `json:"change,omitempty"`
	Changes  []plan.Change `json:"changes,omitempty"`
	Profile  string        `json:"profile,omitempty"`
	Source   string        `json:"source,omitempty"`
	Time     string        `json:"time,omitempty"`
	Version  string        `json:"version,omitempty"`
	NetNS    *host.NetNS   `json:"netns,omitempty"`
	Released []string      `json:"released,omitempty"`
}

// Generation is one apply as recorded in the journal.
type Generation struct {
	Number    int           `json:"number" yaml:"number"`
	Profile   string        `json:"profile" yaml:"profile"`
	Source    string        `json:"source" yaml:"source"`
	Time      string        `json:"time" yaml:"time"`
	Committed bool          `json:"committed" yaml:"committed"`
	Changes   []plan.Change `json:"changes" yaml:"changes"`
	// NetNS is the network namespace the apply ran in (nil for an offline
	// root and for journals of earlier versions).
	NetNS *host.NetNS `json:"netns,omitempty" yaml:"netns,omitempty"`
	// Released lists settings (change keys) of earlier generations that
	// this apply was told to keep as they were (apply --keep-orphans):
	// nettune no longer reports or restores them.
	Released []string `json:"released,omitempty" yaml:"released,omitempty"`
	// Done is true for the changes whose write was confirmed (journals of
	// earlier versions only; an intent journal marks all on commit).
	Done []bool `json:"-" yaml:"-"`
}

// JournalFS performs the journal's durable writes. The production
// implementation fsyncs through Sync; tests wrap it to fail writes or to
// record the order of fsyncs and host writes.
type JournalFS interface {
	// Create writes a new file durably: temp file, fsync, rename, fsync of
	// the directory. It fails if the file exists.
	Create(path string, data []byte) error
	// Append appends to an existing file and fsyncs it.
	Append(path string, data []byte) error
	// Remove deletes a journal file (a missing one is not an error).
	Remove(path string) error
}

// OSJournal is the JournalFS on the filesystem. Sync defaults to
// (*os.File).Sync.
type OSJournal struct {
	Sync func(*os.File) error
}

func (o OSJournal) sync(f *os.File) error {
	if o.Sync != nil {
		return o.Sync(f)
	}
	return f.Sync()
}

// tempPrefix starts the name of a journal file being created; leftovers of
// a process killed at that moment are removed under the lock.
const tempPrefix = "."

// Create implements JournalFS.
func (o OSJournal) Create(p string, data []byte) error {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create journal %s: %w", p, err)
	}
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("create journal %s: %w", p, os.ErrExist)
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+filepath.Base(p)+".*")
	if err != nil {
		return fmt.Errorf("create journal %s: %w", p, err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("create journal %s: %w", p, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := o.sync(tmp); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("create journal %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("create journal %s: %w", p, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("create journal %s: sync directory: %w", p, err)
	}
	defer d.Close()
	if err := o.sync(d); err != nil {
		return fmt.Errorf("create journal %s: sync directory: %w", p, err)
	}
	return nil
}

// Append implements JournalFS.
func (o OSJournal) Append(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("write journal %s: %w", p, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write journal %s: %w", p, err)
	}
	if err := o.sync(f); err != nil {
		f.Close()
		return fmt.Errorf("sync journal %s: %w", p, err)
	}
	return f.Close()
}

// Remove implements JournalFS.
func (o OSJournal) Remove(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal %s: %w", p, err)
	}
	return nil
}

func genPath(r *host.Root, n int) string {
	return r.State(generationsDir, fmt.Sprintf("%06d.jsonl", n))
}

func encode(recs ...record) []byte {
	var b bytes.Buffer
	for _, rec := range recs {
		line, err := json.Marshal(rec)
		if err != nil {
			panic(err) // records hold only strings and numbers
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// readGeneration parses one journal file. It is read into a string
// (strings.Builder hands its bytes over without a copy) that the changes'
// strings are pieces of: an intent line is megabytes on a large host.
func readGeneration(p string, n int) (*Generation, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b strings.Builder
	if st, err := f.Stat(); err == nil && st.Size() < 1<<30 {
		b.Grow(int(st.Size()) + 1)
	}
	if _, err := io.Copy(&b, f); err != nil {
		return nil, err
	}
	return parseGeneration(b.String(), n)
}

func parseGeneration(data string, n int) (*Generation, error) {
	g := &Generation{Number: n}
	seqIndex := map[int]int{}
	// Lines as bufio.ScanLines splits them, without copying the 2 MB
	// intent line into a scanner's buffer.
	line := 0
	for rest := data; len(rest) > 0; {
		var text string
		text, rest, _ = strings.Cut(rest, "\n")
		text = strings.TrimSuffix(text, "\r")
		line++
		if len(strings.TrimSpace(text)) == 0 {
			continue
		}
		if changes, ok := intentChanges(text); ok {
			if g.Changes == nil {
				g.Changes = changes
			} else {
				g.Changes = append(g.Changes, changes...)
			}
			g.Done = append(g.Done, make([]bool, len(changes))...)
			continue
		}
		var rec record
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			// A torn last line from a crash mid-append is expected; anything
			// earlier is corruption.
			if len(rest) == 0 {
				break
			}
			return nil, fmt.Errorf("generation %d line %d: %w", n, line, err)
		}
		switch rec.Op {
		case "open":
			g.Profile, g.Source, g.Time, g.NetNS, g.Released = rec.Profile, rec.Source, rec.Time, rec.NetNS, rec.Released
		case "intent":
			for _, c := range rec.Changes {
				g.Changes = append(g.Changes, c)
				g.Done = append(g.Done, false)
			}
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
			for i := range g.Done {
				g.Done[i] = true
			}
		default:
			return nil, fmt.Errorf("generation %d line %d: unknown op %q", n, line, rec.Op)
		}
	}
	return g, nil
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
		if !ok || strings.HasPrefix(name, tempPrefix) {
			continue
		}
		n, err := strconv.Atoi(name)
		if err != nil || n <= 0 {
			continue
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out, nil
}

// cleanTemps removes journal files left half-created by a process killed
// while creating them (they were never renamed into place, so they record
// nothing that happened). Called under the lock.
func cleanTemps(r *host.Root) error {
	dir := r.State(generationsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) && strings.Contains(e.Name(), ".jsonl") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove leftover journal temp file: %w", err)
			}
		}
	}
	return nil
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

func stateExists(r *host.Root) bool {
	_, err := os.Stat(filepath.Clean(r.State()))
	return err == nil
}

// removeStateIfEmpty removes nettune's state directory when no generation
// and no module backup is left, so that a host (or fixture tree) that was
// applied and fully reverted is exactly as it was. Called under the lock,
// before it is released: the lock file is unlinked while held, which is
// safe because acquire re-checks after flock that it locked the file that
// is still at the path.
func removeStateIfEmpty(r *host.Root) {
	nums, err := listGenerations(r)
	if err != nil || len(nums) > 0 {
		return
	}
	if cleanTemps(r) != nil {
		return
	}
	os.Remove(r.State(generationsDir))
	entries, err := os.ReadDir(r.State())
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() != "lock" {
			return // a module's backup or another file: keep the directory
		}
	}
	os.Remove(r.State("lock"))
	os.Remove(r.State())
}
