// Package output is nettune's single output layer: every result a command
// prints goes through a Printer, as a table for people or as JSON/YAML for
// programs. JSON and YAML documents carry format_version. Logs never pass
// through here; they go to stderr via log/slog.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/nettune/nettune/pkg/plan"
	"gopkg.in/yaml.v3"
)

// Format is an output format.
type Format string

// Formats.
const (
	Table Format = "table"
	JSON  Format = "json"
	YAML  Format = "yaml"
)

// ParseFormat checks a --output value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case Table, JSON, YAML:
		return Format(s), nil
	}
	return "", fmt.Errorf("invalid output format %q; valid choices: table, json, yaml", s)
}

// Printer renders documents.
type Printer struct {
	W io.Writer
	// ErrW receives the problem lines of tables (warnings, errors); nil
	// sends them to W.
	ErrW   io.Writer
	Format Format
	// Color enables ANSI colors in tables (on a terminal).
	Color bool
	// Width is the terminal's width: table rows are made to fit it by
	// cutting their longest cells. 0 (piped output) prints cells in full.
	Width int
}

// Document is something a command prints: Kind names it in JSON
// ("plan", "check", ...), Body is the structured content, and Table
// renders it for people.
type Document struct {
	Kind  string
	Body  any
	Table func(t *TableWriter)
}

// Print renders a document in the printer's format.
func (p *Printer) Print(d Document) error {
	switch p.Format {
	case JSON, YAML:
		doc := map[string]any{"format_version": plan.FormatVersion, "kind": d.Kind}
		// Flatten the body's fields next to format_version.
		b, err := json.Marshal(d.Body)
		if err != nil {
			return err
		}
		var fields map[string]any
		if err := json.Unmarshal(b, &fields); err != nil {
			doc["result"] = d.Body
		} else {
			for k, v := range fields {
				doc[k] = v
			}
		}
		if p.Format == JSON {
			enc := json.NewEncoder(p.W)
			enc.SetIndent("", "  ")
			return enc.Encode(doc)
		}
		enc := yaml.NewEncoder(p.W)
		enc.SetIndent(2)
		defer enc.Close()
		return enc.Encode(doc)
	}
	t := &TableWriter{color: p.Color, width: p.Width}
	d.Table(t)
	if _, err := io.WriteString(p.W, t.String()); err != nil {
		return err
	}
	if t.e.Len() > 0 {
		w := p.ErrW
		if w == nil {
			w = p.W
		}
		_, err := io.WriteString(w, t.e.String())
		return err
	}
	return nil
}

// TableWriter builds human output: aligned tables and plain lines.
type TableWriter struct {
	color bool
	width int
	b     strings.Builder
	e     strings.Builder
}

// Problem prints a line that reports a problem: it goes to stderr, after
// the table.
func (t *TableWriter) Problem(format string, args ...any) {
	fmt.Fprintf(&t.e, format+"\n", args...)
}

// Line prints a plain line.
func (t *TableWriter) Line(format string, args ...any) {
	fmt.Fprintf(&t.b, format+"\n", args...)
}

// Colorize wraps s in a color when colors are on. Names: red, green,
// yellow, bold, dim.
func (t *TableWriter) Colorize(color, s string) string {
	if !t.color {
		return s
	}
	codes := map[string]string{"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}
	return "\x1b[" + codes[color] + "m" + s + "\x1b[0m"
}

// Rows prints an aligned table with a header.
func (t *TableWriter) Rows(header []string, rows [][]string) {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			if n := visibleLen(c); i < len(width) && n > width[i] {
				width[i] = n
			}
		}
	}
	fit(width, t.width)
	// One buffer for the table: a plan on a large host is thousands of
	// rows.
	var buf []byte
	write := func(cells []string) {
		start := len(buf)
		for i, c := range cells {
			n := visibleLen(c)
			if i < len(width) && n > width[i] {
				c = cut(c, width[i])
				n = visibleLen(c)
			}
			buf = append(buf, c...)
			if i < len(cells)-1 && i < len(width) {
				buf = appendSpaces(buf, width[i]-n+2)
			} else if i < len(cells)-1 {
				buf = append(buf, "  "...)
			}
		}
		for len(buf) > start && buf[len(buf)-1] == ' ' {
			buf = buf[:len(buf)-1]
		}
		buf = append(buf, '\n')
	}
	write(header)
	for _, r := range rows {
		write(r)
	}
	t.b.Write(buf)
}

