package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrOutsideRoot is wrapped when a path, or a symlink met while resolving
// one, would lead out of the root nettune works on.
var ErrOutsideRoot = errors.New("leads outside the root")

// maxSymlinks is how many symlinks one resolution follows, as the kernel's
// MAXSYMLINKS (40).
const maxSymlinks = 40

// component is one name still to resolve. link is the host path of the
// symlink whose target it comes from, "" for a name of the path asked for.
type component struct{ name, link string }

// resolveIn resolves p, a path under root as Root.Path builds it, the way
// the kernel would after chroot(root), like openat2(RESOLVE_IN_ROOT): an
// absolute symlink target starts again at root, and ".." in the path asked
// for stops at root. A symlink whose target would climb above root is
// refused with ErrOutsideRoot, naming the link: in a fixture or a host
// snapshot it is a mistake, and following it clamped would write a file
// nobody meant. With follow, a final symlink is followed too; without, the
// final name is returned as is (to remove or lstat the link itself).
//
// Names from the first one that does not exist on are appended as they
// are, so the result also names files and directories to create. On the
// live root ("/") nothing is walked: p is returned unchanged.
//
// The walk costs one lstat per component and a readlink per symlink. It is
// not proof against a tree changing under it while it runs; the trees it
// protects (fixtures, snapshots) are not changed by anyone else.
func resolveIn(root, p string, follow bool) (string, error) {
	root = filepath.Clean(root)
	if root == "/" {
		return p, nil
	}
	rest, ok := strings.CutPrefix(p, root)
	if !ok || rest != "" && rest[0] != '/' {
		return "", fmt.Errorf("%s is not under the root %s: %w", p, root, ErrOutsideRoot)
	}
	var todo []component // a stack: the next name is last
	todo = push(todo, rest, "")
	var done []string // resolved names below root; none is a symlink
	links := 0
	missing := ""
	for len(todo) > 0 {
		c := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		switch c.name {
		case "", ".":
			continue
		case "..":
			if missing != "" {
				return "", &fs.PathError{Op: "resolve", Path: p, Err: syscall.ENOENT}
			}
			if len(done) == 0 {
				if c.link != "" {
					t, _ := os.Readlink(root + c.link)
					return "", fmt.Errorf("symlink %s -> %s: %w %s", c.link, t, ErrOutsideRoot, root)
				}
				continue // chroot semantics: "/.." is "/"
			}
			done = done[:len(done)-1]
			continue
		}
		if missing != "" || len(todo) == 0 && !follow {
			done = append(done, c.name)
			continue
		}
		cur := root + hostJoin(done) + "/" + c.name
		if len(done) == 0 {
			cur = root + "/" + c.name
		}
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			missing = cur
			done = append(done, c.name)
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c.name)
			continue
		}
		links++
		if links > maxSymlinks {
			return "", &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = done[:0]
		}
		todo = push(todo, target, cur[len(root):])
	}
	if len(done) == 0 {
		return root, nil
	}
	return root + hostJoin(done), nil
}

// push adds the names of path to the stack so that the first is on top.
func push(todo []component, path, link string) []component {
	names := strings.Split(path, "/")
	for i := len(names) - 1; i >= 0; i-- {
		todo = append(todo, component{names[i], link})
	}
	return todo
}

func hostJoin(names []string) string { return "/" + strings.Join(names, "/") }

// finalTarget follows the symlinks p ends in on the live root, so that a
// file replaced by rename keeps its links (/etc/resolv.conf). Relative
// targets are joined without cleaning, so the kernel resolves ".." after a
// symlinked directory as it does for the link itself.
func finalTarget(p string) (string, error) {
	for i := 0; ; i++ {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil // a missing file is created; other errors show up on use
		}
		if i == maxSymlinks {
			return "", &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
		}
		t, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(t, "/") {
			t = p[:strings.LastIndex(p, "/")+1] + t
		}
		p = t
	}
}

// Resolve returns the path p, a path under the root as Path builds it,
// resolves to inside the root, following symlinks (a final one too) as
// the kernel would after chroot to the root; a symlink leading out is
// refused with ErrOutsideRoot. On the live root p is returned unchanged.
// Code that must open a file nettune's Writer does not cover (a journal it
// appends to, a lock) opens what Resolve returns, or uses OpenFile.
func (r *Root) Resolve(p string) (string, error) { return resolveIn(r.Prefix, p, true) }

// ResolveNoFollow is Resolve without following a final symlink: the path
// to remove or lstat a link itself, or to remove a file.
func (r *Root) ResolveNoFollow(p string) (string, error) { return resolveIn(r.Prefix, p, false) }

// OpenFile opens p (a path under the root) like os.OpenFile, resolving it
// inside the root as Resolve does; with O_NOFOLLOW a final symlink is not
// followed.
func (r *Root) OpenFile(p string, flag int, perm fs.FileMode) (*os.File, error) {
	return openIn(r.Prefix, r.dir, p, flag, perm)
}

// noOpenat2 is set once openat2(2) is found missing (kernel before 5.6, or
// a seccomp filter that does not know it).
var noOpenat2 atomic.Bool

