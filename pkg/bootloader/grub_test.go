package bootloader

import (
	"strings"
	"testing"
)

func TestParseAssignment(t *testing.T) {
	for _, tc := range []struct {
		line  string
		name  string
		inner string
		quote byte
		ok    bool
	}{
		{`GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"`, VarLinuxDefault, "quiet splash", '"', true},
		{`  export GRUB_CMDLINE_LINUX='ro quiet'  # comment`, VarLinux, "ro quiet", '\'', true},
		{`GRUB_CMDLINE_LINUX=quiet`, VarLinux, "quiet", 0, true},
		{`GRUB_CMDLINE_LINUX=`, VarLinux, "", 0, true},
		{`GRUB_CMDLINE_LINUX="a \"b c\" d"`, VarLinux, `a \"b c\" d`, '"', true},
		{`GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX x"`, VarLinux, "$GRUB_CMDLINE_LINUX x", '"', true},
		{`GRUB_CMDLINE_LINUX="a"" b"`, VarLinux, "a", '"', false},
		{`GRUB_CMDLINE_LINUX="unterminated`, VarLinux, "", 0, false},
		{`GRUB_DISTRIBUTOR=` + "`lsb_release -i -s`", "GRUB_DISTRIBUTOR", "`lsb_release", 0, false},
	} {
		a, isAssign := parseAssignment(0, tc.line)
		if !isAssign || a.name != tc.name || a.inner != tc.inner || a.quote != tc.quote || a.ok != tc.ok {
			t.Errorf("parseAssignment(%q) = %+v (assignment %v)", tc.line, a, isAssign)
		}
	}
	for _, l := range []string{"# GRUB_CMDLINE_LINUX=\"x\"", "if [ x ]; then", ""} {
		if _, ok := parseAssignment(0, l); ok {
			t.Errorf("%q parsed as an assignment", l)
		}
	}
}

func TestShellEnv(t *testing.T) {
	env := shellEnv{}
	env.source(`GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX=''
A='$NOT expanded'
GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT:+$GRUB_CMDLINE_LINUX_DEFAULT }splash"
B="${UNSET:-dflt} ${GRUB_CMDLINE_LINUX:+never} \$lit"
`)
	for k, want := range map[string]string{
		VarLinuxDefault: "quiet splash", VarLinux: "", "A": "$NOT expanded", "B": "dflt  $lit",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
}

func TestEditAssignment(t *testing.T) {
	names := []string{"isolcpus"}
	for _, tc := range []struct {
		name, in string
		args     []string
		want     string
	}{
		{"double quotes", "A=1\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n", []string{"isolcpus=2"}, "A=1\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet isolcpus=2\"\n"},
		{"bare word gets quotes", "GRUB_CMDLINE_LINUX_DEFAULT=quiet\n", []string{"isolcpus=2"}, "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet isolcpus=2\"\n"},
		{"last assignment wins", "GRUB_CMDLINE_LINUX_DEFAULT=\"a\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT b\"\n", []string{"isolcpus=2"},
			"GRUB_CMDLINE_LINUX_DEFAULT=\"a\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT b isolcpus=2\"\n"},
		{"missing variable", "GRUB_TIMEOUT=5\n", []string{"isolcpus=2"}, "GRUB_TIMEOUT=5\n" + addedMarker("cpu") + "\nGRUB_CMDLINE_LINUX_DEFAULT=\"isolcpus=2\"\n"},
		{"missing variable, no final newline", "GRUB_TIMEOUT=5\nX=1", []string{"isolcpus=2"}, "GRUB_TIMEOUT=5\n" + addedMarker("cpu") + "\nGRUB_CMDLINE_LINUX_DEFAULT=\"isolcpus=2\"\nX=1"},
	} {
		got, err := editAssignment(tc.in, VarLinuxDefault, "cpu", names, tc.args)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
			continue
		}
		// Removing the arguments again restores the input, marker included.
		back, err := editAssignment(got, VarLinuxDefault, "cpu", names, nil)
		if tc.name == "bare word gets quotes" {
			continue // the quotes stay; the backup restores the exact bytes
		}
		if err != nil || back != tc.in {
			t.Errorf("%s: revert gave %q, %v", tc.name, back, err)
		}
	}
	if _, err := editAssignment(`GRUB_CMDLINE_LINUX_DEFAULT="a"$(x)`, VarLinuxDefault, "cpu", names, []string{"isolcpus=1"}); err == nil || !strings.Contains(err.Error(), "not one plain quoted string") {
		t.Errorf("complex value: %v", err)
	}
}

