package devbind

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/nettune/nettune/pkg/host"
)

// Session is an inbound SSH connection to this host. Taking away the
// interface that carries it (its local address, or the route back to its
// client) cuts the operator off.
type Session struct {
	Local  netip.AddrPort `json:"local"`
	Remote netip.AddrPort `json:"remote"`
	// Source says how it was found: SSH_CONNECTION or /proc/net/tcp.
	Source string `json:"source"`
}

func (s Session) String() string {
	return fmt.Sprintf("SSH session %s -> %s (%s)", s.Remote, s.Local, s.Source)
}

// sshPort is where sshd listens unless SSH_CONNECTION says otherwise.
const sshPort = 22

// ParseSSHConnection reads the SSH_CONNECTION variable sshd sets:
// "client-ip client-port server-ip server-port".
func ParseSSHConnection(v string) (Session, bool) {
	f := strings.Fields(v)
	if len(f) != 4 {
		return Session{}, false
	}
	rip, err1 := netip.ParseAddr(f[0])
	rport, err2 := strconv.ParseUint(f[1], 10, 16)
	lip, err3 := netip.ParseAddr(f[2])
	lport, err4 := strconv.ParseUint(f[3], 10, 16)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return Session{}, false
	}
	return Session{
		Local:  netip.AddrPortFrom(lip.Unmap(), uint16(lport)),
		Remote: netip.AddrPortFrom(rip.Unmap(), uint16(rport)),
		Source: "SSH_CONNECTION",
	}, true
}

// tcpEstablished is the state code of an established socket in
// /proc/net/tcp.
const tcpEstablished = "01"

// ParseProcNetTCP reads /proc/net/tcp or /proc/net/tcp6 and returns the
// established connections whose local port is one of ports. Addresses are
// printed by the kernel as 32-bit words in host byte order.
func ParseProcNetTCP(rd io.Reader, ports map[uint16]bool) ([]Session, error) {
	var out []Session
	sc := bufio.NewScanner(rd)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != tcpEstablished {
			continue
		}
		local, err := parseHexAddrPort(f[1])
		if err != nil || !ports[local.Port()] {
			continue
		}
		remote, err := parseHexAddrPort(f[2])
		if err != nil {
			continue
		}
		out = append(out, Session{Local: local, Remote: remote, Source: "/proc/net/tcp"})
	}
	return out, sc.Err()
}

// parseHexAddrPort parses "0100007F:0016" (IPv4) or 32 hex digits and a
// port (IPv6).
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad socket address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port in %q", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address in %q", s)
	}
	// Each 32-bit word was printed as a host-order integer: turn it back
	// into the bytes it was in memory, which are in network order.
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// Sessions finds the inbound SSH connections of the host: the one in
// SSH_CONNECTION (the operator's own, when getenv is given) and every
// established connection to the SSH port in /proc/net/tcp and tcp6 under
// the root (sudo drops SSH_CONNECTION; other operators count too).
func Sessions(r *host.Root, getenv func(string) string) []Session {
	var out []Session
	ports := map[uint16]bool{sshPort: true}
	seen := map[string]bool{}
	add := func(s Session) {
		k := s.Local.String() + " " + s.Remote.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	if getenv != nil {
		if s, ok := ParseSSHConnection(getenv("SSH_CONNECTION")); ok {
			ports[s.Local.Port()] = true
			add(s)
		}
	}
	// The two tables are read side by side: each walks the kernel's whole
	// connection hash table, however few connections there are.
	names := []string{"net/tcp", "net/tcp6"}
	found := make([][]Session, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := readNetTable(r, r.Proc(name))
			if err != nil {
				return
			}
			found[i], _ = ParseProcNetTCP(bytes.NewReader(b), ports)
		}()
	}
	wg.Wait()
	for _, ss := range found {
		for _, s := range ss {
			add(s)
		}
	}
	return out
}

// netLineMax is more than the longest line of /proc/net/tcp and tcp6:
// 150 and 178 bytes as usually printed, under 300 with every counter at
// its widest (tcp4_seq_show pads, it does not cut).
const netLineMax = 512

// readNetTable reads /proc/net/tcp or tcp6 without the read that returns
// 0: at the end of the table that read walks the kernel's connection hash
// table again (3 ms on a 24 GiB host with 262,144 buckets and two
// sockets). The kernel fills a read of one page from a one-page buffer
// and stops early only at the end of the table or when the next line
// does not fit; so a read that leaves room for a whole line ended the
// table. A regular file (a fixture) ends the same way.
func readNetTable(r *host.Root, p string) ([]byte, error) {
	f, err := r.OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	page := os.Getpagesize()
	var out []byte
	buf := make([]byte, page)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF || n == 0 || n+netLineMax <= page {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