// openIn opens p inside root. The common case (no symlink, or relative
// ones that stay inside, as all of sysfs's) is one openat2(2) with
// RESOLVE_BENEATH, which the kernel resolves without a race. What it
// refuses with EXDEV (an absolute link, a ".." above root) and kernels
// without openat2 take resolveIn's walk, which interprets absolute links
// relative to root and names a link that leads out. On the live root p is
// opened as it is. dir, when not nil, is root opened with O_PATH (Root
// keeps one): without it each open opens root first.
func openIn(root string, dir *os.File, p string, flag int, perm fs.FileMode) (*os.File, error) {
	fd, err := openFdIn(root, dir, p, flag, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), p), nil
}

// openFdIn is openIn returning the bare descriptor: a read of a small
// sysfs file then costs open, read, read and close, not the fcntl or fstat
// an *os.File adds (thousands of them on a large host).
func openFdIn(root string, dir *os.File, p string, flag int, perm fs.FileMode) (int, error) {
	root = filepath.Clean(root)
	mode := uint32(0)
	if flag&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
		mode = syscallMode(perm) // openat2 wants 0 otherwise
	}
	if root == "/" {
		return openRetry(unix.AT_FDCWD, p, p, flag, mode)
	}
	rest, ok := strings.CutPrefix(p, root)
	if !ok || rest != "" && rest[0] != '/' {
		return -1, fmt.Errorf("open %s: %s is not under the root %s: %w", p, p, root, ErrOutsideRoot)
	}
	if !noOpenat2.Load() {
		rel := strings.TrimLeft(rest, "/")
		if rel == "" {
			rel = "."
		}
		how := &unix.OpenHow{
			Flags:   uint64(flag) | unix.O_CLOEXEC,
			Mode:    uint64(mode),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		}
		fd, err := openat2Under(root, dir, rel, how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.ENOSYS):
			noOpenat2.Store(true)
		case errors.Is(err, unix.EXDEV), errors.Is(err, unix.EAGAIN):
			// an absolute link or a way out: the walk says which
		default:
			return -1, &fs.PathError{Op: "open", Path: p, Err: err}
		}
	}
	rp, err := resolveIn(root, p, flag&unix.O_NOFOLLOW == 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", p, err)
	}
	// Resolved: a symlink found at the end now is a race, not followed.
	return openRetry(unix.AT_FDCWD, rp, p, flag|unix.O_NOFOLLOW, mode)
}

// openat2Under runs openat2 relative to root: through dir when given,
// else through a descriptor of root opened for this call.
func openat2Under(root string, dir *os.File, rel string, how *unix.OpenHow) (int, error) {
	if dir != nil {
		rc, err := dir.SyscallConn()
		if err == nil {
			fd, oerr := -1, error(nil)
			if err = rc.Control(func(dfd uintptr) { fd, oerr = openat2Retry(int(dfd), rel, how) }); err == nil {
				return fd, oerr
			}
		}
	}
	dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dfd)
	return openat2Retry(dfd, rel, how)
}

func openat2Retry(dfd int, rel string, how *unix.OpenHow) (int, error) {
	for {
		fd, err := unix.Openat2(dfd, rel, how)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// openRetry is openat(2) retried on EINTR (as package os does), with
// errors naming name.
func openRetry(dfd int, path, name string, flag int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dfd, path, flag|unix.O_CLOEXEC, mode)
		if err == nil {
			return fd, nil
		}
		if err != unix.EINTR {
			return -1, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
}

// syscallMode is os's conversion of a FileMode to open(2)'s mode.
func syscallMode(m fs.FileMode) uint32 {
	o := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		o |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		o |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		o |= unix.S_ISVTX
	}
	return o
}

// readIn reads a whole file inside root with bare read(2) calls. A read
// that returns less than it was asked for ends the file, which saves the
// read that would return 0 (a quarter of the system calls of a small
// file): sysfs and procfs files are seq_files, whose read fills the buffer
// until the last record; a regular file reads short only at its end.
// Pipes and sockets, which read short at any time, are not read here.
func readIn(root string, dir *os.File, p string) ([]byte, error) {
	fd, err := openFdIn(root, dir, p, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return readFd(fd, p)
}

// readFd reads fd (named p in errors) to its end and closes it.
func readFd(fd int, p string) ([]byte, error) {
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	sized := false
	for {
		if len(buf) == cap(buf) {
			// More than fits: a regular file says how much more (sysfs
			// and procfs say 4096 or 0), so a large file is read into
			// one buffer instead of one doubled at each read.
			var st unix.Stat_t
			if !sized && unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size > int64(cap(buf)) && st.Size < 1<<30 {
				grown := make([]byte, len(buf), st.Size+1)
				copy(grown, buf)
				buf = grown
			} else {
				buf = append(buf, 0)[:len(buf)]
			}
			sized = true
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: p, Err: err}
		case n == 0:
			return buf, nil
		}
		short := n < cap(buf)-len(buf)
		buf = buf[:len(buf)+n]
		if short {
			return buf, nil
		}
	}
}
