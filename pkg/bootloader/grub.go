package bootloader

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The GRUB variables that carry the kernel command line. grub-mkconfig puts
// GRUB_CMDLINE_LINUX on every entry and GRUB_CMDLINE_LINUX_DEFAULT on the
// normal (non-recovery) ones.
const (
	VarLinux        = "GRUB_CMDLINE_LINUX"
	VarLinuxDefault = "GRUB_CMDLINE_LINUX_DEFAULT"
)

// assignment is one NAME=value line of a shell configuration file such as
// /etc/default/grub.
type assignment struct {
	// index is the line's index in the file.
	index int
	name  string
	// quote is '"' or '\'', or 0 for a bare word.
	quote byte
	// start and end delimit the value's inner text (inside the quotes)
	// within the line.
	start, end int
	inner      string
	// ok is false when the value is not one plain quoted string or bare
	// word (concatenations, command substitutions, a string that runs over
	// the end of the line): nettune reads it but never edits it.
	ok bool
}

var assignRe = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=`)

// splitLines splits a file into lines so that strings.Join(lines, "\n")
// gives back the same bytes.
func splitLines(content string) []string { return strings.Split(content, "\n") }

// parseAssignment reads a NAME=value line. It returns false for lines that
// are not assignments.
func parseAssignment(index int, line string) (assignment, bool) {
	m := assignRe.FindStringSubmatchIndex(line)
	if m == nil {
		return assignment{}, false
	}
	a := assignment{index: index, name: line[m[2]:m[3]]}
	i := m[1]
	rest := func(j int) bool {
		tail := strings.TrimLeft(line[j:], " \t")
		return tail == "" || strings.HasPrefix(tail, "#")
	}
	switch {
	case i < len(line) && line[i] == '"':
		j := i + 1
		for j < len(line) && line[j] != '"' {
			if line[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(line) {
			return a, true
		}
		a.quote, a.start, a.end = '"', i+1, j
		a.ok = rest(j + 1)
	case i < len(line) && line[i] == '\'':
		j := strings.IndexByte(line[i+1:], '\'')
		if j < 0 {
			return a, true
		}
		a.quote, a.start, a.end = '\'', i+1, i+1+j
		a.ok = rest(a.end + 1)
	default:
		j := i
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		a.start, a.end = i, j
		a.ok = !strings.ContainsAny(line[i:j], `"'$`+"`\\") && rest(j)
	}
	a.inner = line[a.start:a.end]
	return a, true
}

// withValue returns the assignment's line with a new inner value. A bare
// word becomes a double-quoted string when the new value needs quoting.
func (a assignment) withValue(line, value string) string {
	if a.quote == 0 && strings.ContainsAny(value, " \t") {
		return line[:a.start] + `"` + value + `"` + line[a.end:]
	}
	return line[:a.start] + value + line[a.end:]
}

// assignments returns the assignments of the given variable, in file order.
func assignments(lines []string, name string) []assignment {
	var out []assignment
	for i, l := range lines {
		if a, ok := parseAssignment(i, l); ok && a.name == name {
			out = append(out, a)
		}
	}
	return out
}

// shellEnv evaluates the assignments of shell configuration files the way
// grub-mkconfig sources them, for the simple forms such files use: quoted
// strings, $NAME, ${NAME}, ${NAME:+word}, ${NAME:-word} and their forms
// without the colon. Anything else is taken literally.
type shellEnv map[string]string

// source evaluates one file.
func (e shellEnv) source(content string) {
	for i, l := range splitLines(content) {
		a, ok := parseAssignment(i, l)
		if !ok {
			continue
		}
		var v string
		switch a.quote {
		case '\'':
			v = a.inner
		case '"':
			v = e.expand(a.inner, true)
		default:
			v = e.expand(a.inner, false)
		}
		// A = "$A$A" on every line doubles; no command line is that long.
		if len(v) > maxValue {
			v = v[:maxValue]
		}
		e[a.name] = v
	}
}

// maxValue bounds an evaluated variable (the kernel's command line is at
// most a few kB).
const maxValue = 1 << 16

var paramRe = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|^\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand performs parameter expansion and, inside double quotes, removes
// the backslash of \$ \` \" \\.
func (e shellEnv) expand(s string, dquote bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (!dquote || strings.IndexByte("$`\"\\", s[i+1]) >= 0):
			b.WriteByte(s[i+1])
			i += 2
		case c == '$':
			m := paramRe.FindStringSubmatch(s[i:])
			if m == nil {
				b.WriteByte(c)
				i++
				continue
			}
			name := m[1] + m[4]
			v, set := e[name]
			switch m[2] {
			case ":+":
				if v != "" {
					v = e.expand(m[3], dquote)
				}
			case "+":
				if set {
					v = e.expand(m[3], dquote)
				}
			case ":-":
				if v == "" {
					v = e.expand(m[3], dquote)
				}
			case "-":
				if !set {
					v = e.expand(m[3], dquote)
				}
			}
			b.WriteString(v)
			i += len(m[0])
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// dropInPrefix starts the value of nettune's GRUB drop-in: it appends to
// whatever the files read before it set.
const dropInPrefix = "${" + VarLinuxDefault + ":+$" + VarLinuxDefault + " }"

