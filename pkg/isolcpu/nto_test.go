package isolcpu_test

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/isolcpu"
	"github.com/nettune/nettune/pkg/plan"
)

// renderNTO renders the NTO's [bootloader] template (testdata, verbatim)
// the way the operator (Go text/template) and TuneD (variables,
// cmdline_* options joined) do, independently of nettune's code: the
// variables are expanded here with TuneD's own definitions (cpulist2hex:
// 8-digit words; cpulist_invert: the online CPUs not isolated, expanded).
func renderNTO(t *testing.T, isolated, online cpuset.Set, static bool) []string {
	t.Helper()
	raw, err := os.ReadFile("testdata/nto-bootloader.txt")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New("nto").Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, map[string]bool{"StaticIsolation": static, "RealTimeHint": true, "HighPowerConsumption": false}); err != nil {
		t.Fatal(err)
	}
	reserved := online.Difference(isolated)
	var words []string
	var mask uint64
	var hex []string
	for _, c := range reserved.List() {
		words = append(words, strconv.Itoa(c))
	}
	// cpulist2hex for sets under 64 CPUs: "%x", zero-filled to a multiple
	// of 8 digits, split into 8-digit words.
	for _, c := range reserved.List() {
		mask |= 1 << c
	}
	s := strconv.FormatUint(mask, 16)
	for len(s)%8 != 0 {
		s = "0" + s
	}
	for i := 0; i < len(s); i += 8 {
		hex = append(hex, s[i:i+8])
	}
	vars := strings.NewReplacer(
		"${isolated_cores}", isolated.String(),
		"${not_isolated_cpumask}", strings.Join(hex, ","),
		"${not_isolated_cores_expanded}", strings.Join(words, ","),
	)
	var args []string
	for _, line := range strings.Split(b.String(), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "cmdline_") {
			continue
		}
		args = append(args, strings.Fields(vars.Replace(strings.TrimPrefix(v, "+")))...)
	}
	return args
}

func TestNTOPreset(t *testing.T) {
	online := cpuset.MustParse("0-31")
	for _, tc := range []struct {
		yaml   string
		static bool
	}{
		{"    isolated: 4-15,20-31\n    preset: nto\n", false},
		{"    isolated: 2-7\n    preset: nto\n    isolcpusFlags: [domain, managed_irq]\n", true},
		{"    isolated: 1-31\n    preset: nto\n", false},
	} {
		c := parse(t, tc.yaml).CPU
		_, got := isolcpu.KernelArgs(c, isolcpu.Resolve(c, online))
		want := renderNTO(t, c.Isolated, online, tc.static)
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got  %q\n want %q", tc.yaml, got, want)
		}
		if !isolcpu.Equal(got, want) {
			t.Errorf("%s: Equal(rendered, NTO) is false", tc.yaml)
		}
	}
	// The NTO's spellings compare by meaning: a mask with one short word,
	// a CPU list in ranges.
	if !isolcpu.Equal([]string{"tuned.non_isolcpus=000f000f", "systemd.cpu_affinity=0,1,2,3,16,17,18,19"},
		[]string{"tuned.non_isolcpus=f000f", "systemd.cpu_affinity=0-3,16-19"}) {
		t.Error("NTO spellings differ by text only but compare unequal")
	}
	// kernelArgs may not repeat what the preset renders.
	r, _ := newRoot(t, "topo-2node-32cpu-smt", "boot-debian-grub")
	got := problemsOf(planSpec(t, r, parse(t, "    isolated: 4-7\n    preset: nto\n    kernelArgs: [skew_tick=1]\n")), plan.Error)
	if !strings.Contains(got, "skew_tick= is generated from the other keys of spec.cpu") {
		t.Errorf("errors %q", got)
	}
}
