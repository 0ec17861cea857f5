package bootloader

import (
	"slices"
	"strings"
	"testing"
)

func TestParseArg(t *testing.T) {
	for _, tc := range []struct {
		raw, name, value string
		hasValue         bool
	}{
		{"quiet", "quiet", "", false},
		{"isolcpus=managed_irq,domain,2-7", "isolcpus", "managed_irq,domain,2-7", true},
		{"intel-idle.max-cstate=1", "intel_idle.max_cstate", "1", true},
		{`"dyndbg=file a.c +p"`, "dyndbg", "file a.c +p", true},
		{`foo="a=b c"`, "foo", "a=b c", true},
		{"empty=", "empty", "", true},
	} {
		a := ParseArg(tc.raw)
		if a.Name != tc.name || a.Value != tc.value || a.HasValue != tc.hasValue {
			t.Errorf("ParseArg(%q) = %+v", tc.raw, a)
		}
	}
}

func TestParseLineKeepsBytes(t *testing.T) {
	for _, s := range []string{
		"", " ", "quiet", "  quiet  splash \n", `a "b c" d="e f" -- init arg`,
		"BOOT_IMAGE=/vmlinuz ro\tquiet\n", `unterminated "quote here`,
	} {
		if got := ParseLine(s).String(); got != s {
			t.Errorf("ParseLine(%q).String() = %q", s, got)
		}
	}
	l := ParseLine(`ro dyndbg="file a.c +p" quiet -- --init-flag x=1`)
	if got := l.Words(); !slices.Equal(got, []string{"ro", `dyndbg="file a.c +p"`, "quiet", "--", "--init-flag", "x=1"}) {
		t.Errorf("Words = %q", got)
	}
	var kernel []string
	for _, a := range l.Kernel() {
		kernel = append(kernel, a.Name)
	}
	if !slices.Equal(kernel, []string{"ro", "dyndbg", "quiet"}) {
		t.Errorf("Kernel names = %q (init arguments after -- must not count)", kernel)
	}
}

var cpuNames = []string{"isolcpus", "nohz_full", "rcu_nocbs"}

func TestReplace(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		args       []string
		want       string
	}{
		{"append", "quiet  splash", []string{"isolcpus=2-7", "nohz_full=2-7"}, "quiet  splash isolcpus=2-7 nohz_full=2-7"},
		{"empty line", "", []string{"isolcpus=2"}, "isolcpus=2"},
		{"only whitespace", "  ", []string{"isolcpus=2"}, "isolcpus=2  "},
		{"trailing newline kept", "root=/dev/sda1 rw quiet\n", []string{"isolcpus=2"}, "root=/dev/sda1 rw quiet isolcpus=2\n"},
		{"before init args", "ro quiet -- single", []string{"isolcpus=2"}, "ro quiet isolcpus=2 -- single"},
		{"init args only", "-- single", []string{"isolcpus=2"}, "isolcpus=2 -- single"},
		{"replace in place", "a isolcpus=1 b", []string{"isolcpus=2-7"}, "a isolcpus=2-7 b"},
		{"more args follow the last slot", "a isolcpus=1 b nohz_full=1 c", []string{"isolcpus=2", "nohz_full=2", "rcu_nocbs=2"}, "a isolcpus=2 b nohz_full=2 rcu_nocbs=2 c"},
		{"surplus slots removed", "a isolcpus=1 b nohz_full=1 c", []string{"isolcpus=2"}, "a isolcpus=2 b c"},
		{"remove all", "isolcpus=1 quiet nohz_full=1", nil, "quiet"},
		{"dash spelling is the same parameter", "a nohz-full=1", []string{"nohz_full=3"}, "a nohz_full=3"},
		{"quoted owned word", `a "isolcpus=1" b`, []string{"isolcpus=2"}, "a isolcpus=2 b"},
		{"init args never owned", "a -- isolcpus=1", []string{"isolcpus=2"}, "a isolcpus=2 -- isolcpus=1"},
		{"foreign prefix is foreign", "isolcpus_extra=1 xisolcpus=1", []string{"isolcpus=2"}, "isolcpus_extra=1 xisolcpus=1 isolcpus=2"},
	} {
		got := ParseLine(tc.line).Replace(cpuNames, tc.args).String()
		if got != tc.want {
			t.Errorf("%s: Replace(%q, %q) = %q, want %q", tc.name, tc.line, tc.args, got, tc.want)
		}
		// Re-applying the same arguments never changes the line.
		if again := ParseLine(got).Replace(cpuNames, tc.args).String(); again != got {
			t.Errorf("%s: second Replace changed %q to %q", tc.name, got, again)
		}
	}
}

