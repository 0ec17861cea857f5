package host

import (
	"runtime"
	"sync"
)

// Read is the result of one file of ReadStrings.
type Read struct {
	S   string
	Err error
}

// readManyMin is the batch below which ReadStrings reads in turn: starting
// goroutines costs more than a few opens.
const readManyMin = 32

// ReadStrings reads many small files (as ReadString does) with up to one
// reader per CPU, and returns the results in the order of paths. A large
// host has tens of thousands of per-queue and per-IRQ files, and each read
// is three system calls: spread over the CPUs, check reads them in a
// fraction of the time. It only reads, and each result is the file's
// content at the time of its own read.
func (r *Root) ReadStrings(paths []string) []Read {
	out := make([]Read, len(paths))
	if r.ahead != nil {
		rest := r.ahead.take(paths, out)
		if len(rest) == 0 {
			return out
		}
		if len(rest) < len(paths) {
			sub := make([]string, len(rest))
			for k, i := range rest {
				sub[k] = paths[i]
			}
			for k, rd := range r.readMany(sub) {
				out[rest[k]] = rd
			}
			return out
		}
	}
	r.readInto(paths, out)
	return out
}

func (r *Root) readMany(paths []string) []Read {
	out := make([]Read, len(paths))
	r.readInto(paths, out)
	return out
}

func (r *Root) readInto(paths []string, out []Read) {
	d := r.dirReaderFor(paths)
	defer d.close()
	read := func(i int) { out[i] = d.read(paths[i]) }
	workers := min(runtime.GOMAXPROCS(0), 8, len(paths)/readManyMin)
	if workers < 2 {
		for i := range paths {
			read(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (len(paths) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(paths))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				read(i)
			}
		}()
	}
	wg.Wait()
}
