package host

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// jail builds a root and, beside it, a directory standing for the rest of
// the machine, with a file in each that a write must (or must not) reach.
func jail(t *testing.T) (r *Root, outside string) {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{"proc/sys/net/core", "etc", "run", "sys/devices/pci0000:00/0000:00:03.0/net/eth0", "sys/class/net"} {
		mustMkdir(t, filepath.Join(root, d))
	}
	mustMkdir(t, outside)
	mustWrite(t, filepath.Join(outside, "somaxconn"), "4096\n")
	mustWrite(t, filepath.Join(root, "sys/devices/pci0000:00/0000:00:03.0/net/eth0/mtu"), "1500\n")
	mustLink(t, "../../devices/pci0000:00/0000:00:03.0/net/eth0", filepath.Join(root, "sys/class/net/eth0"))
	r, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	return r, outside
}

// bothWays runs f with openat2 and with the walk kernels without it take.
func bothWays(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, walk := range []bool{false, true} {
		name := "openat2"
		if walk {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) {
			old := noOpenat2.Load()
			noOpenat2.Store(walk)
			t.Cleanup(func() { noOpenat2.Store(old) })
			f(t)
		})
	}
}

func mustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustLink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func isLink(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode()&os.ModeSymlink != 0
}

// TestEscapingLinkRefused: a symlink in the root whose target climbs out
// of it is refused by every write and read, with an error naming the
// link, and the file outside is untouched.
func TestEscapingLinkRefused(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		r, outside := jail(t)
		// root/proc/sys/net/core/somaxconn -> ../../../../../outside/somaxconn
		link := r.Proc("sys/net/core/somaxconn")
		mustLink(t, "../../../../../outside/somaxconn", link)
		// root/etc/fstab -> ../../outside/somaxconn, a config file
		mustLink(t, "../../outside/somaxconn", r.Etc("fstab"))
		// root/run/dir -> ../../outside, a directory on the way
		mustLink(t, "../../outside", r.Run("dir"))

		checks := []struct {
			what string
			link string
			err  error
		}{
			{"WriteKernel", "/proc/sys/net/core/somaxconn", r.W.WriteKernel(link, "1")},
			{"WriteFile", "/etc/fstab", r.W.WriteFile(r.Etc("fstab"), []byte("x\n"), 0o644)},
			{"WriteFile through a directory link", "/run/dir", r.W.WriteFile(r.Run("dir/somaxconn"), []byte("x\n"), 0o644)},
			{"WriteFile of a new file through a directory link", "/run/dir", r.W.WriteFile(r.Run("dir/new"), []byte("x\n"), 0o644)},
			{"Remove through a directory link", "/run/dir", r.W.Remove(r.Run("dir/somaxconn"))},
			{"Mkdir through a directory link", "/run/dir", r.W.Mkdir(r.Run("dir/sub"), 0o755)},
		}
		_, rerr := r.ReadString(link)
		checks = append(checks, struct {
			what string
			link string
			err  error
		}{"ReadString", "/proc/sys/net/core/somaxconn", rerr})
		for _, c := range checks {
			if !errors.Is(c.err, ErrOutsideRoot) {
				t.Errorf("%s: %v, want ErrOutsideRoot", c.what, c.err)
				continue
			}
			if !strings.Contains(c.err.Error(), "symlink "+c.link+" -> ") {
				t.Errorf("%s: error does not name the link %s: %v", c.what, c.link, c.err)
			}
		}
		if got := mustRead(t, filepath.Join(outside, "somaxconn")); got != "4096\n" {
			t.Errorf("outside file is %q after the refused writes", got)
		}
		entries, _ := os.ReadDir(outside)
		if len(entries) != 1 {
			t.Errorf("outside directory holds %d entries, want 1", len(entries))
		}
		if !isLink(link) || !isLink(r.Etc("fstab")) || !isLink(r.Run("dir")) {
			t.Error("a refused write replaced a link")
		}
	})
}