// renderDropIn is the content of a module's drop-in under
// /etc/default/grub.d. It depends only on the module and its arguments, so
// re-applying writes the same bytes.
func renderDropIn(module string, args []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s Kernel arguments of the %s module.\n", Marker, module)
	b.WriteString("# Do not edit: 'nettune apply' rewrites this file and 'nettune revert' removes it.\n")
	fmt.Fprintf(&b, "%s=\"%s%s\"\n", VarLinuxDefault, dropInPrefix, dquoteEscaper.Replace(strings.Join(args, " ")))
	return b.String()
}

// dquoteEscaper escapes the characters a shell interprets inside double
// quotes, so that grub-mkconfig reads an argument such as a=$x literally.
var dquoteEscaper = strings.NewReplacer(`\`, `\\`, `$`, `\$`, "`", "\\`", `"`, `\"`)

// dquoteUnescape removes the backslashes dquoteEscaper adds, as the shell
// does inside double quotes; other backslashes stay.
func dquoteUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseDropIn returns the arguments of a nettune drop-in, or an error when
// the file is not one (no marker, edited by hand).
func parseDropIn(content string) ([]string, error) {
	if !strings.HasPrefix(content, Marker) {
		return nil, fmt.Errorf("is not managed by nettune (no %q header)", Marker)
	}
	as := assignments(splitLines(content), VarLinuxDefault)
	if len(as) != 1 || as[0].quote != '"' || !strings.HasPrefix(as[0].inner, dropInPrefix) {
		return nil, fmt.Errorf("was edited by hand: expected one %s=\"%s...\" line", VarLinuxDefault, dropInPrefix)
	}
	inner := strings.TrimPrefix(as[0].inner, dropInPrefix)
	words := ParseLine(dquoteUnescape(inner)).Words()
	if dquoteEscaper.Replace(strings.Join(words, " ")) != inner {
		return nil, fmt.Errorf("was edited by hand: unexpected spacing or shell syntax in the argument list")
	}
	return words, nil
}

// addedMarker precedes an assignment nettune appended to a file that had
// none, so that revert can remove both lines again.
func addedMarker(module string) string {
	return fmt.Sprintf("%s Added by the %s module; 'nettune revert' removes these two lines.", Marker, module)
}

// editAssignment replaces the owned arguments in the last assignment of
// variable within content. When the file has no such assignment and args
// is not empty, a marked assignment is appended. A marked assignment left
// empty is removed with its marker.
func editAssignment(content, variable, module string, names, args []string) (string, error) {
	lines := splitLines(content)
	as := assignments(lines, variable)
	if len(as) == 0 {
		if len(args) == 0 {
			return content, nil
		}
		add := []string{addedMarker(module), fmt.Sprintf("%s=\"%s\"", variable, strings.Join(args, " "))}
		if content == "" {
			return strings.Join(add, "\n") + "\n", nil
		}
		if strings.HasSuffix(content, "\n") {
			return content + strings.Join(add, "\n") + "\n", nil
		}
		// Keep the original bytes contiguous: insert before the last line.
		last := len(lines) - 1
		lines = slices.Insert(lines, last, add...)
		return strings.Join(lines, "\n"), nil
	}
	a := as[len(as)-1]
	if !a.ok {
		return "", fmt.Errorf("line %d: the value of %s is not one plain quoted string; nettune does not edit it", a.index+1, variable)
	}
	line := parseShellLine(a.inner).Replace(names, args)
	value := line.String()
	if value == "" && a.index > 0 && lines[a.index-1] == addedMarker(module) && a.quote == '"' {
		lines = slices.Delete(lines, a.index-1, a.index+1)
		return strings.Join(lines, "\n"), nil
	}
	lines[a.index] = a.withValue(lines[a.index], value)
	return strings.Join(lines, "\n"), nil
}
