package bootloader

import (
	"slices"
	"strings"
)

// Arg is one word of a kernel command line.
type Arg struct {
	// Raw is the word as written.
	Raw string
	// Name is the parameter name, normalized the way the kernel compares
	// names: '-' and '_' are the same character (intel-idle.max_cstate is
	// intel_idle.max_cstate). Kernel quotes around the word are removed.
	Name string
	// Value is what follows the first '=' (quotes removed); HasValue says
	// whether there was one.
	Value    string
	HasValue bool
	// Opaque is set for words nettune cannot interpret: shell expansions
	// and escapes in a GRUB file. They are never owned.
	Opaque bool
}

// ParseArg splits a command-line word into name and value.
func ParseArg(raw string) Arg {
	a := Arg{Raw: raw}
	w := strings.ReplaceAll(raw, `"`, "")
	name, value, ok := strings.Cut(w, "=")
	a.Name, a.Value, a.HasValue = NormalizeName(name), value, ok
	return a
}

// NormalizeName returns a parameter name in the form the kernel compares:
// dashes are underscores.
func NormalizeName(n string) string { return strings.ReplaceAll(n, "-", "_") }

// Names returns the normalized names of args, in order, without repeats.
func Names(args []string) []string {
	var out []string
	for _, a := range args {
		n := ParseArg(a).Name
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// part is a run of whitespace or one word of a line.
type part struct {
	text  string
	space bool
}

// Line is a kernel command line kept byte for byte: its words and the
// whitespace between them. Editing a Line touches only the words it
// replaces, so every other argument keeps its place and its spacing.
type Line struct {
	parts []part
	// shell marks a line read from a shell assignment (a GRUB file), where
	// words with expansions or escapes are opaque.
	shell bool
}

// ParseLine splits s into words and whitespace. A double quote starts a
// stretch in which whitespace does not split (the kernel's quoting:
// param="a b"). "--" ends the kernel's arguments; what follows belongs to
// init and is never owned.
func ParseLine(s string) Line { return parseLine(s, false) }

// parseShellLine is ParseLine for the inside of a shell string.
func parseShellLine(s string) Line { return parseLine(s, true) }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func parseLine(s string, shell bool) Line {
	l := Line{shell: shell}
	i := 0
	for i < len(s) {
		j := i
		if isSpace(s[i]) {
			for j < len(s) && isSpace(s[j]) {
				j++
			}
			l.parts = append(l.parts, part{text: s[i:j], space: true})
			i = j
			continue
		}
		quoted := false
		for j < len(s) && (quoted || !isSpace(s[j])) {
			if s[j] == '"' {
				quoted = !quoted
			}
			j++
		}
		l.parts = append(l.parts, part{text: s[i:j]})
		i = j
	}
	return l
}

// String returns the line exactly as parsed, with the edits applied.
func (l Line) String() string {
	var b strings.Builder
	for _, p := range l.parts {
		b.WriteString(p.text)
	}
	return b.String()
}

// Words returns the words of the line (kernel and init arguments).
func (l Line) Words() []string {
	var out []string
	for _, p := range l.parts {
		if !p.space {
			out = append(out, p.text)
		}
	}
	return out
}

// Kernel returns the kernel's arguments: the words before "--".
func (l Line) Kernel() []Arg {
	var out []Arg
	for _, p := range l.parts {
		if p.space {
			continue
		}
		if p.text == "--" {
			break
		}
		out = append(out, l.arg(p.text))
	}
	return out
}

func (l Line) arg(w string) Arg {
	a := ParseArg(w)
	if l.shell && strings.ContainsAny(w, "$`\\'") {
		a.Opaque = true
	}
	return a
}

// Owned returns the kernel arguments whose names are in names, in line
// order.
func (l Line) Owned(names []string) []string {
	var out []string
	for _, a := range l.Kernel() {
		if !a.Opaque && slices.Contains(names, a.Name) {
			out = append(out, a.Raw)
		}
	}
	return out
}

// Replace returns the line with the arguments named in names replaced by
// args. Every other word keeps its place and the whitespace around it.
//
// The owned words found in the line are slots: the i-th new argument takes
// the i-th slot, surplus slots are removed, and surplus arguments follow
// the last slot. Without slots the arguments are appended after the last
// kernel argument (before "--"). The edit is reversible: replacing the new
// arguments by the old ones restores the original line whenever the old
// arguments did not outnumber the new ones.
func (l Line) Replace(names []string, args []string) Line {
	parts := slices.Clone(l.parts)
	var slots []int
	end := -1 // index of the "--" word, or -1
	for i, p := range parts {
		if p.space {
			continue
		}
		if p.text == "--" {
			end = i
			break
		}
		a := l.arg(p.text)
		if !a.Opaque && slices.Contains(names, a.Name) {
			slots = append(slots, i)
		}
	}
	if len(slots) == 0 {
		return Line{parts: insertWords(parts, end, args), shell: l.shell}
	}
	n, m := len(args), len(slots)
	// Remove surplus slots from the last one, so indexes stay valid.
	for k := m - 1; k >= n && k >= 0; k-- {
		parts = removeWord(parts, slots[k])
	}
	for k := 0; k < n && k < m; k++ {
		parts[slots[k]] = part{text: args[k]}
	}
	if n > m {
		at := slots[m-1] + 1
		var extra []part
		for _, a := range args[m:] {
			extra = append(extra, part{text: " ", space: true}, part{text: a})
		}
		parts = slices.Insert(parts, at, extra...)
	}
	return Line{parts: parts, shell: l.shell}
}

// insertWords adds words to a line that has none of them: before "--" when
// end is its index, else after the last word. Each word is separated by one
// space, so removeWord undoes it exactly.
func insertWords(parts []part, end int, words []string) []part {
	if len(words) == 0 {
		return parts
	}
	joined := []part{{text: words[0]}}
	for _, w := range words[1:] {
		joined = append(joined, part{text: " ", space: true}, part{text: w})
	}
	stop := len(parts)
	if end >= 0 {
		stop = end
	}
	// After the last word before "--" (or the end), behind a new space:
	// removeWord then takes that space away and leaves the line's own
	// whitespace as it was (a tab before "--" stays a tab).
	last := -1
	for i, p := range parts[:stop] {
		if !p.space {
			last = i
		}
	}
	switch {
	case last >= 0:
		return slices.Insert(parts, last+1, append([]part{{text: " ", space: true}}, joined...)...)
	case end >= 0:
		return slices.Insert(parts, end, append(joined, part{text: " ", space: true})...)
	}
	return slices.Insert(parts, 0, joined...)
}

// removeWord deletes the word at i with the whitespace that separates it
// from its neighbours: the whitespace before it when a word precedes it,
// else the whitespace after it when a word follows, else none.
func removeWord(parts []part, i int) []part {
	before := i > 0 && parts[i-1].space && hasWord(parts[:i-1])
	after := i+1 < len(parts) && parts[i+1].space && hasWord(parts[i+2:])
	switch {
	case before:
		return slices.Delete(parts, i-1, i+1)
	case after:
		return slices.Delete(parts, i, i+2)
	}
	return slices.Delete(parts, i, i+1)
}

func hasWord(parts []part) bool {
	for _, p := range parts {
		if !p.space {
			return true
		}
	}
	return false
}
