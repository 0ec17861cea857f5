package host

import (
	"errors"
	"fmt"
	"io"
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
	return openIn(r.Prefix, p, flag, perm)
}

// noOpenat2 is set once openat2(2) is found missing (kernel before 5.6, or
// a seccomp filter that does not know it).
var noOpenat2 atomic.Bool

// openIn opens p inside root. The common case (no symlink, or relative
// ones that stay inside, as all of sysfs's) is one openat2(2) with
// RESOLVE_BENEATH, which the kernel resolves without a race. What it
// refuses with EXDEV (an absolute symlink, a ".." above root) and kernels
// without openat2 take resolveIn's walk, which interprets absolute links
// relative to root and names a link that leads out. On the live root p is
// opened as it is.
func openIn(root, p string, flag int, perm fs.FileMode) (*os.File, error) {
	root = filepath.Clean(root)
	if root == "/" {
		return os.OpenFile(p, flag, perm)
	}
	rest, ok := strings.CutPrefix(p, root)
	if !ok || rest != "" && rest[0] != '/' {
		return nil, fmt.Errorf("open %s: %s is not under the root %s: %w", p, p, root, ErrOutsideRoot)
	}
	if !noOpenat2.Load() {
		rel := strings.TrimLeft(rest, "/")
		if rel == "" {
			rel = "."
		}
		dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: root, Err: err}
		}
		how := &unix.OpenHow{
			Flags:   uint64(flag) | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		}
		if flag&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
			how.Mode = uint64(syscallMode(perm)) // openat2 wants 0 otherwise
		}
		fd, err := unix.Openat2(dfd, rel, how)
		unix.Close(dfd)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), p), nil
		case errors.Is(err, unix.ENOSYS):
			noOpenat2.Store(true)
		case errors.Is(err, unix.EXDEV), errors.Is(err, unix.EAGAIN):
			// an absolute link or a way out: the walk says which
		default:
			return nil, &fs.PathError{Op: "open", Path: p, Err: err}
		}
	}
	rp, err := resolveIn(root, p, flag&unix.O_NOFOLLOW == 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	// Resolved: a symlink found at the end now is a race, not followed.
	f, err := os.OpenFile(rp, flag|unix.O_NOFOLLOW, perm)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = p
		}
		return nil, err
	}
	return f, nil
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

// readIn reads a whole file inside root.
func readIn(root, p string) ([]byte, error) {
	f, err := openIn(root, p, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
