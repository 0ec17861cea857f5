package output

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// The plain readings the fast paths of visibleLen and Abbrev must agree
// with: rune by rune, and the value's lines counted first.
func visibleLenModel(s string) int {
	n, esc := 0, false
	for _, r := range s {
		switch {
		case r == '\x1b':
			esc = true
		case esc:
			esc = r != 'm'
		default:
			n++
		}
	}
	return n
}

func abbrevModel(s string, max int) string {
	if s == "" {
		return "-"
	}
	if t := strings.TrimSuffix(s, "\n"); strings.Contains(t, "\n") {
		return fmt.Sprintf("(%d lines)", strings.Count(t, "\n")+1)
	}
	s = strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\t", " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// FuzzCells: visibleLen and Abbrev give the model's answers for any
// string, ASCII or not, with escapes, tabs and newlines; and a table row
// never ends in a space.
func FuzzCells(f *testing.F) {
	for _, s := range []string{"", "ffffffff,ffffffff", "a\tb", "x\n", "x\ny", "\x1b[31merror\x1b[0m", "ünïcødé wide", strings.Repeat("é", 50)} {
		f.Add(s, 12)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 1 || max > 200 {
			max = 1 + (max%200+200)%200
		}
		if got, want := visibleLen(s), visibleLenModel(s); got != want {
			t.Fatalf("visibleLen(%q) = %d, want %d", s, got, want)
		}
		if got, want := Abbrev(s, max), abbrevModel(s, max); got != want {
			t.Fatalf("Abbrev(%q, %d) = %q, want %q", s, max, got, want)
		}
		if strings.Contains(s, "\n") {
			return
		}
		tw := &TableWriter{}
		tw.Rows([]string{"A", "B"}, [][]string{{s, "x"}, {"y", s}})
		lines := strings.Split(strings.TrimSuffix(tw.String(), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("3 rows printed as %d lines: %q", len(lines), tw.String())
		}
		for _, line := range lines {
			if strings.HasSuffix(line, " ") {
				t.Fatalf("row %q ends in a space", line)
			}
		}
		// Column B starts at the same visible offset in every row.
		if utf8.ValidString(s) && !strings.Contains(s, "\x1b") {
			col := visibleLen(strings.TrimSuffix(lines[0], "B"))
			if got := visibleLen(strings.TrimSuffix(lines[1], "x")); got != col {
				t.Fatalf("column B at %d in the header, %d in row 1: %q", col, got, tw.String())
			}
		}
	})
}
