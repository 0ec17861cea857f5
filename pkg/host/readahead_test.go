package host

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// aheadFiles writes n files f0..f(n-1) holding "old <i>" under a new root.
func aheadFiles(t *testing.T, n int) (*Root, []string) {
	t.Helper()
	dir := t.TempDir()
	r, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(paths[i], []byte(fmt.Sprintf("old %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return r, paths
}

// waitAhead waits until the read-ahead has read everything it was given.
func waitAhead(t *testing.T, r *Root) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.ahead.mu.Lock()
		busy := r.ahead.running
		r.ahead.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the read-ahead did not finish in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func rewrite(t *testing.T, paths []string) {
	t.Helper()
	for i, p := range paths {
		if err := os.WriteFile(p, []byte(fmt.Sprintf("new %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func wantAll(t *testing.T, what string, got []Read, prefix string) {
	t.Helper()
	for i, g := range got {
		if want := fmt.Sprintf("%s %d", prefix, i); g.Err != nil || g.S != want {
			t.Fatalf("%s: file %d = %q, %v; want %q", what, i, g.S, g.Err, want)
		}
	}
}

// TestReadAheadIsTakenOnce: a result read ahead answers one ReadStrings;
// the next ReadStrings of the same files reads them again and sees what
// changed in between (a read-ahead is never a cache).
func TestReadAheadIsTakenOnce(t *testing.T) {
	base, paths := aheadFiles(t, 200)
	r, done := base.WithReadAhead()
	defer done()
	r.ReadAhead(paths)
	waitAhead(t, r)
	rewrite(t, paths)
	// Read ahead before the rewrite: the first reading is the old content.
	wantAll(t, "first reading", r.ReadStrings(paths), "old")
	wantAll(t, "second reading", r.ReadStrings(paths), "new")
}

// TestReadAheadDoneDropsTheRest: what was read ahead and not taken is
// dropped when the read-ahead is done, and the Root then reads as one
// without a read-ahead; ReadAhead after done reads nothing.
func TestReadAheadDoneDropsTheRest(t *testing.T) {
	base, paths := aheadFiles(t, 100)
	r, done := base.WithReadAhead()
	r.ReadAhead(paths)
	waitAhead(t, r)
	done()
	rewrite(t, paths)
	wantAll(t, "after done", r.ReadStrings(paths), "new")
	r.ReadAhead(paths)
	r.ahead.mu.Lock()
	queued := len(r.ahead.slots)
	r.ahead.mu.Unlock()
	if queued != 0 {
		t.Fatalf("ReadAhead after done queued %d files", queued)
	}
}

// TestReadAheadNotForSingleReads: ReadFile and ReadString, which read
// back writes, never take a result read ahead.
func TestReadAheadNotForSingleReads(t *testing.T) {
	base, paths := aheadFiles(t, 10)
	r, done := base.WithReadAhead()
	defer done()
	r.ReadAhead(paths)
	waitAhead(t, r)
	rewrite(t, paths)
	for i, p := range paths {
		if s, err := r.ReadString(p); err != nil || s != fmt.Sprintf("new %d", i) {
			t.Fatalf("ReadString(%s) = %q, %v after a rewrite", p, s, err)
		}
	}
	if base.ahead != nil {
		t.Fatal("WithReadAhead changed the Root it was made from")
	}
}

// TestReadAheadKeepsErrorsAndRoot: a missing file read ahead is an error
// like one read directly, and a link out of the root is refused.
func TestReadAheadKeepsErrorsAndRoot(t *testing.T) {
	base, paths := aheadFiles(t, 3)
	os.Remove(paths[1])
	out := filepath.Join(base.Prefix, "out")
	if err := os.Symlink("/etc/hostname", out); err != nil {
		t.Fatal(err)
	}
	all := append(paths, out)
	r, done := base.WithReadAhead()
	defer done()
	r.ReadAhead(all)
	waitAhead(t, r)
	got := r.ReadStrings(all)
	if !IsNotExist(got[1].Err) {
		t.Fatalf("missing file read ahead: %q, %v", got[1].S, got[1].Err)
	}
	if got[3].Err == nil {
		t.Fatalf("read %q through a link out of the root", got[3].S)
	}
	if got[0].S != "old 0" || got[2].S != "old 2" {
		t.Fatalf("got %+v", got)
	}
}

// TestReadAheadRacesReaders: callers asking for files while they are
// queued, being read or read get each file's content once, in order
// (run with -race).
func TestReadAheadRacesReaders(t *testing.T) {
	base, paths := aheadFiles(t, 2000)
	r, done := base.WithReadAhead()
	defer done()
	r.ReadAhead(paths)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		lo := w * 500
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < lo+500; i += 50 {
				for k, g := range r.ReadStrings(paths[i : i+50]) {
					if want := fmt.Sprintf("old %d", i+k); g.Err != nil || g.S != want {
						errs <- fmt.Errorf("file %d = %q, %v; want %q", i+k, g.S, g.Err, want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