func TestDropIn(t *testing.T) {
	c := renderDropIn("cpu", []string{"isolcpus=2-7", "nohz_full=2-7"})
	args, err := parseDropIn(c)
	if err != nil || strings.Join(args, " ") != "isolcpus=2-7 nohz_full=2-7" {
		t.Fatalf("parseDropIn = %q, %v\n%s", args, err, c)
	}
	env := shellEnv{VarLinuxDefault: "console=tty1 console=ttyS0"}
	env.source(c)
	if got := env[VarLinuxDefault]; got != "console=tty1 console=ttyS0 isolcpus=2-7 nohz_full=2-7" {
		t.Errorf("drop-in appends: %q", got)
	}
	env = shellEnv{}
	env.source(c)
	if got := env[VarLinuxDefault]; got != "isolcpus=2-7 nohz_full=2-7" {
		t.Errorf("drop-in on an empty value: %q", got)
	}
	if _, err := parseDropIn("GRUB_CMDLINE_LINUX_DEFAULT=\"x\"\n"); err == nil {
		t.Error("a foreign file parsed as nettune's")
	}
	if _, err := parseDropIn(strings.Replace(c, "isolcpus", "isolcpus=1  isolcpus", 1)); err == nil {
		t.Error("a hand-edited drop-in parsed as nettune's")
	}
}

func FuzzAssignment(f *testing.F) {
	f.Add(`GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"`)
	f.Add(`GRUB_CMDLINE_LINUX_DEFAULT=quiet`)
	f.Add(`export GRUB_CMDLINE_LINUX_DEFAULT='a b' # c`)
	f.Fuzz(func(t *testing.T, line string) {
		if strings.Contains(line, "\n") {
			return
		}
		a, ok := parseAssignment(0, line)
		if !ok || !a.ok {
			return
		}
		if a.start < 0 || a.end > len(line) || a.start > a.end || line[a.start:a.end] != a.inner {
			t.Fatalf("bad bounds %+v for %q", a, line)
		}
		if a.withValue(line, a.inner) != line {
			t.Fatalf("rewriting the same value changed %q to %q", line, a.withValue(line, a.inner))
		}
		if a.name == VarLinuxDefault && !strings.ContainsAny(a.inner, `"'\$`+"`") {
			got, err := editAssignment(line, VarLinuxDefault, "cpu", []string{"isolcpus"}, []string{"isolcpus=3"})
			if err != nil {
				t.Fatalf("edit %q: %v", line, err)
			}
			as := assignments(splitLines(got), VarLinuxDefault)
			if len(as) != 1 || !as[0].ok || strings.Join(parseShellLine(as[0].inner).Owned([]string{"isolcpus"}), " ") != "isolcpus=3" {
				t.Fatalf("edit %q gave %q", line, got)
			}
		}
	})
}

func FuzzShellEnv(f *testing.F) {
	f.Add("A=\"x\"\nB=\"${A:+$A }y\"\nC='$B'\n")
	f.Add("GRUB_CMDLINE_LINUX_DEFAULT=\"${GRUB_CMDLINE_LINUX_DEFAULT:-quiet} \\$x\"")
	f.Add(strings.Repeat("A=\"$A$A.\"\n", 40))
	f.Fuzz(func(t *testing.T, content string) {
		env := shellEnv{}
		env.source(content)
		for k, v := range env {
			if k == "" || len(v) > maxValue {
				t.Fatalf("%q: %q = %q", content, k, v)
			}
		}
	})
}
