package bootloader

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// profileArg is the syntax spec.cpu.kernelArgs accepts (pkg/profile).
var profileArg = regexp.MustCompile(`^[A-Za-z0-9_.\-]+(=[^\s"]*)?$`)

// FuzzDropIn: a drop-in parseDropIn accepts renders back from its
// arguments to a file that parses to the same arguments; the arguments
// of a rendered drop-in (kernel arguments as a profile accepts them) parse
// back unchanged, and grub-mkconfig, sourcing the file, appends exactly
// them to what came before.
func FuzzDropIn(f *testing.F) {
	f.Add(renderDropIn("cpu", []string{"isolcpus=2-7", "nohz_full=2-7"}), "isolcpus=2-7 nohz_full=2-7")
	f.Add(Marker+"\n"+VarLinuxDefault+"=\""+dropInPrefix+"a  b\"\n", "a=x,y rcu_nocbs=1-3")
	f.Add(Marker+" x\n"+VarLinuxDefault+"=\""+dropInPrefix+"\"\n", "")
	f.Fuzz(func(t *testing.T, content, words string) {
		if args, err := parseDropIn(content); err == nil {
			again := renderDropIn("m", args)
			back, err := parseDropIn(again)
			if err != nil || !slices.Equal(back, args) {
				t.Fatalf("%q -> %q -> %q -> %q, %v", content, args, again, back, err)
			}
		}
		var args []string
		for _, w := range strings.Fields(words) {
			if profileArg.MatchString(w) {
				args = append(args, w)
			}
		}
		c := renderDropIn("cpu", args)
		back, err := parseDropIn(c)
		if err != nil || !slices.Equal(back, args) && len(args)+len(back) > 0 {
			t.Fatalf("%q -> %q -> %q, %v", args, c, back, err)
		}
		env := shellEnv{VarLinuxDefault: "quiet"}
		env.source(c)
		if got, want := strings.Fields(env[VarLinuxDefault]), append([]string{"quiet"}, args...); !slices.Equal(got, want) {
			t.Fatalf("grub reads %q as %q, want %q", c, got, want)
		}
	})
}