// TestAbsoluteLinkInRoot: an absolute symlink target is interpreted
// relative to the root, as after chroot.
func TestAbsoluteLinkInRoot(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		r, outside := jail(t)
		// An absolute link naming the outside file by its real path lands in
		// the root, where that path does not exist.
		link := r.Proc("sys/net/core/somaxconn")
		mustLink(t, filepath.Join(outside, "somaxconn"), link)
		if err := r.W.WriteKernel(link, "1"); !IsNotExist(err) {
			t.Errorf("WriteKernel through an absolute link: %v, want not exist", err)
		}
		if got := mustRead(t, filepath.Join(outside, "somaxconn")); got != "4096\n" {
			t.Errorf("outside file is %q", got)
		}

		// /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf
		mustMkdir(t, r.Run("systemd/resolve"))
		mustWrite(t, r.Run("systemd/resolve/stub-resolv.conf"), "nameserver 127.0.0.53\n")
		mustLink(t, "/run/systemd/resolve/stub-resolv.conf", r.Etc("resolv.conf"))
		if got, err := r.ReadString(r.Etc("resolv.conf")); err != nil || got != "nameserver 127.0.0.53" {
			t.Errorf("ReadString = %q, %v", got, err)
		}
		if err := r.W.WriteFile(r.Etc("resolv.conf"), []byte("nameserver 10.0.0.1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, r.Run("systemd/resolve/stub-resolv.conf")); got != "nameserver 10.0.0.1\n" {
			t.Errorf("link target holds %q", got)
		}
		if !isLink(r.Etc("resolv.conf")) {
			t.Error("/etc/resolv.conf is no longer a link")
		}
		// A directory link with an absolute target, and a link to "/".
		mustLink(t, "/sys/devices", r.Run("devices"))
		mustLink(t, "/", r.Run("top"))
		if err := r.W.WriteKernel(r.Run("top/run/devices/pci0000:00/0000:00:03.0/net/eth0/mtu"), "9000"); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, r.Sys("devices/pci0000:00/0000:00:03.0/net/eth0/mtu")); got != "9000\n" {
			t.Errorf("mtu is %q", got)
		}
	})
}

// TestSymlinkedFileStaysLink: a config file that is a symlink to a file
// beside it is written through, by apply and by revert alike, and stays a
// link; the temp file is made beside the target and does not stay.
func TestSymlinkedFileStaysLink(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    func(r *Root) Writer
	}{
		{"offline root", func(r *Root) Writer { return r.W }},
		// The live root's writer walks nothing but the final link; on a
		// temporary directory it shows the same behaviour.
		{"live root", func(*Root) Writer { return OSWriter{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := jail(t)
			w := tc.w(r)
			mustMkdir(t, r.Etc("default/real"))
			mustWrite(t, r.Etc("fstab.real"), "proc /proc proc defaults 0 0\n")
			mustLink(t, "fstab.real", r.Etc("fstab"))
			mustWrite(t, r.Etc("default/real/grub"), "GRUB_CMDLINE_LINUX=\"\"\n")
			mustLink(t, "real/grub", r.Etc("default/grub"))
			for _, f := range []struct{ link, target, orig string }{
				{r.Etc("fstab"), r.Etc("fstab.real"), "proc /proc proc defaults 0 0\n"},
				{r.Etc("default/grub"), r.Etc("default/real/grub"), "GRUB_CMDLINE_LINUX=\"\"\n"},
			} {
				// apply, then revert
				for _, content := range []string{f.orig + "# managed by nettune\n", f.orig} {
					if err := w.WriteFile(f.link, []byte(content), 0o644); err != nil {
						t.Fatal(err)
					}
					if !isLink(f.link) {
						t.Fatalf("%s is no longer a link", f.link)
					}
					if got := mustRead(t, f.target); got != content {
						t.Errorf("%s holds %q, want %q", f.target, got, content)
					}
				}
			}
			for _, d := range []string{r.Etc(), r.Etc("default"), r.Etc("default/real")} {
				entries, _ := os.ReadDir(d)
				for _, e := range entries {
					if strings.Contains(e.Name(), ".nettune-") {
						t.Errorf("temp file %s left in %s", e.Name(), d)
					}
				}
			}
		})
	}
}

// TestDotDotClamps: ".." in a path asked for stops at the root, as in a
// chroot; a link's ".." inside the root works as usual; a path not under
// the root at all is refused.
func TestDotDotClamps(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		r, outside := jail(t)
		mustWrite(t, r.Proc("sys/net/core/somaxconn"), "128\n")
		// Not cleaned by Path on purpose: the writer gets the raw path.
		if err := r.W.WriteKernel(r.Prefix+"/../../../proc/sys/net/core/somaxconn", "1024"); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, r.Proc("sys/net/core/somaxconn")); got != "1024\n" {
			t.Errorf("somaxconn is %q", got)
		}
		if got, err := r.ReadString(r.Prefix + "/../proc/sys/net/core/somaxconn"); err != nil || got != "1024" {
			t.Errorf("ReadString = %q, %v", got, err)
		}
		// A relative link climbing inside the root: /sys/class/net/eth0.
		if err := r.W.WriteKernel(r.Sys("class/net/eth0/mtu"), "9000"); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, r.Sys("devices/pci0000:00/0000:00:03.0/net/eth0/mtu")); got != "9000\n" {
			t.Errorf("mtu is %q", got)
		}
		// ".." after a directory link goes to the link target's parent.
		if got, err := r.ReadString(r.Prefix + "/sys/class/net/eth0/../eth0/mtu"); err != nil || got != "9000" {
			t.Errorf("ReadString through eth0/.. = %q, %v", got, err)
		}
		// A path that is not under the root.
		for _, p := range []string{filepath.Join(outside, "somaxconn"), r.Prefix + "x/y", "/etc/hostname"} {
			if err := r.W.WriteKernel(p, "1"); !errors.Is(err, ErrOutsideRoot) {
				t.Errorf("WriteKernel(%s): %v, want ErrOutsideRoot", p, err)
			}
		}
		if got := mustRead(t, filepath.Join(outside, "somaxconn")); got != "4096\n" {
			t.Errorf("outside file is %q", got)
		}
	})
}

