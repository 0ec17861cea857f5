package engine

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/nettune/nettune/pkg/host"
)

// lock is an exclusive, non-blocking flock on <state>/lock.
//
// The lock file is removed when the last generation is reverted, while it
// is still held. A process that opened the file before the unlink and
// flocks it afterwards holds a lock on an orphaned inode that nobody else
// can see, so after every successful flock acquire checks that the path
// still names the inode it locked, and starts again if not.
type lock struct {
	f    *os.File
	path string
}

func acquire(r *host.Root) (*lock, error) {
	if err := stateInRoot(r); err != nil {
		return nil, err
	}
	if err := r.W.Mkdir(r.State(), 0o700); err != nil {
		return nil, err
	}
	p := r.State("lock")
	for attempt := 0; attempt < 100; attempt++ {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				// The directory went away with the previous holder's
				// release; make it again.
				if err := r.W.Mkdir(r.State(), 0o700); err != nil {
					return nil, err
				}
				continue
			}
			return nil, fmt.Errorf("open lock %s: %w", p, err)
		}
		ok, err := lockAndVerify(f, p)
		if err != nil {
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
		if !ok {
			f.Close() // we locked a file that was unlinked meanwhile
			continue
		}
		f.Truncate(0)
		fmt.Fprintf(f, "pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
		return &lock{f: f, path: p}, nil
	}
	return nil, fmt.Errorf("lock %s: the lock file keeps being replaced", p)
}

// lockAndVerify flocks f and reports whether p still names f's inode. When
// it does not, the lock is on an orphan and the caller must retry.
func lockAndVerify(f *os.File, p string) (bool, error) {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false, err
	}
	var held, named syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &held); err != nil {
		return false, err
	}
	if err := syscall.Stat(p, &named); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return false, nil
		}
		return false, err
	}
	return held.Ino == named.Ino && held.Dev == named.Dev, nil
}

// release removes the state directory if nothing is recorded any more, then
// unlocks.
func (l *lock) release(r *host.Root) {
	removeStateIfEmpty(r)
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}

// stateInRoot refuses a state directory that a symlink in the root leads
// elsewhere: the journal, the lock and the backups are opened by path, and
// under --root they must stay in the tree, like every other write.
func stateInRoot(r *host.Root) error {
	if r.Live() {
		return nil
	}
	got, err := r.Resolve(r.State())
	if err != nil {
		return fmt.Errorf("state directory %s: %w", r.HostPath(r.State()), err)
	}
	if got != r.State() {
		return fmt.Errorf("state directory %s is reached through a symlink (to %s): %w; nettune keeps its journal only at the real path under --root", r.HostPath(r.State()), r.HostPath(got), host.ErrOutsideRoot)
	}
	return nil
}
