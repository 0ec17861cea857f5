package sysctl

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

func fixtureRoot(t *testing.T) *host.Root {
	t.Helper()
	dir := fixture.Unpack(t, "../../testdata/hosts/sysctl-basic.txtar")
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	r := fixtureRoot(t)
	for _, tc := range []struct {
		name, canonical, file string
		err                   string
	}{
		{name: "net.core.somaxconn", canonical: "net.core.somaxconn", file: "net/core/somaxconn"},
		{name: "net/core/somaxconn", canonical: "net.core.somaxconn", file: "net/core/somaxconn"},
		{name: "net.ipv4.conf.eth0.rp_filter", canonical: "net.ipv4.conf.eth0.rp_filter", file: "net/ipv4/conf/eth0/rp_filter"},
		// A VLAN interface: all three spellings name the same file.
		{name: "net.ipv4.conf.eth0/100.rp_filter", canonical: "net.ipv4.conf.eth0/100.rp_filter", file: "net/ipv4/conf/eth0.100/rp_filter"},
		{name: "net/ipv4/conf/eth0.100/rp_filter", canonical: "net.ipv4.conf.eth0/100.rp_filter", file: "net/ipv4/conf/eth0.100/rp_filter"},
		{name: "net.ipv4.conf.eth0.100.rp_filter", canonical: "net.ipv4.conf.eth0/100.rp_filter", file: "net/ipv4/conf/eth0.100/rp_filter"},
		{name: "net.core.somaxconnn", err: "unknown sysctl net.core.somaxconnn: no such parameter in the running kernel; did you mean net.core.somaxconn?"},
		{name: "net.cor.somaxconn", err: "did you mean net.core?"},
		{name: "net.core", err: "is a directory"},
		{name: "somaxconn", err: "has no separator"},
		{name: "net..core", err: "empty or invalid element"},
	} {
		n, err := Resolve(r, tc.name)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Resolve(%q) error = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Resolve(%q): %v", tc.name, err)
			continue
		}
		if n.String() != tc.canonical || n.Path != r.Proc("sys", tc.file) {
			t.Errorf("Resolve(%q) = %q at %s, want %q at %s", tc.name, n, n.Path, tc.canonical, tc.file)
		}
	}
}

func TestNormalize(t *testing.T) {
	if got := Normalize("4096\t131072  6291456\n"); got != "4096 131072 6291456" {
		t.Errorf("Normalize = %q", got)
	}
}

