package diagnose

import (
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/cpuset"
	"golang.org/x/tools/txtar"
)

func TestNAPIRules(t *testing.T) {
	for name, tc := range map[string]overlayCase{
		"defer without timer": {rule: "NT210", want: "eth0 defers hard IRQs for 2 empty polls, but gro_flush_timeout is 0", sev: Warning},
		"thread on isolated":  {rule: "NT310", want: "napi/eth0-8193 (pid 2601): may run on isolated CPUs 1", sev: Warning},
	} {
		t.Run(name, func(t *testing.T) {
			tc.fires, tc.quiet = []string{"napi.txtar"}, []string{"napi-ok.txtar"}
			tc.run(t)
		})
	}
	// The profile's entry is named in the remedy.
	fs := runOverlays(t, []string{"napi.txtar"}, nil, "  nics:\n  - match: {name: eth0}\n    napiDeferHardIrqs: 2\n", nil)
	if f, ok := finding(fs, "NT210"); !ok || !strings.Contains(f.Remedy, "spec.nics[0] sets napiDeferHardIrqs: 2; add groFlushTimeout") {
		t.Errorf("NT210 remedy with a profile: %v %+v", ok, f)
	}
}

func TestCPUsAllowed(t *testing.T) {
	a, err := txtar.ParseFile("testdata/napi.txtar")
	if err != nil {
		t.Fatal(err)
	}
	var status string
	for _, f := range a.Files {
		if f.Name == "proc/2601/status" {
			status = string(f.Data)
		}
	}
	s, err := CPUsAllowed(status)
	if err != nil || !s.Equal(cpuset.MustParse("0-1")) {
		t.Errorf("CPUsAllowed = %s, %v", s, err)
	}
	if _, err := CPUsAllowed("Name:\tx\n"); err == nil {
		t.Error("no Cpus_allowed_list line accepted")
	}
}

func FuzzCPUsAllowed(f *testing.F) {
	for _, s := range []string{"Cpus_allowed:\t3\nCpus_allowed_list:\t0-1\n", "Cpus_allowed_list:\t0,2-7:2/4\n", "Cpus_allowed_list:\n", "Cpus_allowed_list: x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, status string) {
		s, err := CPUsAllowed(status)
		if err != nil {
			return
		}
		if back, err := cpuset.Parse(s.String()); err != nil || !back.Equal(s) {
			t.Errorf("%q: %s does not round-trip: %v", status, s, err)
		}
	})
}
