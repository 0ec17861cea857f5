// Package cpuset parses and formats the kernel's two spellings of a set of
// CPUs: the list form ("0-3,8,10-15:2/4", as in isolcpus= or
// /sys/devices/system/cpu/online) and the mask form (comma-separated 32-bit
// hex words, as in /proc/irq/N/smp_affinity or rps_cpus).
package cpuset

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// MaxCPU bounds the CPU numbers nettune accepts; the kernel's own limit
// (NR_CPUS) is 8192 on distribution kernels.
const MaxCPU = 8191

// Set is an immutable set of CPU numbers. The zero value is the empty set.
type Set struct {
	cpus []int // sorted, unique
}

// Of returns the set of the given CPUs.
func Of(cpus ...int) Set {
	c := slices.Clone(cpus)
	slices.Sort(c)
	return Set{cpus: slices.Compact(c)}
}

// Range returns the set lo..hi inclusive.
func Range(lo, hi int) Set {
	var c []int
	for i := lo; i <= hi; i++ {
		c = append(c, i)
	}
	return Set{cpus: c}
}

// Parse reads the kernel's list syntax: comma-separated CPUs and ranges,
// with optional "used/group" strides ("0-15:2/4" is 0,1,4,5,8,9,12,13).
// Surrounding whitespace and a trailing newline are ignored; the empty
// string is the empty set.
func Parse(s string) (Set, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Set{}, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return Set{}, fmt.Errorf("cpu list %q: empty element", s)
		}
		cpus, err := parseElem(part)
		if err != nil {
			return Set{}, fmt.Errorf("cpu list %q: %w", s, err)
		}
		if out == nil {
			out = cpus
		} else {
			out = append(out, cpus...)
		}
	}
	if increasing(out) {
		return Set{cpus: out}, nil // the kernel's own lists: no copy, no sort
	}
	return Of(out...), nil
}

func increasing(c []int) bool {
	for i := 1; i < len(c); i++ {
		if c[i] <= c[i-1] {
			return false
		}
	}
	return true
}

// MustParse is Parse for constants in tests and built-in defaults.
func MustParse(s string) Set {
	c, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return c
}

func parseElem(part string) ([]int, error) {
	rng, stride, hasStride := strings.Cut(part, ":")
	loS, hiS, isRange := strings.Cut(rng, "-")
	lo, err := parseCPU(loS)
	if err != nil {
		return nil, err
	}
	hi := lo
	if isRange {
		if hi, err = parseCPU(hiS); err != nil {
			return nil, err
		}
		if hi < lo {
			return nil, fmt.Errorf("range %q runs backwards", rng)
		}
	}
	used, group := 1, 1
	if hasStride {
		if !isRange {
			return nil, fmt.Errorf("%q: a stride needs a range", part)
		}
		u, g, ok := strings.Cut(stride, "/")
		if !ok {
			return nil, fmt.Errorf("%q: stride must be used/group", part)
		}
		if used, err = strconv.Atoi(u); err != nil || used < 1 {
			return nil, fmt.Errorf("%q: bad stride %q", part, u)
		}
		if group, err = strconv.Atoi(g); err != nil || group < 1 || used > group {
			return nil, fmt.Errorf("%q: bad stride group %q", part, g)
		}
	}
	var out []int
	for base := lo; base <= hi; base += group {
		for i := base; i < base+used && i <= hi; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

func parseCPU(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("missing cpu number")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a cpu number", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxCPU {
		return 0, fmt.Errorf("cpu %q out of range (0-%d)", s, MaxCPU)
	}
	return n, nil
}

// String formats the set in the kernel's canonical list form ("0-3,8").
func (s Set) String() string {
	var b strings.Builder
	for i := 0; i < len(s.cpus); {
		j := i
		for j+1 < len(s.cpus) && s.cpus[j+1] == s.cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(s.cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(s.cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}

// List returns the CPUs in ascending order.
func (s Set) List() []int { return slices.Clone(s.cpus) }

// Len is the number of CPUs in the set.
func (s Set) Len() int { return len(s.cpus) }

// IsEmpty reports whether the set has no CPU.
func (s Set) IsEmpty() bool { return len(s.cpus) == 0 }

// Contains reports whether cpu is in the set.
func (s Set) Contains(cpu int) bool {
	_, ok := slices.BinarySearch(s.cpus, cpu)
	return ok
}

// Equal reports whether both sets hold the same CPUs.
func (s Set) Equal(o Set) bool { return slices.Equal(s.cpus, o.cpus) }

// Union returns s ∪ o.
func (s Set) Union(o Set) Set { return Of(append(slices.Clone(s.cpus), o.cpus...)...) }

// Intersect returns s ∩ o.
func (s Set) Intersect(o Set) Set {
	var out []int
	for _, c := range s.cpus {
		if o.Contains(c) {
			out = append(out, c)
		}
	}
	return Set{cpus: out}
}

// Difference returns s \ o.
func (s Set) Difference(o Set) Set {
	var out []int
	for _, c := range s.cpus {
		if !o.Contains(c) {
			out = append(out, c)
		}
	}
	return Set{cpus: out}
}

// IsSubsetOf reports whether every CPU of s is in o.
func (s Set) IsSubsetOf(o Set) bool { return s.Difference(o).IsEmpty() }

// Max returns the highest CPU, or -1 for the empty set.
func (s Set) Max() int {
	if len(s.cpus) == 0 {
		return -1
	}
	return s.cpus[len(s.cpus)-1]
}

// MarshalText implements encoding.TextMarshaler with the list form.
func (s Set) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the list form.
func (s *Set) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseMask reads the kernel's mask form: 32-bit hex words separated by
// commas, most significant first ("00000000,0000000f"). Leading zero words
// may be omitted; a single word may be shorter than 8 digits.
func ParseMask(s string) (Set, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Set{}, fmt.Errorf("empty cpu mask")
	}
	words := strings.Split(s, ",")
	var out []int
	for i, w := range words {
		if w == "" || len(w) > 8 {
			return Set{}, fmt.Errorf("cpu mask %q: word %q is not 1-8 hex digits", s, w)
		}
		v, err := strconv.ParseUint(w, 16, 32)
		if err != nil {
			return Set{}, fmt.Errorf("cpu mask %q: word %q is not hex", s, w)
		}
		base := (len(words) - 1 - i) * 32
		for v != 0 {
			b := bits.TrailingZeros64(v)
			if base+b > MaxCPU {
				return Set{}, fmt.Errorf("cpu mask %q: cpu %d out of range", s, base+b)
			}
			out = append(out, base+b)
			v &^= 1 << b
		}
	}
	return Of(out...), nil
}

// Mask formats the set as the kernel prints masks for a machine with nbits
// possible CPUs: ceil(nbits/32) words of 8 hex digits, most significant
// first. nbits is raised to fit the highest CPU of the set.
func (s Set) Mask(nbits int) string {
	if m := s.Max() + 1; m > nbits {
		nbits = m
	}
	n := max((nbits+31)/32, 1)
	words := make([]uint32, n)
	for _, c := range s.cpus {
		words[c/32] |= 1 << (c % 32)
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 9*n)
	for i := n - 1; i >= 0; i-- {
		w := words[i]
		for shift := 28; shift >= 0; shift -= 4 {
			b = append(b, hex[(w>>shift)&0xf])
		}
		if i > 0 {
			b = append(b, ',')
		}
	}
	return string(b)
}
