package bootloader

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
	"golang.org/x/tools/txtar"
)

// tunedRoot is the RHEL 9 BLS host with a TuneD overlay from testdata on
// top; an overlay that brings its own BLS entries replaces the host's.
func tunedRoot(t *testing.T, overlay string) *host.Root {
	t.Helper()
	r, _ := root(t, "boot-rhel-bls")
	a, err := txtar.ParseFile(filepath.Join("testdata", overlay+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Files {
		if strings.HasPrefix(f.Name, "boot/loader/entries/") {
			if err := os.RemoveAll(r.Path("/boot/loader/entries")); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if err := fixture.Extract(a, r.Prefix); err != nil {
		t.Fatal(err)
	}
	return r
}

func problemsOf(ps []plan.Problem, sev plan.Severity) []string {
	var out []string
	for _, p := range ps {
		if p.Severity == sev {
			out = append(out, p.String())
		}
	}
	return out
}

// TestTunedParams: arguments TuneD puts into the BLS entries through
// $tuned_params are an owned-argument conflict when the module owns them,
// like an argument set by hand in /etc/default/grub, and nothing at all
// when it does not.
func TestTunedParams(t *testing.T) {
	const entry = "/boot/loader/entries/4c2a3f0e9d5b4b8c8a1e2f3d4c5b6a79-5.14.0-362.8.1.el9_3.x86_64.conf"
	cpuSkew := cpuReq
	cpuSkew.Names = append(slices.Clone(cpuReq.Names), "skew_tick")
	cpuSkew.Args = append(slices.Clone(cpuReq.Args), "skew_tick=1")
	for _, tc := range []struct {
		name, overlay string
		q             Request
		want          []string // fragments of the one error; none when nil
		not           []string
	}{
		{"realtime profile, cpu", "tuned-realtime", cpuReq, []string{
			"TuneD puts isolcpus=0 on the kernel command line through $tuned_params (set in /boot/grub2/grubenv and /etc/tuned/bootcmdline, used by " + entry + "), which the cpu module manages; the kernel would see both",
			"tuned-adm profile NAME", "tuned-adm off", "TUNED_BOOT_CMDLINE in /etc/tuned/bootcmdline", "grub2-editenv - set tuned_params=",
		}, []string{"rescue", "skew_tick", "nosoftlockup"}},
		{"realtime profile, hugepages", "tuned-realtime", hpReq, nil, nil},
		{"cpu-partitioning in bootcmdline only", "tuned-cpu-partitioning", cpuReq, []string{
			"TuneD puts nohz_full=1-13,15-27 rcu_nocbs=1-13,15-27 on the kernel command line through $tuned_params (set in /etc/tuned/bootcmdline, used by " + entry + ")",
		}, []string{"grubenv and", "nohz=on", "tuned.non_isolcpus"}},
		{"network-latency, cpu", "tuned-network-latency", cpuReq, nil, nil},
		{"network-latency, cpu owning skew_tick", "tuned-network-latency", cpuSkew, []string{
			"TuneD puts skew_tick=1 on the kernel command line",
		}, []string{"tsc=reliable"}},
		{"RHEL 8 transparent_hugepages, cpu", "tuned-rhel8-thp", cpuReq, nil, nil},
		{"RHEL 8 transparent_hugepages, hugepages", "tuned-rhel8-thp", hpReq, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tunedRoot(t, tc.overlay)
			res, err := Plan(r, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			errs := problemsOf(res.Problems, plan.Error)
			if tc.want == nil {
				if len(errs) > 0 || hasProblem(res.Problems, plan.Warning, "TuneD") {
					t.Fatalf("unexpected problems %v", res.Problems)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("want one error, got %v", res.Problems)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0], w) {
					t.Errorf("error lacks %q:\n%s", w, errs[0])
				}
			}
			for _, n := range tc.not {
				if strings.Contains(errs[0], n) {
					t.Errorf("error names %q:\n%s", n, errs[0])
				}
			}
		})
	}
}

// TestTunedParamsNotInEntries: TuneD keeps owned arguments but no entry
// takes $tuned_params (removed by hand): TuneD adds it again when it
// applies its profile, so it is a warning, not yet a conflict.
func TestTunedParamsNotInEntries(t *testing.T) {
	r := tunedRoot(t, "tuned-realtime")
	files, _ := filepath.Glob(r.Path("/boot/loader/entries") + "/*.conf")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		os.WriteFile(f, []byte(strings.ReplaceAll(string(b), " $tuned_params", "")), 0o644)
	}
	res, err := Plan(r, cpuReq)
	if err != nil {
		t.Fatal(err)
	}
	if errs := problemsOf(res.Problems, plan.Error); len(errs) > 0 {
		t.Errorf("errors %v", errs)
	}
	if !hasProblem(res.Problems, plan.Warning, "TuneD keeps isolcpus=0 for the kernel command line (/boot/grub2/grubenv and /etc/tuned/bootcmdline)") {
		t.Errorf("problems %v", res.Problems)
	}
}

// TestTunedParamsSystemdBoot: systemd-boot does not expand GRUB variables
// and TuneD does not add $tuned_params to its entries, so a TuneD
// bootcmdline with owned arguments is no conflict there.
func TestTunedParamsSystemdBoot(t *testing.T) {
	r, _ := root(t, "boot-systemd-boot")
	a, err := txtar.ParseFile("testdata/tuned-realtime.txtar")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Files {
		if f.Name == "etc/tuned/bootcmdline" {
			os.MkdirAll(r.Etc("tuned"), 0o755)
			os.WriteFile(r.Etc("tuned/bootcmdline"), f.Data, 0o644)
		}
	}
	res := mustPlan(t, r, cpuReq)
	if hasProblem(res.Problems, plan.Warning, "TuneD") {
		t.Errorf("problems %v", res.Problems)
	}
}

// TestGrubenvVariables: another GRUB variable an entry takes owned
// arguments from is the same conflict; $kernelopts is the entries' own
// line on RHEL 8, which grubby edits, and is not.
func TestGrubenvVariables(t *testing.T) {
	r := tunedRoot(t, "tuned-rhel8-thp")
	p := r.Path("/boot/grub2/grubenv")
	b, _ := os.ReadFile(p)
	env := strings.Replace(string(b), "console=ttyS0,115200 noapic", "console=ttyS0,115200 noapic isolcpus=3", 1)
	env = strings.Replace(env, "tuned_initrd=\n", "tuned_initrd=\nrt_args=nohz_full=3 rcu_nocbs=3\n", 1)
	os.WriteFile(p, []byte(env), 0o644)
	e := r.Path("/boot/loader/entries/295e1ba1696e4fad9e062f096f92d147-4.18.0-305.el8.x86_64.conf")
	b, _ = os.ReadFile(e)
	os.WriteFile(e, []byte(strings.Replace(string(b), "$tuned_params", "$tuned_params ${rt_args}", 1)), 0o644)

	got := problemsOf(variableConflicts(r, "cpu", cpuReq.Names, true), plan.Error)
	want := "/boot/grub2/grubenv sets $rt_args to nohz_full=3 rcu_nocbs=3, which /boot/loader/entries/295e1ba1696e4fad9e062f096f92d147-4.18.0-305.el8.x86_64.conf put on the kernel command line and the cpu module manages"
	if len(got) != 1 || !strings.Contains(got[0], want) || strings.Contains(got[0], "kernelopts") {
		t.Errorf("got %q", got)
	}
}

func TestEntryVariables(t *testing.T) {
	for entry, want := range map[string][]string{
		"options root=/dev/mapper/rhel-root ro rhgb quiet $tuned_params\ninitrd /initramfs.img $tuned_initrd\n": {"tuned_params"},
		"options $kernelopts $tuned_params\n":                    {"kernelopts", "tuned_params"},
		"options ${kernelopts} x=$y $tuned_params $tuned_params": {"kernelopts", "tuned_params"},
		"title $tuned_params\nlinux /vmlinuz\n":                  nil,
		"options root=UUID=x rw quiet\n":                         nil,
	} {
		if got := entryVariables(entry); !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", entry, got, want)
		}
	}
}

func TestParseBootcmdline(t *testing.T) {
	for content, want := range map[string]string{
		"# comment\nTUNED_BOOT_CMDLINE=\"isolcpus=0 nosoftlockup\"\nTUNED_BOOT_INITRD_ADD=\"\"\n": "isolcpus=0 nosoftlockup",
		"TUNED_BOOT_CMDLINE=\nTUNED_BOOT_INITRD_ADD=\n":                                           "",
		"TUNED_BOOT_CMDLINE=\"a\"\nTUNED_BOOT_CMDLINE=\"b c\"\n":                                  "b c",
		"": "",
	} {
		if got := parseBootcmdline(content); got != want {
			t.Errorf("%q: got %q, want %q", content, got, want)
		}
	}
}

func TestParseGrubenv(t *testing.T) {
	env := parseGrubenv("# GRUB Environment Block\nsaved_entry=x-5.14\ntuned_params=isolcpus=0 skew_tick=1\ntuned_initrd=\n#######")
	if env["tuned_params"] != "isolcpus=0 skew_tick=1" || env["saved_entry"] != "x-5.14" || len(env) != 3 {
		t.Errorf("%q", env)
	}
}
