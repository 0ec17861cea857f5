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
	t := &TableWriter{color: p.Color}
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
	write := func(cells []string) {
		var line strings.Builder
		for i, c := range cells {
			line.WriteString(c)
			if i < len(cells)-1 {
				line.WriteString(strings.Repeat(" ", width[i]-visibleLen(c)+2))
			}
		}
		t.b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	write(header)
	for _, r := range rows {
		write(r)
	}
}

func (t *TableWriter) String() string { return t.b.String() }

// visibleLen counts runes outside ANSI escape sequences.
func visibleLen(s string) int {
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
	if strings.Contains(strings.TrimSuffix(s, "\n"), "\n") {
		return fmt.Sprintf("(%d lines)", strings.Count(strings.TrimSuffix(s, "\n"), "\n")+1)
	}
	s = strings.TrimSuffix(s, "\n")
	s = strings.ReplaceAll(s, "\t", " ")
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return string(r[:max-1]) + "…"
	}
	return s
}
