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
// It is a bitmap (bit c of word c/64 for CPU c, without trailing zero
// words): a 256-CPU host's affinity lists, thousands per plan, are four
// words each rather than a slice of 256 numbers.
type Set struct {
	w []uint64
}

// Of returns the set of the given CPUs (negative ones are left out).
func Of(cpus ...int) Set {
	var b builder
	for _, c := range cpus {
		b.add(c)
	}
	return b.set()
}

// Range returns the set lo..hi inclusive.
func Range(lo, hi int) Set {
	var b builder
	b.addRange(lo, hi, 1, 1)
	return b.set()
}

// builder collects CPUs into a bitmap.
type builder struct{ w []uint64 }

func (b *builder) add(c int) {
	if c < 0 {
		return
	}
	i := c / 64
	if i >= len(b.w) {
		b.w = append(b.w, make([]uint64, i+1-len(b.w))...)
	}
	b.w[i] |= 1 << (c % 64)
}

// addRange adds lo..hi, used CPUs out of every group.
func (b *builder) addRange(lo, hi, used, group int) {
	if hi < lo || lo < 0 {
		return
	}
	if used == group {
		b.add(hi) // grows the words once
		for c := lo; c <= hi; {
			i, bit := c/64, c%64
			n := min(64-bit, hi-c+1)
			m := ^uint64(0)
			if n < 64 {
				m = (1<<n - 1) << bit
			}
			b.w[i] |= m
			c += n
		}
		return
	}
	for base := lo; base <= hi; base += group {
		for c := base; c < base+used && c <= hi; c++ {
			b.add(c)
		}
	}
}

func (b *builder) set() Set { return Set{w: trim(b.w)} }

// trim drops trailing zero words, so that equal sets have equal words.
func trim(w []uint64) []uint64 {
	n := len(w)
	for n > 0 && w[n-1] == 0 {
		n--
	}
	if n == 0 {
		return nil
	}
	return w[:n:n]
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
	var b builder
	for rest := s; ; {
		part, more, found := strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		if part == "" {
			return Set{}, fmt.Errorf("cpu list %q: empty element", s)
		}
		if err := parseElem(&b, part); err != nil {
			return Set{}, fmt.Errorf("cpu list %q: %w", s, err)
		}
		if !found {
			break
		}
		rest = more
	}
	return b.set(), nil
}

// MustParse is Parse for constants in tests and built-in defaults.
func MustParse(s string) Set {
	c, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return c
}

func parseElem(b *builder, part string) error {
	rng, stride, hasStride := strings.Cut(part, ":")
	loS, hiS, isRange := strings.Cut(rng, "-")
	lo, err := parseCPU(loS)
	if err != nil {
		return err
	}
	hi := lo
	if isRange {
		if hi, err = parseCPU(hiS); err != nil {
			return err
		}
		if hi < lo {
			return fmt.Errorf("range %q runs backwards", rng)
		}
	}
	used, group := 1, 1
	if hasStride {
		if !isRange {
			return fmt.Errorf("%q: a stride needs a range", part)
		}
		u, g, ok := strings.Cut(stride, "/")
		if !ok {
			return fmt.Errorf("%q: stride must be used/group", part)
		}
		if used, err = strconv.Atoi(u); err != nil || used < 1 {
			return fmt.Errorf("%q: bad stride %q", part, u)
		}
		if group, err = strconv.Atoi(g); err != nil || group < 1 || used > group {
			return fmt.Errorf("%q: bad stride group %q", part, g)
		}
	}
	b.addRange(lo, hi, used, group)
	return nil
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
	var b []byte
	for c := s.next(0); c >= 0; {
		end := s.runEnd(c)
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(c), 10)
		if end > c {
			b = append(b, '-')
			b = strconv.AppendInt(b, int64(end), 10)
		}
		c = s.next(end + 1)
	}
	return string(b)
}

