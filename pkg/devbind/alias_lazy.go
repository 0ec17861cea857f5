package devbind

import (
	"bytes"
	"strings"
	"sync"
)

// lazyAliases is modules.alias as read, its PCI lines indexed by the
// vendor their pattern names, parsed only for the vendors asked about.
//
// A line can only be a PCI alias if it contains "pci:", and in one that
// is, the first "pci:" starts the pattern ("alias" comes first): the
// vendor field is the 8 bytes after "pci:v" there. A line whose field is
// not 8 plain characters, or is a pattern itself, goes with the others
// every lookup reads; every line is parsed by parseAliasLine, the reading
// of ParseAliases, before it counts.
type lazyAliases struct {
	data     []byte
	once     sync.Once
	byVendor map[[8]byte][]span
	other    []span

	mu     sync.Mutex
	parsed map[[8]byte]*vendorAliases
	others []Alias
	all    []Alias
	done   bool // others parsed
	alld   bool // all parsed
}

type span struct{ start, end int }

// eachLineWith calls f with the position of the first occurrence of tag
// in each line of d that has one, and the line's span (without its
// newline), until f returns false.
func eachLineWith(d, tag []byte, f func(pos int, line span) bool) {
	for off := 0; off < len(d); {
		k := bytes.Index(d[off:], tag)
		if k < 0 {
			return
		}
		pos := off + k
		start := bytes.LastIndexByte(d[:pos], '\n') + 1
		end := bytes.IndexByte(d[pos:], '\n')
		if end < 0 {
			end = len(d)
		} else {
			end += pos
		}
		if !f(pos, span{start, end}) {
			return
		}
		off = end + 1
	}
}

func newLazyAliases(data []byte) *lazyAliases { return &lazyAliases{data: data} }

func (la *lazyAliases) index() {
	la.byVendor = map[[8]byte][]span{}
	d := la.data
	eachLineWith(d, []byte("pci:"), func(pos int, sp span) bool {
		if v, ok := plainVendor(d[pos:sp.end]); ok {
			la.byVendor[v] = append(la.byVendor[v], sp)
		} else {
			la.other = append(la.other, sp)
		}
		return true
	})
}

// plainVendor is the vendor field of "pci:vXXXXXXXX...", when it is 8
// printable ASCII characters that are not pattern characters.
func plainVendor(b []byte) ([8]byte, bool) {
	var v [8]byte
	if len(b) < 13 || b[4] != 'v' {
		return v, false
	}
	for i := 0; i < 8; i++ {
		c := b[5+i]
		if c <= ' ' || c >= 0x7f || c == '*' || c == '?' || c == '[' || c == '\\' {
			return v, false
		}
		v[i] = c
	}
	return v, true
}

func (la *lazyAliases) parse(spans []span) []Alias {
	var out []Alias
	for _, sp := range spans {
		// bufio.ScanLines would drop a final '\r': Fields drops it too.
		if a, ok := parseAliasLine(la.data[sp.start:sp.end]); ok {
			out = append(out, a)
		}
	}
	return out
}

// match returns the modules whose aliases match a device's modalias, as
// MatchModules over every alias of the file does.
func (la *lazyAliases) match(modalias string) []string {
	if la == nil || len(la.data) == 0 {
		return MatchModules(nil, modalias)
	}
	la.once.Do(la.index)
	la.mu.Lock()
	defer la.mu.Unlock()
	if !la.done {
		la.others, la.done = la.parse(la.other), true
	}
	v, ok := aliasVendor(modalias)
	if !ok || strings.ContainsAny(v, "*?[\\") || len(v) != 8 {
		if !la.alld {
			la.all = append([]Alias(nil), la.others...)
			for _, spans := range la.byVendor {
				la.all = append(la.all, la.parse(spans)...)
			}
			la.alld = true
		}
		return MatchModules(la.all, modalias)
	}
	var key [8]byte
	copy(key[:], v)
	if la.parsed == nil {
		la.parsed = map[[8]byte]*vendorAliases{}
	}
	va, seen := la.parsed[key]
	if !seen {
		va = byDevice(la.parse(la.byVendor[key]))
		la.parsed[key] = va
	}
	var as []Alias
	if d, ok := plainField(modalias, 13, 'd'); ok {
		as = append(append(as, va.byDev[d]...), va.wild...)
	} else {
		as = append(as, va.all...)
	}
	return MatchModules(append(as, la.others...), modalias)
}

// vendorAliases are one vendor's aliases, those that name a device (the
// 8 characters after "d", none a pattern character) by that device: such
// a pattern can only match a modalias with the same device field, as
// nothing before it is a pattern. The intel block is thousands of
// aliases; a device needs the few of its own.
type vendorAliases struct {
	all   []Alias
	byDev map[[8]byte][]Alias
	wild  []Alias // device field a pattern, or too short
}

func byDevice(as []Alias) *vendorAliases {
	va := &vendorAliases{all: as, byDev: map[[8]byte][]Alias{}}
	for _, a := range as {
		if d, ok := plainField(a.Pattern, 13, 'd'); ok {
			va.byDev[d] = append(va.byDev[d], a)
		} else {
			va.wild = append(va.wild, a)
		}
	}
	return va
}

// plainField is the 8-character field of s after the letter tag at i
// ("pci:v00008086d000010FB...": 'd' at 13), when no character of it is a
// pattern character or outside printable ASCII.
func plainField(s string, i int, tag byte) ([8]byte, bool) {
	var f [8]byte
	if len(s) < i+9 || s[i] != tag {
		return f, false
	}
	for k := 0; k < 8; k++ {
		c := s[i+1+k]
		if c <= ' ' || c >= 0x7f || c == '*' || c == '?' || c == '[' || c == '\\' {
			return f, false
		}
		f[k] = c
	}
	return f, true
}