func TestRemoveLinkItself(t *testing.T) {
	r, _ := jail(t)
	mustWrite(t, r.Etc("fstab.real"), "x\n")
	mustLink(t, "fstab.real", r.Etc("fstab"))
	if got, err := r.ResolveNoFollow(r.Etc("fstab")); err != nil || got != r.Etc("fstab") {
		t.Errorf("ResolveNoFollow = %q, %v", got, err)
	}
	if got, err := r.Resolve(r.Etc("fstab")); err != nil || got != r.Etc("fstab.real") {
		t.Errorf("Resolve = %q, %v", got, err)
	}
	if err := r.W.Remove(r.Etc("fstab")); err != nil {
		t.Fatal(err)
	}
	if r.Exists(r.Etc("fstab")) || !r.Exists(r.Etc("fstab.real")) {
		t.Error("Remove of a link removed its target or left the link")
	}
	if err := r.W.Remove(r.Etc("missing/file")); err != nil {
		t.Errorf("Remove of a missing file: %v", err)
	}
}

func TestSymlinkLoop(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		r, _ := jail(t)
		mustLink(t, "b", r.Etc("a"))
		mustLink(t, "a", r.Etc("b"))
		if err := r.W.WriteFile(r.Etc("a"), []byte("x"), 0o644); !errors.Is(err, syscall.ELOOP) {
			t.Errorf("WriteFile through a loop: %v, want ELOOP", err)
		}
		if _, err := r.ReadFile(r.Etc("a")); !errors.Is(err, syscall.ELOOP) {
			t.Errorf("ReadFile through a loop: %v, want ELOOP", err)
		}
	})
}

// TestOpenFileInRoot: OpenFile (for code outside the Writer: the journal,
// the lock) resolves like the Writer.
func TestOpenFileInRoot(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		r, outside := jail(t)
		mustLink(t, "../../outside", r.Run("state"))
		if f, err := r.OpenFile(r.Run("state/lock"), os.O_RDWR|os.O_CREATE, 0o600); !errors.Is(err, ErrOutsideRoot) {
			if f != nil {
				f.Close()
			}
			t.Errorf("OpenFile through an escaping link: %v", err)
		}
		if _, err := os.Stat(filepath.Join(outside, "lock")); err == nil {
			t.Error("lock created outside the root")
		}
		for _, flag := range []int{os.O_RDWR | os.O_CREATE, os.O_RDWR, os.O_WRONLY | os.O_APPEND} {
			f, err := r.OpenFile(r.Run("lock"), flag, 0o600)
			if err != nil {
				t.Fatalf("OpenFile(%#o): %v", flag, err)
			}
			f.Close()
		}
	})
}

// BenchmarkReadFile reads a sysfs attribute reached through a class link,
// as the nics module does for every queue of every NIC: plainly (no jail),
// through the Root (openat2), and through the walk openat2 falls back to.
func BenchmarkReadFile(b *testing.B) {
	root := b.TempDir()
	dev := filepath.Join(root, "sys/devices/pci0000:00/0000:00:03.0/net/eth0/queues/rx-0")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dev, "rps_cpus"), []byte("0\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "sys/class/net"), 0o755)
	os.Symlink("../../devices/pci0000:00/0000:00:03.0/net/eth0", filepath.Join(root, "sys/class/net/eth0"))
	p := filepath.Join(root, "sys/class/net/eth0/queues/rx-0/rps_cpus")
	r := &Root{Prefix: root}
	for _, bc := range []struct {
		name string
		read func() ([]byte, error)
	}{
		{"os", func() ([]byte, error) { return os.ReadFile(p) }},
		{"root", func() ([]byte, error) { return r.ReadFile(p) }},
		{"walk", func() ([]byte, error) {
			rp, err := resolveIn(root, p, true)
			if err != nil {
				return nil, err
			}
			return os.ReadFile(rp)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := bc.read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
