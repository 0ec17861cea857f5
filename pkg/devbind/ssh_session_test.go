package devbind

import (
	"fmt"
	"testing"
)

// FuzzParseSSHConnection: an accepted SSH_CONNECTION has valid, unmapped
// addresses, and sshd's spelling of the session it describes parses back
// to the same session.
func FuzzParseSSHConnection(f *testing.F) {
	f.Add("10.0.0.99 51234 10.0.0.5 22")
	f.Add("::ffff:10.0.0.7 1 ::ffff:10.0.0.5 22")
	f.Add("fe80::1%eth0 65535 2001:db8::1 0")
	f.Add("1.2.3.4 +5 1.2.3.4 022")
	f.Fuzz(func(t *testing.T, v string) {
		s, ok := ParseSSHConnection(v)
		if !ok {
			return
		}
		for _, a := range []string{s.Local.String(), s.Remote.String()} {
			if !s.Local.IsValid() || !s.Remote.IsValid() || s.Local.Addr().Is4In6() || s.Remote.Addr().Is4In6() {
				t.Fatalf("%q: bad address %s in %+v", v, a, s)
			}
		}
		if s.Source != "SSH_CONNECTION" {
			t.Fatalf("%q: source %q", v, s.Source)
		}
		again := fmt.Sprintf("%s %d %s %d", s.Remote.Addr(), s.Remote.Port(), s.Local.Addr(), s.Local.Port())
		back, ok := ParseSSHConnection(again)
		if !ok || back != s {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", v, s, again, back, ok)
		}
	})
}
