package irqaffinity

import "testing"

// FuzzParseServiceState: the four spellings String writes are the only
// ones accepted, and each reads back as the state that wrote it.
func FuzzParseServiceState(f *testing.F) {
	f.Add("enabled,active")
	f.Add("disabled,inactive")
	f.Add("enabled, active")
	f.Add("enabled,activating")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseServiceState(s)
		if err != nil {
			return
		}
		if st.String() != s {
			t.Fatalf("%q accepted as %+v, which is written %q", s, st, st.String())
		}
		if back, err := ParseServiceState(st.String()); err != nil || back != st {
			t.Fatalf("%q -> %+v -> %+v, %v", s, st, back, err)
		}
	})
}
