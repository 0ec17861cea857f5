package host

import (
	"strings"
	"sync"
)

// A read-ahead reads files a caller will ask for soon on a goroutine of its
// own, so that a planner's work on one NIC overlaps the reads of the next
// NIC's queue and IRQ files (three system calls each, thousands of them on
// a big host). ReadStrings takes each result once; a file asked for before
// its turn is read by the caller, as without a read-ahead.

const (
	slotQueued = iota
	slotReading
	slotDone
)

type aheadSlot struct {
	state int
	read  Read
}

type readAhead struct {
	mu      sync.Mutex
	cond    sync.Cond // a slot became slotDone
	slots   map[string]*aheadSlot
	queue   [][]string // batches of paths (one ReadAhead each), in order
	running bool       // a goroutine is reading the queue
	closed  bool
}

// WithReadAhead returns a Root that is r with a read-ahead: ReadAhead
// queues files, and its ReadStrings takes what was read ahead. Each result
// is the file's content at the time of its read, read at most the life of
// the returned Root earlier than asked for: for a plan, which is a reading
// of the host at one moment, not for reading back a write (ReadFile and
// ReadString never use it). done stops the reading and drops what was
// not taken; call it when the plan is made.
func (r *Root) WithReadAhead() (ahead *Root, done func()) {
	ra := &readAhead{slots: map[string]*aheadSlot{}}
	ra.cond.L = &ra.mu
	c := *r
	c.ahead = ra
	return &c, ra.close
}

// ReadAhead queues paths to be read in the background, in order (nothing
// without WithReadAhead). Paths already queued and not yet taken are not
// queued again.
func (r *Root) ReadAhead(paths []string) {
	ra := r.ahead
	if ra == nil || len(paths) == 0 {
		return
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.closed {
		return
	}
	batch := make([]string, 0, len(paths))
	for _, p := range paths {
		if _, ok := ra.slots[p]; !ok {
			ra.slots[p] = &aheadSlot{}
			batch = append(batch, p)
		}
	}
	ra.queue = append(ra.queue, batch)
	if !ra.running {
		ra.running = true
		go ra.run(r)
	}
}

func (ra *readAhead) run(r *Root) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	for len(ra.queue) > 0 && !ra.closed {
		batch := ra.queue[0]
		ra.queue = ra.queue[1:]
		ra.mu.Unlock()
		d := r.dirReaderFor(batch)
		ra.mu.Lock()
		for _, p := range batch {
			s := ra.slots[p]
			if ra.closed || s == nil || s.state != slotQueued {
				continue // taken by a caller
			}
			s.state = slotReading
			ra.mu.Unlock()
			s.read = d.read(p)
			ra.mu.Lock()
			s.state = slotDone
			ra.cond.Broadcast()
		}
		d.close()
	}
	ra.running = false
	ra.queue = nil
}

func (ra *readAhead) close() {
	ra.mu.Lock()
	ra.closed = true
	clear(ra.slots)
	ra.queue = nil
	ra.mu.Unlock()
}

// take fills out with what was read ahead for paths and returns the
// indexes the caller must read itself. A file being read is waited for.
func (ra *readAhead) take(paths []string, out []Read) (rest []int) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	var reading []int
	var slots []*aheadSlot
	for i, p := range paths {
		s := ra.slots[p]
		switch {
		case s == nil:
			rest = append(rest, i)
		case s.state == slotQueued:
			// Not read yet: the caller reads it now, the queue skips it.
			delete(ra.slots, p)
			rest = append(rest, i)
		case s.state == slotReading:
			reading, slots = append(reading, i), append(slots, s)
		default:
			out[i] = s.read
			delete(ra.slots, p)
		}
	}
	for k, i := range reading {
		s := slots[k]
		for s.state != slotDone {
			ra.cond.Wait()
		}
		out[i] = s.read
		delete(ra.slots, paths[i])
	}
	return rest
}

// readOne is ReadStrings' reading of one file.
func readOne(r *Root, p string) Read {
	b, err := r.ReadFile(p)
	if err != nil {
		return Read{Err: err}
	}
	return Read{S: strings.TrimRight(string(b), "\n")}
}