const spaces = "                                                                "

func appendSpaces(b []byte, n int) []byte {
	for n > len(spaces) {
		b = append(b, spaces...)
		n -= len(spaces)
	}
	if n > 0 {
		b = append(b, spaces[:n]...)
	}
	return b
}

func (t *TableWriter) String() string { return t.b.String() }

// minCell is the narrowest a column is cut to.
const minCell = 8

// fit narrows the widest columns until a row (columns plus two spaces
// between them) fits max; 0 is no limit. Columns are not cut below
// minCell, so a table with many columns may still be wider.
func fit(width []int, max int) {
	if max <= 0 || len(width) == 0 {
		return
	}
	total := 2 * (len(width) - 1)
	for _, w := range width {
		total += w
	}
	for total > max {
		widest := 0
		for i, w := range width {
			if w > width[widest] {
				widest = i
			}
		}
		if width[widest] <= minCell {
			return
		}
		width[widest]--
		total--
	}
}

// cut shortens a cell to n visible characters, the last one "…". Cells
// with colors are short labels and are left whole.
func cut(s string, n int) string {
	if strings.ContainsRune(s, '\x1b') || n < 1 {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// visibleLen counts runes outside ANSI escape sequences.
func visibleLen(s string) int {
	plain := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || s[i] == '\x1b' {
			plain = false
			break
		}
	}
	if plain {
		return len(s)
	}
	n, esc := 0, false
	for _, r := range s {
		switch {
		case r == '\x1b':
			esc = true
		case esc:
			if r == 'm' {
				esc = false
			}
		default:
			n++
		}
	}
	return n
}

// Abbrev shortens a value for a table cell: multi-line values show their
// line count, long ones are cut.
func Abbrev(s string, max int) string {
	if s == "" {
		return "-"
	}
	if len(s) <= max && strings.IndexByte(s, '\n') < 0 && strings.IndexByte(s, '\t') < 0 {
		return s // short, one line: most cells
	}
	if strings.Contains(strings.TrimSuffix(s, "\n"), "\n") {
		return fmt.Sprintf("(%d lines)", strings.Count(strings.TrimSuffix(s, "\n"), "\n")+1)
	}
	s = strings.TrimSuffix(s, "\n")
	s = strings.ReplaceAll(s, "\t", " ")
	if len(s) <= max {
		return s
	}
	if !utf8.ValidString(s) {
		// Invalid bytes become U+FFFD, as a conversion to runes does.
		if r := []rune(s); len(r) > max {
			return string(r[:max-1]) + "…"
		}
		return s
	}
	// More than max runes: cut after max-1 of them, found without
	// converting the string.
	n, cut := 0, 0
	for i := range s {
		if n == max-1 {
			cut = i
		}
		if n == max {
			return s[:cut] + "…"
		}
		n++
	}
	return s
}

// YAMLToJSON renders one YAML document as indented JSON, keeping the
// order of mapping keys (a profile printed with -o json reads like the
// YAML it came from).
func YAMLToJSON(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := nodeJSON(&b, &doc, ""); err != nil {
		return nil, err
	}
	b.WriteString("\n")
	return []byte(b.String()), nil
}

func nodeJSON(b *strings.Builder, n *yaml.Node, indent string) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			b.WriteString("null")
			return nil
		}
		return nodeJSON(b, n.Content[0], indent)
	case yaml.AliasNode:
		return nodeJSON(b, n.Alias, indent)
	case yaml.MappingNode, yaml.SequenceNode:
		open, close, step := "{", "}", 2
		if n.Kind == yaml.SequenceNode {
			open, close, step = "[", "]", 1
		}
		if len(n.Content) == 0 {
			b.WriteString(open + close)
			return nil
		}
		b.WriteString(open + "\n")
		inner := indent + "  "
		for i := 0; i < len(n.Content); i += step {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.WriteString(inner)
			v := n.Content[i]
			if step == 2 {
				k, _ := json.Marshal(n.Content[i].Value)
				b.Write(k)
				b.WriteString(": ")
				v = n.Content[i+1]
			}
			if err := nodeJSON(b, v, inner); err != nil {
				return err
			}
		}
		b.WriteString("\n" + indent + close)
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	b.Write(j)
	return nil
}
