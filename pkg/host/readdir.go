package host

import (
	"errors"
	"io/fs"
	"strings"

	"golang.org/x/sys/unix"
)

// dirReader reads many files under one directory through a descriptor of
// that directory, so that each open walks only what follows it ("rx-0/
// rps_cpus", not the ten components from the root through sysfs's
// links): a fifth of the cost of reading a small file. A path the kernel
// will not resolve beneath the directory (a ".." or an absolute link) is
// read from the root as ReadFile reads it, and so is every path when the
// directory cannot be opened.
type dirReader struct {
	r   *Root
	dir string // the directory, with a trailing slash
	fd  int    // -1: read every path from the root
}

// dirReaderFor opens the deepest directory that all paths are under, when
// it is deeper than the root (a batch of one NIC's queue files, of
// /proc/irq). Close it when done.
func (r *Root) dirReaderFor(paths []string) *dirReader {
	d := &dirReader{r: r, fd: -1}
	if len(paths) < 2 {
		return d
	}
	dir := paths[0][:strings.LastIndexByte(paths[0], '/')+1]
	for _, p := range paths[1:] {
		for !strings.HasPrefix(p, dir) {
			dir = dir[:strings.LastIndexByte(dir[:len(dir)-1], '/')+1]
		}
	}
	root := strings.TrimSuffix(r.Prefix, "/") + "/"
	if len(dir) <= len(root) || !strings.HasPrefix(dir, root) || strings.Contains(dir, "/../") {
		return d
	}
	fd, err := openFdIn(r.Prefix, r.dir, strings.TrimSuffix(dir, "/"), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return d
	}
	d.dir, d.fd = dir, fd
	return d
}

func (d *dirReader) close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// read reads p as ReadStrings does.
func (d *dirReader) read(p string) Read {
	rel, ok := strings.CutPrefix(p, d.dir)
	if d.fd < 0 || !ok || rel == "" {
		return readOne(d.r, p)
	}
	fd, err := d.open(rel)
	switch {
	case errors.Is(err, unix.EXDEV), errors.Is(err, unix.EAGAIN), errors.Is(err, unix.ENOSYS):
		// Out of the directory, a rename racing the walk, no openat2:
		// the root's reading says what it is.
		return readOne(d.r, p)
	case err != nil:
		return Read{Err: &fs.PathError{Op: "open", Path: p, Err: err}}
	}
	b, err := readFd(fd, p)
	if err != nil {
		return Read{Err: err}
	}
	return Read{S: strings.TrimRight(string(b), "\n")}
}

func (d *dirReader) open(rel string) (int, error) {
	if d.r.Live() {
		return openRetryErrno(d.fd, rel)
	}
	if noOpenat2.Load() {
		return -1, unix.ENOSYS
	}
	return openat2Retry(d.fd, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// openRetryErrno is openat(2) of a file to read, retried on EINTR, with
// the bare errno.
func openRetryErrno(dfd int, rel string) (int, error) {
	for {
		fd, err := unix.Openat(dfd, rel, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
