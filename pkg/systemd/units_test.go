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
	"github.com/nettune/nettune/pkg/profile"
	"golang.org/x/tools/txtar"
)

// testProfile tunes two NICs (one by PCI address and driver, one by MAC)
// and a glob of names, sets sysctls and hugepages, and binds a device.
const testProfile = `apiVersion: nettune/v1
kind: Profile
metadata:
  name: boot-test
spec:
  sysctl:
    net.core.somaxconn: 4096
  nics:
    - match: {pci: "03:00.0", driver: ixgbe}
      txqueuelen: 2000
    - match: {mac: "52:54:00:AB:CD:EF"}
      txqueuelen: 3000
    - match: {name: "ens*"}
      txqueuelen: 4000
  devices:
    - {pci: "0000:05:00.0", driver: vfio-pci}
`

func testSpec(t *testing.T) *profile.Spec {
	t.Helper()
	p, err := profile.Parse("test.yaml", []byte(testProfile))
	if err != nil {
		t.Fatal(err)
	}
	return &p.Spec
}

func TestRenderGolden(t *testing.T) {
	units, err := RenderFor(Options{Binary: "/usr/local/sbin/nettune", ManPage: true, Spec: testSpec(t)})
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := Render("/usr/sbin/nettune")
	if err != nil {
		t.Fatal(err)
	}
	a := &txtar.Archive{Comment: []byte("Units rendered for /usr/local/sbin/nettune and testProfile, then the package's rule (go test ./pkg/systemd -update).\n")}
	for _, f := range []string{ApplyUnit, NICUnit, UdevRule} {
		a.Files = append(a.Files, txtar.File{Name: f, Data: []byte(units[f])})
	}
	a.Files = append(a.Files, txtar.File{Name: ModulesLoad, Data: []byte(units[ModulesLoad])})
	a.Files = append(a.Files, txtar.File{Name: "package" + UdevRule, Data: []byte(pkg[UdevRule])})
	fixture.Golden(t, "testdata/units.golden.txtar", txtar.Format(a))
	apply := units[ApplyUnit]
	for _, want := range []string{"Before=network-pre.target", "Wants=network-pre.target", "DefaultDependencies=no", "ExecStart=/usr/local/sbin/nettune apply --yes"} {
		if !strings.Contains(apply, want) {
			t.Errorf("apply unit lacks %q", want)
		}
	}
}

