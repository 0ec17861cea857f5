package host

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// NetNS identifies the network namespace nettune runs in. Network sysctls,
// interfaces and their queues belong to a namespace: a value written in one
// must be restored in the same one.
type NetNS struct {
	// Inode and Dev identify the namespace (stat of /proc/self/ns/net).
	Inode uint64 `json:"inode" yaml:"inode"`
	Dev   uint64 `json:"dev" yaml:"dev"`
	// Name is the name under /run/netns (ip netns), when it has one.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Initial is true in the host's initial namespace (that of PID 1, or
	// of kthreadd); it stays true, a guess, when neither can be read.
	Initial bool `json:"initial" yaml:"initial"`
}

// String names the namespace for messages.
func (n *NetNS) String() string {
	if n == nil {
		return "the root's namespace"
	}
	switch {
	case n.Name != "":
		return fmt.Sprintf("network namespace %q (inode %d)", n.Name, n.Inode)
	case n.Initial:
		return fmt.Sprintf("the initial network namespace (inode %d)", n.Inode)
	}
	return fmt.Sprintf("network namespace inode %d", n.Inode)
}

// Same reports whether a and b are the same namespace. Two nil values (an
// offline root) are the same.
func (n *NetNS) Same(o *NetNS) bool {
	if n == nil || o == nil {
		return n == nil && o == nil
	}
	return n.Inode == o.Inode && n.Dev == o.Dev
}

// EnterCommand is the command prefix that runs nettune in namespace n, for
// messages.
func (n *NetNS) EnterCommand() string {
	switch {
	case n == nil:
		return ""
	case n.Name != "":
		return "ip netns exec " + ShellQuote(n.Name) + " "
	case n.Initial:
		return "nsenter --net=/proc/1/ns/net "
	}
	return fmt.Sprintf("nsenter --net=/proc/PID/ns/net (a process in namespace inode %d) ", n.Inode)
}

// CurrentNetNS returns the network namespace of this process on the live
// host, or nil for an offline root (a tree has no namespaces).
func CurrentNetNS(r *Root) (*NetNS, error) {
	if !r.Live() {
		return nil, nil
	}
	return netnsAt("/proc/self/ns/net", "/proc/1/ns/net", "/run/netns")
}

func netnsAt(self, init, named string) (*NetNS, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(self, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", self, err)
	}
	n := &NetNS{Inode: st.Ino, Dev: uint64(st.Dev), Initial: true}
	// PID 1 is in the initial namespace. Where its ns links cannot be read
	// (a hardened or special init), kthreadd (PID 2 in the host's PID
	// namespace) is: kernel threads live in the initial namespaces.
	for _, ref := range []string{init, kthreadd(init)} {
		var ist syscall.Stat_t
		if ref == "" || syscall.Stat(ref, &ist) != nil {
			continue
		}
		n.Initial = ist.Ino == st.Ino && ist.Dev == st.Dev
		break
	}
	entries, _ := os.ReadDir(named)
	for _, e := range entries {
		var nst syscall.Stat_t
		if syscall.Stat(filepath.Join(named, e.Name()), &nst) == nil && nst.Ino == st.Ino && nst.Dev == st.Dev {
			n.Name = e.Name()
			break
		}
	}
	return n, nil
}

// kthreadd returns the ns link of PID 2 next to init's (/proc/1/ns/net ->
// /proc/2/ns/net) when PID 2 is the kernel's kthreadd, else "".
func kthreadd(init string) string {
	proc := filepath.Dir(filepath.Dir(filepath.Dir(init)))
	comm, err := os.ReadFile(filepath.Join(proc, "2", "comm"))
	if err != nil || string(comm) != "kthreadd\n" {
		return ""
	}
	return filepath.Join(proc, "2", "ns", filepath.Base(init))
}
