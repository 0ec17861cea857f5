package profile

import (
	"strings"
	"testing"
)

func TestParseNanoseconds(t *testing.T) {
	for in, want := range map[string]Nanoseconds{
		"0": 0, "20000": 20000, "200us": 200000, "200 µs": 200000, "1ms": 1000000, "2s": 2000000000, " 7ns ": 7,
		"9223372036854775807": 9223372036854775807, "9223372036s": 9223372036000000000,
	} {
		got, err := ParseNanoseconds(in)
		if err != nil || got != want {
			t.Errorf("ParseNanoseconds(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"":                    "expected a whole number",
		"-1":                  "expected a whole number",
		"1.5ms":               `unknown unit ".5ms"`,
		"200 parsecs":         "valid: ns, us, ms, s",
		"9223372037s":         "too large",
		"9223372036854775808": "too large",
	} {
		if _, err := ParseNanoseconds(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseNanoseconds(%q): %v, want %q", in, err, want)
		}
	}
}

// TestNAPIKeys: the NIC entry's NAPI keys, their units and their errors
// with file:line:col.
func TestNAPIKeys(t *testing.T) {
	nic := header + "spec:\n  nics:\n    - match: {name: eth0}\n"
	p, err := Parse("p.yaml", []byte(nic+"      napiDeferHardIrqs: 2\n      groFlushTimeout: 200us\n      threadedNapi: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	n := p.Spec.NICs[0]
	if *n.NAPIDeferHardIrqs != 2 || *n.GROFlushTimeout != 200000 || !*n.ThreadedNapi {
		t.Errorf("decoded %d %d %v", *n.NAPIDeferHardIrqs, *n.GROFlushTimeout, *n.ThreadedNapi)
	}
	if p, err = Parse("p.yaml", []byte(nic+"      groFlushTimeout: 20000\n")); err != nil || *p.Spec.NICs[0].GROFlushTimeout != 20000 {
		t.Errorf("a plain number is nanoseconds: %v", err)
	}
	for in, want := range map[string]string{
		"      groFlushTimeout: 200 parsecs\n":  `p.yaml:8:24: spec.nics[0].groFlushTimeout: time "200 parsecs": unknown unit "parsecs" (valid: ns, us, ms, s; a plain number is nanoseconds)`,
		"      groFlushTimeout: 1.5\n":          "p.yaml:8:24: spec.nics[0].groFlushTimeout: time 1.5: fractions are not accepted",
		"      groFlushTimeout: [1]\n":          "expected a time (200us, or nanoseconds), got a list",
		"      napiDeferHardIrqs: 2147483648\n": "p.yaml:8:26: spec.nics[0].napiDeferHardIrqs: 2147483648 is above the maximum 2147483647",
		"      threadedNapi: 1\n":               "spec.nics[0].threadedNapi: expected true or false",
	} {
		if _, err := Parse("p.yaml", []byte(nic+in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nwant %s", strings.TrimSpace(in), err, want)
		}
	}
}

func FuzzParseNanoseconds(f *testing.F) {
	for _, s := range []string{"0", "200us", "200 µs", "1ms", "2s", "7ns", "1.5ms", "-1", "9223372036854775807", "9223372037s", "", "us"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseNanoseconds(s)
		if err != nil {
			return
		}
		if uint64(d) > maxNanoseconds {
			t.Errorf("%q: %d above the maximum", s, d)
		}
		if back, err := ParseNanoseconds(d.String()); err != nil || back != d {
			t.Errorf("%q: %d does not round-trip: %d %v", s, d, back, err)
		}
	})
}