// TestBootSplitByNeeds: the early unit applies only sections that wait
// for no NIC or device (a missing NIC failed the whole boot apply, and the
// host got none of its hugepages or sysctls); the devices step may fail
// alone; the NIC unit applies its own NIC only.
func TestBootSplitByNeeds(t *testing.T) {
	units, err := RenderFor(Options{Binary: "/usr/sbin/nettune", Spec: testSpec(t)})
	if err != nil {
		t.Fatal(err)
	}
	var execs []string
	for _, l := range strings.Split(units[ApplyUnit], "\n") {
		if strings.HasPrefix(l, "ExecStart=") {
			execs = append(execs, l)
		}
	}
	want := []string{
		"ExecStart=/usr/sbin/nettune apply --yes --log-level info --only sysctl,cpu,hugepages " + ProfilePath,
		"ExecStart=-/usr/sbin/nettune apply --yes --log-level info --only devices " + ProfilePath,
	}
	if strings.Join(execs, "\n") != strings.Join(want, "\n") {
		t.Errorf("apply unit runs\n%s\nwant\n%s", strings.Join(execs, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(units[NICUnit], "\nExecStart=/usr/sbin/nettune apply --yes --log-level info --nic %i "+ProfilePath+"\n") {
		t.Errorf("NIC unit does not apply its NIC alone:\n%s", units[NICUnit])
	}
	if strings.Contains(units[NICUnit], "--only irqbalance") {
		t.Errorf("NIC unit of a profile without irqbalance applies it:\n%s", units[NICUnit])
	}
	// With NICs and irqbalance, each NIC unit makes the ban list again
	// after its NIC: the IRQ numbers it holds change from boot to boot.
	withBan, err := profile.Parse("test.yaml", []byte(testProfile+"  irqbalance: {mode: ban}\n"))
	if err != nil {
		t.Fatal(err)
	}
	units, err = RenderFor(Options{Binary: "/usr/sbin/nettune", Spec: &withBan.Spec})
	if err != nil {
		t.Fatal(err)
	}
	nicLine := "\nExecStart=/usr/sbin/nettune apply --yes --log-level info --nic %i " + ProfilePath + "\n"
	banLine := "ExecStart=/usr/sbin/nettune apply --yes --log-level info --only irqbalance " + ProfilePath + "\n"
	if i, j := strings.Index(units[NICUnit], nicLine), strings.Index(units[NICUnit], banLine); i < 0 || j < i {
		t.Errorf("NIC unit does not make irqbalance's ban list again after its NIC:\n%s", units[NICUnit])
	}
	if strings.Contains(units[ApplyUnit], "irqbalance") {
		t.Errorf("the early unit applies irqbalance before the NICs:\n%s", units[ApplyUnit])
	}
	// Without NICs, irqbalance (whose ban list holds NIC IRQs) is early too.
	noNIC := testSpec(t)
	noNIC.NICs = nil
	units, err = RenderFor(Options{Binary: "/usr/sbin/nettune", Spec: noNIC})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(units[ApplyUnit], "--only sysctl,cpu,hugepages,irqbalance ") {
		t.Errorf("apply unit of a profile without NICs:\n%s", units[ApplyUnit])
	}
	if strings.Contains(units[UdevRule], "SYSTEMD_WANTS") {
		t.Errorf("a profile without NICs has a NIC rule:\n%s", units[UdevRule])
	}
}

// TestUdevRuleOnlyProfileNICs: the rule matched every network device (a
// container's veth started an apply of every NIC); now each rule carries
// the match keys of one spec.nics entry.
func TestUdevRuleOnlyProfileNICs(t *testing.T) {
	units, err := RenderFor(Options{Binary: "/usr/sbin/nettune", Spec: testSpec(t)})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, l := range strings.Split(units[UdevRule], "\n") {
		if strings.Contains(l, "SYSTEMD_WANTS") {
			rules = append(rules, l)
		}
	}
	tail := `, TAG+="systemd", ENV{SYSTEMD_WANTS}+="nettune-nic@$name.service"`
	head := `ACTION=="add", SUBSYSTEM=="net", KERNEL!="lo", `
	want := []string{
		head + `KERNELS=="0000:03:00.0", DRIVERS=="ixgbe"` + tail,
		head + `ATTR{address}=="52:54:00:ab:cd:ef"` + tail,
		head + `KERNEL=="ens*"` + tail,
		head + `NAME=="ens*"` + tail,
	}
	if strings.Join(rules, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rules:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
	}
	bad := testSpec(t)
	bad.NICs[2].Match.Name = `ens"*`
	if _, err := RenderFor(Options{Binary: "/usr/sbin/nettune", Spec: bad}); err == nil || !strings.Contains(err.Error(), "spec.nics[2].match.name") {
		t.Errorf("a name with a quote: %v", err)
	}
	pkg, err := Render("/usr/sbin/nettune")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(pkg[UdevRule], "ACTION") {
		t.Errorf("the package's rule, which has no profile, matches devices:\n%s", pkg[UdevRule])
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
	units, err := RenderFor(Options{Binary: bin, Spec: testSpec(t)})
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
	warn, err := Install(context.Background(), r, "/usr/local/sbin/nettune", []byte(testProfile))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(r.Path(UdevRule)); err != nil || !strings.Contains(string(b), `KERNELS=="0000:03:00.0"`) {
		t.Errorf("installed rule is not the profile's: %v\n%s", err, b)
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
	if _, err := Install(context.Background(), r, "/usr/local/sbin/nettune", []byte(testProfile)); err != nil {
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
	_, err := Install(context.Background(), r, "/usr/local/sbin/nettune", []byte(testProfile))
	if err == nil || !strings.Contains(err.Error(), "was not written by nettune") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(r.Path(ApplyUnit)); err == nil {
		t.Fatal("a unit was written although install refused")
	}
}
