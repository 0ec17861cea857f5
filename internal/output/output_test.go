package output

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRowsFitWidth(t *testing.T) {
	rows := [][]string{{"sysctl", "net.core.somaxconn", strings.Repeat("x", 300)}, {"nics", "eth0", "short"}}
	for _, width := range []int{0, 60, 10} {
		tw := &TableWriter{width: width}
		tw.Rows([]string{"MODULE", "OBJECT", "COMMAND"}, rows)
		for _, l := range strings.Split(strings.TrimSuffix(tw.String(), "\n"), "\n") {
			n := utf8.RuneCountInString(l)
			switch {
			case width == 0 && strings.HasPrefix(l, "sysctl") && n < 300:
				t.Errorf("width 0 cut %q", l)
			case width == 60 && n > 60:
				t.Errorf("width 60: %d characters: %q", n, l)
			case width == 10 && n > 3*minCell+4:
				t.Errorf("width 10: columns cut below %d: %q", minCell, l)
			}
		}
	}
	tw := &TableWriter{width: 60}
	tw.Rows([]string{"A", "B"}, [][]string{{"short", strings.Repeat("y", 100)}})
	if got := strings.Split(tw.String(), "\n")[1]; !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "short  yyy") {
		t.Errorf("cut row = %q", got)
	}
}

func TestYAMLToJSON(t *testing.T) {
	got, err := YAMLToJSON([]byte("# note\nb: 1\na:\n  - x\n  - true\n  - 1.5\nc: {}\nd: null\ne: \"0x10\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"b\": 1,\n  \"a\": [\n    \"x\",\n    true,\n    1.5\n  ],\n  \"c\": {},\n  \"d\": null,\n  \"e\": \"0x10\"\n}\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