// next is the lowest CPU >= c in the set, -1 when none.
func (s Set) next(c int) int {
	i := c / 64
	if c < 0 || i >= len(s.w) {
		return -1
	}
	if w := s.w[i] >> (c % 64); w != 0 {
		return c + bits.TrailingZeros64(w)
	}
	for i++; i < len(s.w); i++ {
		if s.w[i] != 0 {
			return i*64 + bits.TrailingZeros64(s.w[i])
		}
	}
	return -1
}

// runEnd is the last CPU of the run of consecutive CPUs that starts at c
// (a member).
func (s Set) runEnd(c int) int {
	for {
		i, bit := c/64, c%64
		ones := bits.TrailingZeros64(^(s.w[i] >> bit)) // set bits from c on
		if bit+ones < 64 || i+1 >= len(s.w) {
			return c + ones - 1
		}
		c += ones
	}
}

// List returns the CPUs in ascending order.
func (s Set) List() []int {
	out := make([]int, 0, s.Len())
	for i, w := range s.w {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			out = append(out, i*64+b)
			w &^= 1 << b
		}
	}
	return out
}

// Len is the number of CPUs in the set.
func (s Set) Len() int {
	n := 0
	for _, w := range s.w {
		n += bits.OnesCount64(w)
	}
	return n
}

// IsEmpty reports whether the set has no CPU.
func (s Set) IsEmpty() bool { return len(s.w) == 0 }

// Contains reports whether cpu is in the set.
func (s Set) Contains(cpu int) bool {
	return cpu >= 0 && cpu/64 < len(s.w) && s.w[cpu/64]&(1<<(cpu%64)) != 0
}

// Equal reports whether both sets hold the same CPUs.
func (s Set) Equal(o Set) bool { return slices.Equal(s.w, o.w) }

// Union returns s ∪ o.
func (s Set) Union(o Set) Set {
	if len(s.w) < len(o.w) {
		s, o = o, s
	}
	out := slices.Clone(s.w)
	for i, w := range o.w {
		out[i] |= w
	}
	return Set{w: trim(out)}
}

// Intersect returns s ∩ o.
func (s Set) Intersect(o Set) Set {
	out := make([]uint64, min(len(s.w), len(o.w)))
	for i := range out {
		out[i] = s.w[i] & o.w[i]
	}
	return Set{w: trim(out)}
}

// Difference returns s \ o.
func (s Set) Difference(o Set) Set {
	out := slices.Clone(s.w)
	for i := range min(len(out), len(o.w)) {
		out[i] &^= o.w[i]
	}
	return Set{w: trim(out)}
}

// IsSubsetOf reports whether every CPU of s is in o.
func (s Set) IsSubsetOf(o Set) bool {
	for i, w := range s.w {
		var ow uint64
		if i < len(o.w) {
			ow = o.w[i]
		}
		if w&^ow != 0 {
			return false
		}
	}
	return true
}

// Max returns the highest CPU, or -1 for the empty set.
func (s Set) Max() int {
	if len(s.w) == 0 {
		return -1
	}
	i := len(s.w) - 1
	return i*64 + 63 - bits.LeadingZeros64(s.w[i])
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
	var b builder
	for i, w := range words {
		if w == "" || len(w) > 8 {
			return Set{}, fmt.Errorf("cpu mask %q: word %q is not 1-8 hex digits", s, w)
		}
		v, err := strconv.ParseUint(w, 16, 32)
		if err != nil {
			return Set{}, fmt.Errorf("cpu mask %q: word %q is not hex", s, w)
		}
		if v == 0 {
			continue
		}
		base := (len(words) - 1 - i) * 32
		if top := base + 63 - bits.LeadingZeros64(v); top > MaxCPU {
			return Set{}, fmt.Errorf("cpu mask %q: cpu %d out of range", s, top)
		}
		b.add(base + 63 - bits.LeadingZeros64(v)) // grows the words once
		b.w[base/64] |= v << (base % 64)
	}
	return b.set(), nil
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
	for i, w := range s.w {
		words[2*i] = uint32(w)
		if 2*i+1 < n {
			words[2*i+1] = uint32(w >> 32)
		}
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