func TestParseConf(t *testing.T) {
	in := `# comment
; another
net.core.somaxconn = 1024
-net.ipv4.conf.eth0/100.rp_filter=2
net/ipv4/conf/eth0.100/forwarding = 1
net.ipv4.tcp_rmem = 4096	87380   6291456
garbage line
`
	got, err := ParseConf(strings.NewReader(in), "/etc/sysctl.d/x.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{
		{"net.core.somaxconn", "1024", "/etc/sysctl.d/x.conf", 3},
		{"net.ipv4.conf.eth0/100.rp_filter", "2", "/etc/sysctl.d/x.conf", 4},
		{"net.ipv4.conf.eth0/100.forwarding", "1", "/etc/sysctl.d/x.conf", 5},
		{"net.ipv4.tcp_rmem", "4096 87380 6291456", "/etc/sysctl.d/x.conf", 6},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d settings: %+v", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("setting %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCanonicalKey(t *testing.T) {
	for in, want := range map[string]string{
		"net.core.somaxconn":               "net.core.somaxconn",
		"/net/core/somaxconn/":             "net.core.somaxconn",
		" net.core.somaxconn ":             "net.core.somaxconn",
		"net/ipv4/conf/eth0.100/rp_filter": "net.ipv4.conf.eth0/100.rp_filter",
		"net.ipv4.conf.eth0/100.rp_filter": "net.ipv4.conf.eth0/100.rp_filter",
		"net.ipv4.conf.*.rp_filter":        "net.ipv4.conf.*.rp_filter",
		// Names no parameter can have.
		"/": "", "//": "", ".": "", "somaxconn": "", "net..core": "", "net//core": "",
		"net.core.": "", "net/./core": "", "net/../core": "", "/a.b/c": "", "-net.core.x": "", "#net.core.x": "", ";net.core.x": "",
		"net.co re.x": "",
	} {
		got, ok := CanonicalKey(in)
		if got != want || ok != (want != "") {
			t.Errorf("CanonicalKey(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// FuzzParseConf: every setting has a key that is a valid sysctl name in
// canonical form (canonicalising it again changes nothing, and it splits
// into the same elements as the spelling in the file), a normalized value,
// a line number inside the input; and the persistence file rendered from
// the settings parses back to the same keys and values.
func FuzzParseConf(f *testing.F) {
	f.Add("net.core.somaxconn = 1024\n# x\n")
	f.Add("-a/b.c/d = 1 2\t3")
	f.Add("/=\n-=1\n--a.b=2\n a . b = 3\n")
	f.Add("net/ipv4/conf/eth0.100/rp_filter=1\n;c\nnet.ipv4.conf.eth0/100.rp_filter = 2\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseConf(strings.NewReader(s), "f")
		if err != nil {
			return
		}
		lines := strings.Count(s, "\n") + 1
		vals := map[string]string{}
		for _, st := range got {
			if st.Key == "" || strings.HasPrefix(st.Key, "-") || st.Value != Normalize(st.Value) || st.File != "f" || st.Line < 1 || st.Line > lines {
				t.Fatalf("bad setting %+v from %q", st, s)
			}
			if err := profile.CheckSysctlName(st.Key); err != nil {
				t.Fatalf("key %q from %q: %v", st.Key, s, err)
			}
			if again, ok := CanonicalKey(st.Key); !ok || again != st.Key {
				t.Fatalf("key %q from %q canonicalises again to %q, %v", st.Key, s, again, ok)
			}
			if Canonical(profile.SplitSysctlName(st.Key)) != st.Key {
				t.Fatalf("key %q from %q does not round-trip through its elements", st.Key, s)
			}
			vals[st.Key] = st.Value
		}
		back, err := ParseConf(strings.NewReader(render("p", vals)), ConfFile)
		if err != nil {
			t.Fatal(err)
		}
		if len(back) != len(vals) {
			t.Fatalf("render of %q parses back to %d settings, want %d: %+v", vals, len(back), len(vals), back)
		}
		for _, st := range back {
			if v, ok := vals[st.Key]; !ok || v != st.Value {
				t.Fatalf("render of %q parses back to %q = %q", vals, st.Key, st.Value)
			}
		}
	})
}

func planFixture(t *testing.T, r *host.Root, sysctls map[string]string) *module.Result {
	t.Helper()
	spec := &profile.Spec{Sysctl: map[string]profile.SysctlValue{}}
	for k, v := range sysctls {
		spec.Sysctl[k] = profile.SysctlValue(v)
	}
	env := &module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Profile: "t"}
	res, err := Module{}.Plan(context.Background(), env, spec)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPlanItemsAndWarnings(t *testing.T) {
	r := fixtureRoot(t)
	res := planFixture(t, r, map[string]string{
		"net.core.somaxconn":               "8192",
		"net.ipv4.tcp_rmem":                "4096 131072 6291456",
		"net.ipv4.conf.eth0.100.rp_filter": "2",
		"vm.swappiness":                    "1",
	})
	status := map[string]plan.Status{}
	for _, it := range res.Items {
		status[it.Object] = it.Status
	}
	want := map[string]plan.Status{
		"net.core.somaxconn":               plan.Drift,
		"net.ipv4.tcp_rmem":                plan.OK, // tabs vs spaces
		"net.ipv4.conf.eth0/100.rp_filter": plan.Drift,
		"vm.swappiness":                    plan.Drift,
		ConfFile:                           plan.Drift,
	}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("%s: status %q, want %q", k, status[k], v)
		}
	}
	var msgs []string
	for _, p := range res.Problems {
		if p.Severity != plan.Warning {
			t.Errorf("unexpected error problem: %v", p)
		}
		msgs = append(msgs, p.String())
	}
	all := strings.Join(msgs, "\n")
	for _, frag := range []string{
		"/etc/sysctl.d/99-late.conf:2 sets vm.swappiness = 10 and is read after /etc/sysctl.d/90-nettune.conf, so it wins",
		"/etc/sysctl.d/10-early.conf:2 sets net.core.somaxconn = 1024; /etc/sysctl.d/90-nettune.conf is read later and wins",
	} {
		if !strings.Contains(all, frag) {
			t.Errorf("warnings lack %q; got:\n%s", frag, all)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	r := fixtureRoot(t)
	res := planFixture(t, r, map[string]string{
		"kernel.osrelease":       "x",
		"net.core.nope":          "1",
		"net.core.somaxconn":     "",
		"net/core/netdev_budget": "5",
		"net.core.netdev_budget": "6",
	})
	var msgs []string
	for _, p := range res.Problems {
		if p.Severity == plan.Error {
			msgs = append(msgs, p.String())
		}
	}
	all := strings.Join(msgs, "\n")
	for _, frag := range []string{"kernel.osrelease is read-only", "unknown sysctl net.core.nope", "empty value", "same parameter as"} {
		if !strings.Contains(all, frag) {
			t.Errorf("errors lack %q; got:\n%s", frag, all)
		}
	}
}

func TestRefuseForeignConfFile(t *testing.T) {
	r := fixtureRoot(t)
	if err := os.WriteFile(r.Path(ConfFile), []byte("net.core.somaxconn = 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := planFixture(t, r, map[string]string{"net.core.somaxconn": "8192"})
	found := false
	for _, p := range res.Problems {
		if p.Severity == plan.Error && strings.Contains(p.Message, "not managed by nettune") {
			found = true
		}
	}
	if !found {
		t.Errorf("foreign %s not refused: %+v", ConfFile, res.Problems)
	}
}

// TestApplyDetectsClamp: a value the "kernel" stores differently is a
// verification failure, not a success.
func TestApplyDetectsClamp(t *testing.T) {
	r := fixtureRoot(t)
	r.W = clampWriter{r.W}
	c := plan.Change{Module: "sysctl", Object: "net.core.somaxconn", Attribute: attrValue, Action: plan.Set, Before: "4096", After: "999999", Path: "/proc/sys/net/core/somaxconn"}
	err := Module{}.Apply(context.Background(), &module.Env{Root: r}, c)
	if err == nil || !strings.Contains(err.Error(), `kernel reads back "65535"`) {
		t.Fatalf("Apply error = %v, want a read-back failure", err)
	}
}

// clampWriter stores at most 65535, like a kernel parameter with a range.
type clampWriter struct{ host.Writer }

func (c clampWriter) WriteKernel(p, v string) error {
	if filepath.Base(p) == "somaxconn" && len(v) > 5 {
		v = "65535"
	}
	return c.Writer.WriteKernel(p, v)
}
