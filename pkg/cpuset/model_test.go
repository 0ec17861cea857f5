package cpuset

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// model is the plain reading of a set: a sorted list of distinct CPUs.
type model []int

func modelOf(cpus ...int) model {
	var m model
	for _, c := range cpus {
		if c >= 0 && !slices.Contains(m, c) {
			m = append(m, c)
		}
	}
	slices.Sort(m)
	return m
}

func (m model) has(c int) bool { return slices.Contains(m, c) }

func (m model) filter(keep func(int) bool) model {
	out := model{}
	for _, c := range m {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

func (m model) String() string {
	var parts []string
	for i := 0; i < len(m); {
		j := i
		for j+1 < len(m) && m[j+1] == m[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", m[i], m[j]))
		} else {
			parts = append(parts, strconv.Itoa(m[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func (m model) mask(nbits int) string {
	if len(m) > 0 && m[len(m)-1]+1 > nbits {
		nbits = m[len(m)-1] + 1
	}
	words := make([]uint32, max((nbits+31)/32, 1))
	for _, c := range m {
		words[c/32] |= 1 << (c % 32)
	}
	var parts []string
	for i := len(words) - 1; i >= 0; i-- {
		parts = append(parts, fmt.Sprintf("%08x", words[i]))
	}
	return strings.Join(parts, ",")
}

// cpusOf reads fuzz bytes as CPU numbers (two bytes each, up to 1,023).
func cpusOf(b []byte) []int {
	var out []int
	for i := 0; i+1 < len(b); i += 2 {
		out = append(out, (int(b[i])<<8|int(b[i+1]))%1024)
	}
	return out
}

// FuzzSetModel: every operation of the bitmap Set gives what the plain
// sorted-list reading gives.
func FuzzSetModel(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 2, 0, 63, 0, 64}, []byte{0, 1, 0, 64, 1, 0}, uint16(3), uint16(200), uint8(2), uint8(4), uint16(100))
	f.Add([]byte{3, 255, 0, 127, 0, 128}, []byte{}, uint16(0), uint16(0), uint8(1), uint8(1), uint16(0))
	f.Add([]byte{}, []byte{0, 63, 0, 62}, uint16(60), uint16(70), uint8(1), uint8(1), uint16(33))
	f.Fuzz(func(t *testing.T, ab, bb []byte, lo, hi uint16, used, group uint8, nbits uint16) {
		ac, bc := cpusOf(ab), cpusOf(bb)
		a, b := Of(ac...), Of(bc...)
		ma, mb := modelOf(ac...), modelOf(bc...)
		check := func(what string, s Set, m model) {
			t.Helper()
			if got := s.List(); !slices.Equal(got, []int(m)) && !(len(got) == 0 && len(m) == 0) {
				t.Fatalf("%s: list %v, want %v", what, got, m)
			}
			if s.Len() != len(m) || s.IsEmpty() != (len(m) == 0) {
				t.Fatalf("%s: len %d empty %v, want %d", what, s.Len(), s.IsEmpty(), len(m))
			}
			if s.String() != m.String() {
				t.Fatalf("%s: string %q, want %q", what, s.String(), m.String())
			}
			if got, want := s.Mask(int(nbits%1100)), m.mask(int(nbits%1100)); got != want {
				t.Fatalf("%s: mask(%d) %q, want %q", what, nbits%1100, got, want)
			}
			wantMax := -1
			if len(m) > 0 {
				wantMax = m[len(m)-1]
			}
			if s.Max() != wantMax {
				t.Fatalf("%s: max %d, want %d", what, s.Max(), wantMax)
			}
			for c := -1; c < 1030; c++ {
				if s.Contains(c) != m.has(c) {
					t.Fatalf("%s: contains(%d) = %v", what, c, s.Contains(c))
				}
			}
			if p, err := Parse(s.String()); err != nil || !p.Equal(s) {
				t.Fatalf("%s: list round trip %v, %v", what, p, err)
			}
			if p, err := ParseMask(s.Mask(0)); err != nil || !p.Equal(s) {
				t.Fatalf("%s: mask round trip %v, %v", what, p, err)
			}
		}
		check("a", a, ma)
		check("b", b, mb)
		check("a|b", a.Union(b), modelOf(append(slices.Clone(ac), bc...)...))
		check("a&b", a.Intersect(b), ma.filter(mb.has))
		check("a-b", a.Difference(b), ma.filter(func(c int) bool { return !mb.has(c) }))
		if got, want := a.IsSubsetOf(b), len(ma.filter(func(c int) bool { return !mb.has(c) })) == 0; got != want {
			t.Fatalf("%v subset of %v = %v", a, b, got)
		}
		if got, want := a.Equal(b), slices.Equal(ma, mb); got != want {
			t.Fatalf("%v equal %v = %v", a, b, got)
		}
		// Ranges and strides, as Parse reads them.
		l, h := int(lo%1100), int(hi%1100)
		u, g := int(used%8)+1, int(group%8)+1
		var want []int
		for base := l; base <= h; base += g {
			for c := base; c < base+min(u, g) && c <= h; c++ {
				want = append(want, c)
			}
		}
		check("range", Range(l, h), modelOf(func() []int {
			var r []int
			for c := l; c <= h; c++ {
				r = append(r, c)
			}
			return r
		}()...))
		if h >= l {
			s, err := Parse(fmt.Sprintf("%d-%d:%d/%d", l, h, min(u, g), g))
			if err != nil {
				t.Fatal(err)
			}
			check("stride", s, modelOf(want...))
		}
	})
}
