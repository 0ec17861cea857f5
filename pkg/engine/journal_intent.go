package engine

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/nettune/nettune/pkg/plan"
)

// An intent record holds every change of an apply on one line: 1.9 MB for
// the 4,200 changes of 16 NICs of 64 queues, which encoding/json decodes
// in about 45 ms, and check reads every generation to find orphans. The
// line is json.Marshal's output, so it is read here directly: the exact
// shape Marshal writes ({"op":"intent","changes":[{...},...]}, no white
// space, keys in lower case, strings and the undo flag), each string a
// piece of the line when it is plain ASCII and unescaped as encoding/json
// does otherwise. Anything else (another shape, a key plan.Change does not
// have, a torn line) is not read here: parseGeneration then decodes the
// line with encoding/json, whose reading this one must equal
// (FuzzIntentLine, TestIntentLineEveryField).

const intentPrefix = `{"op":"intent","changes":[`

// intentChanges returns the changes of an intent line, and false when the
// line is not in the shape it reads.
func intentChanges(line string) ([]plan.Change, bool) {
	if !strings.HasPrefix(line, intentPrefix) {
		return nil, false
	}
	// A plain string is a piece of the line: no allocation for most of
	// the eleven strings of a change.
	s := &jscan{b: line, i: len(intentPrefix)}
	out := make([]plan.Change, 0, strings.Count(line, "},{")+1)
	for {
		c, ok := s.change()
		if !ok {
			return nil, false
		}
		out = append(out, c)
		if s.lit(",") {
			continue
		}
		if !s.lit("]}") || s.i != len(line) {
			return nil, false
		}
		return out, true
	}
}

// jscan reads JSON of a known, flat shape.
type jscan struct {
	b   string
	i   int
	buf []byte // for unquote
}

func (s *jscan) lit(l string) bool {
	if strings.HasPrefix(s.b[s.i:], l) {
		s.i += len(l)
		return true
	}
	return false
}

// change reads one object of plan.Change's fields.
func (s *jscan) change() (plan.Change, bool) {
	var c plan.Change
	if !s.lit("{") {
		return c, false
	}
	if s.lit("}") {
		return c, true
	}
	for {
		key, ok := s.str()
		if !ok || !s.lit(":") {
			return c, false
		}
		var dst *string
		switch key {
		case "undo":
			switch {
			case s.lit("true"):
				c.Undo = true
			case s.lit("false"):
				c.Undo = false
			default:
				return c, false
			}
		case "module":
			dst = &c.Module
		case "object":
			dst = &c.Object
		case "attribute":
			dst = &c.Attribute
		case "action":
			dst = (*string)(&c.Action)
		case "before":
			dst = &c.Before
		case "after":
			dst = &c.After
		case "when":
			dst = (*string)(&c.When)
		case "reason":
			dst = &c.Reason
		case "path":
			dst = &c.Path
		case "command":
			dst = &c.Command
		case "device":
			dst = &c.Device
		default:
			// A key in another case (encoding/json matches keys without
			// case) or one Change does not have.
			return c, false
		}
		if dst != nil {
			if *dst, ok = s.str(); !ok {
				return c, false
			}
		}
		if s.lit(",") {
			continue
		}
		return c, s.lit("}")
	}
}

// str reads a JSON string: a plain ASCII one is a piece of the line, one
// with escapes or other bytes is decoded by unquote, its escapes checked
// first.
func (s *jscan) str() (string, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", false
	}
	start := s.i + 1
	// Most strings: up to the next quote, no backslash, printable ASCII.
	if q := strings.IndexByte(s.b[start:], '"'); q >= 0 && plainASCII(s.b[start:start+q]) {
		s.i = start + q + 1
		return s.b[start : start+q], true
	}
	for s.i = start; s.i < len(s.b); {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.buf = unquote(s.buf[:0], s.b[start:s.i])
			s.i++
			return string(s.buf), true
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return "", false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return "", false
				}
				for k := s.i + 2; k < s.i+6; k++ {
					if !isHex(s.b[k]) {
						return "", false
					}
				}
				s.i += 6
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		default:
			s.i++
		}
	}
	return "", false
}

// unquote appends to out the inside of a JSON string whose escapes str
// checked, decoded as encoding/json does: \uXXXX pairs of UTF-16
// surrogates are one rune, a lone surrogate and every byte of invalid
// UTF-8 are U+FFFD.
func unquote(out []byte, b string) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\\':
			switch e := b[i+1]; e {
			case 'u':
				r := hex4(b[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if pair := utf16.DecodeRune(r, hex4(b[i+2:i+6])); pair != unicode.ReplacementChar {
							out = utf8.AppendRune(out, pair)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, r)
				continue
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			default: // '"', '\\', '/'
				out = append(out, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(b[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, unicode.ReplacementChar)
			} else {
				out = append(out, b[i:i+size]...)
			}
			i += size
		}
	}
	return out
}

func hex4(b string) rune {
	var r rune
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// plainASCII reports whether b has only bytes from 0x20 to 0x7f other
// than the backslash, eight at a time.
func plainASCII(b string) bool {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := uint64(b[i]) | uint64(b[i+1])<<8 | uint64(b[i+2])<<16 | uint64(b[i+3])<<24 |
			uint64(b[i+4])<<32 | uint64(b[i+5])<<40 | uint64(b[i+6])<<48 | uint64(b[i+7])<<56
		// A byte with its high bit set, or below 0x20.
		if w&high != 0 || (w-0x20*ones)&^w&high != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i] < 0x20 || b[i] >= 0x80 {
			return false
		}
	}
	return strings.IndexByte(b, '\\') < 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