// TestReplaceRevert: replacing the new arguments by the old ones gives back
// the original line byte for byte whenever the old ones were not more.
func TestReplaceRevert(t *testing.T) {
	lines := []string{
		"", "quiet", " quiet ", "quiet\tsplash\n", "a -- b", "-- b", "isolcpus=1", "a isolcpus=1  b",
		"nohz_full=1 a isolcpus=1", "a\tisolcpus=1\t\tnohz_full=1\tb -- isolcpus=9",
	}
	for _, l := range lines {
		old := ParseLine(l).Owned(cpuNames)
		for _, args := range [][]string{
			{"isolcpus=2-7", "nohz_full=2-7", "rcu_nocbs=2-7"},
			{"isolcpus=3", "nohz_full=3"},
		} {
			if len(args) < len(old) {
				continue
			}
			applied := ParseLine(l).Replace(cpuNames, args)
			if got := applied.Owned(cpuNames); !slices.Equal(got, args) {
				t.Errorf("%q: owned after apply = %q, want %q", l, got, args)
			}
			if back := applied.Replace(cpuNames, old).String(); back != l {
				t.Errorf("%q -> %q -> %q: not restored", l, applied.String(), back)
			}
		}
	}
}

func FuzzLine(f *testing.F) {
	f.Add("BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet", "isolcpus=2 nohz_full=2")
	f.Add(" a\t\"b c\" -- d ", "rcu_nocbs=1")
	f.Add("isolcpus=1 isolcpus=2", "")
	f.Fuzz(func(t *testing.T, line, argStr string) {
		l := ParseLine(line)
		if l.String() != line {
			t.Fatalf("round trip of %q gave %q", line, l.String())
		}
		var args []string
		for _, w := range strings.Fields(argStr) {
			if strings.ContainsRune(w, '"') || w == "--" {
				return
			}
			a := ParseArg(w)
			if !slices.Contains(cpuNames, a.Name) {
				return
			}
			args = append(args, w)
		}
		old := l.Owned(cpuNames)
		applied := l.Replace(cpuNames, args)
		if got := applied.Owned(cpuNames); !slices.Equal(got, args) {
			t.Fatalf("%q with %q: owned %q", line, args, got)
		}
		// Foreign words are untouched, in order.
		if !slices.Equal(foreign(l), foreign(applied)) {
			t.Fatalf("%q with %q: foreign words changed: %q -> %q", line, args, foreign(l), foreign(applied))
		}
		if again := applied.Replace(cpuNames, args).String(); again != applied.String() {
			t.Fatalf("not idempotent: %q -> %q", applied.String(), again)
		}
		if len(args) >= len(old) && !strings.Contains(line, "\"") {
			if back := applied.Replace(cpuNames, old).String(); back != line {
				t.Fatalf("revert of %q with %q gave %q", line, args, back)
			}
		}
	})
}

func foreign(l Line) []string {
	var out []string
	owned := map[string]bool{}
	for _, w := range l.Owned(cpuNames) {
		owned[w] = true
	}
	for _, w := range l.Words() {
		if !owned[w] {
			out = append(out, w)
		}
	}
	return out
}
