package systemd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"golang.org/x/tools/txtar"
)

func TestRenderGolden(t *testing.T) {
	units, err := Render("/usr/local/sbin/nettune")
	if err != nil {
		t.Fatal(err)
	}
	a := &txtar.Archive{Comment: []byte("Units rendered for /usr/local/sbin/nettune (go test ./pkg/systemd -update).\n")}
	for _, f := range []string{ApplyUnit, NICUnit, UdevRule} {
		a.Files = append(a.Files, txtar.File{Name: f, Data: []byte(units[f])})
	}
	fixture.Golden(t, "testdata/units.golden.txtar", txtar.Format(a))
	apply := units[ApplyUnit]
	for _, want := range []string{"Before=network-pre.target", "Wants=network-pre.target", "DefaultDependencies=no", "ExecStart=/usr/local/sbin/nettune apply --yes"} {
		if !strings.Contains(apply, want) {
			t.Errorf("apply unit lacks %q", want)
		}
	}
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify on the rendered
// units where it is installed.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	bin, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1) to stand in for nettune")
	}
	units, err := Render(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for _, f := range []string{ApplyUnit, NICUnit} {
		name := filepath.Base(f)
		if strings.HasSuffix(name, "@.service") {
			name = strings.Replace(name, "@.service", "@eth9.service", 1)
			// verify needs an instance; the template is written under its own name too.
			os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(units[f]), 0o644)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(units[f]), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	cmd := exec.Command(sa, append([]string{"verify", "--man=no"}, files...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
	out, err := cmd.CombinedOutput()
	// Lines about other units on this machine are not ours to judge.
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "nettune") {
			ours = append(ours, l)
		}
	}
	if len(ours) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, strings.Join(ours, "\n"))
	}
}

func TestInstallUninstallRoundTrip(t *testing.T) {
	root := fixture.Unpack(t, "testdata/host.txtar")
	before := fixture.Digest(t, root)
	r, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	warn, err := Install(context.Background(), r, "/usr/local/sbin/nettune", []byte("apiVersion: nettune/v1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "offline root: not run: systemctl daemon-reload") {
		t.Errorf("warnings %q", warn)
	}
	for _, f := range Files {
		if _, err := os.Stat(r.Path(f)); err != nil {
			t.Errorf("%s not installed: %v", f, err)
		}
	}
	// Installing again replaces nettune's own files.
	if _, err := Install(context.Background(), r, "/usr/local/sbin/nettune", []byte("apiVersion: nettune/v1\n")); err != nil {
		t.Fatalf("reinstall: %v", err)
	}
	if _, err := Uninstall(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("tree differs after uninstall: %v", diffs)
	}
}

func TestInstallRefusesForeignFile(t *testing.T) {
	root := fixture.Unpack(t, "testdata/host.txtar")
	r, _ := host.New(root)
	os.WriteFile(r.Path(UdevRule), []byte("# somebody else's\n"), 0o644)
	_, err := Install(context.Background(), r, "/usr/local/sbin/nettune", nil)
	if err == nil || !strings.Contains(err.Error(), "was not written by nettune") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(r.Path(ApplyUnit)); err == nil {
		t.Fatal("a unit was written although install refused")
	}
	if _, err := Install(context.Background(), r, "/opt/my nettune", nil); err == nil {
		t.Fatal("a binary path with a space was accepted")
	}
}
