package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/devbind/pcisim"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
)

// simCLI is nettune's CLI over a fixture whose PCI core is emulated: the
// bind and unbind verbs run exactly as on a live host, against pcisim.
type simCLI struct {
	t        *testing.T
	root     string
	bus      *pcisim.Bus
	eng      *engine.Engine
	out, err bytes.Buffer
	in       string
	tty      bool
}

func newSimCLI(t *testing.T, name string) *simCLI {
	t.Helper()
	root := fixture.Unpack(t, devbindFixtures+name+".txtar")
	bus, err := pcisim.New(root, host.OSWriter{})
	if err != nil {
		t.Fatal(err)
	}
	r := &host.Root{Prefix: root, W: bus, Exec: bus}
	eng := engine.New(&module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, "test", Modules())
	eng.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	return &simCLI{t: t, root: root, bus: bus, eng: eng}
}

func (s *simCLI) app() *app {
	s.out.Reset()
	s.err.Reset()
	a := &app{io: IO{In: strings.NewReader(s.in), Out: &s.out, ErrOut: &s.err, InTTY: s.tty}, g: globals{logLevel: "warn"}}
	if err := a.setup(); err != nil {
		s.t.Fatal(err)
	}
	a.printer = &output.Printer{W: &s.out, Format: output.Table}
	return a
}

func (s *simCLI) bind(f bindFlags, args ...string) error {
	return s.app().bind(context.Background(), s.eng, args, f, nil)
}

func (s *simCLI) unbind(f bindFlags, args ...string) error {
	return s.app().unbind(context.Background(), s.eng, args, f)
}

func (s *simCLI) state(addr string) string {
	st, err := devbind.Observe(s.eng.Env.Root, addr)
	if err != nil {
		s.t.Fatal(err)
	}
	return st.String()
}

// TestBindUnbindRevert: bind two ports to vfio-pci, unbind them by the
// interface names they no longer have, then revert both generations: the
// tree is byte-identical to the start.
func TestBindUnbindRevert(t *testing.T) {
	s := newSimCLI(t, "pf-siblings")
	before := fixture.Digest(t, s.root)
	if err := s.bind(bindFlags{driver: "vfio-pci", yes: true}, "eth1", "eth2"); err != nil {
		t.Fatalf("bind: %v", err)
	}
	golden(t, "bind", s.out.String())
	if got := s.state("0000:03:00.0") + " / " + s.state("0000:03:00.1"); got != "vfio-pci override=vfio-pci / vfio-pci override=vfio-pci" {
		t.Fatalf("after bind: %s", got)
	}
	afterBind := fixture.Digest(t, s.root, "var")

	// Binding again changes nothing and records no generation.
	if err := s.bind(bindFlags{driver: "vfio-pci", yes: true}, "0000:03:00.0", "03:00.1"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.out.String(), "Nothing to do") {
		t.Errorf("second bind: %s", s.out.String())
	}

	if err := s.unbind(bindFlags{yes: true}, "eth1", "eth2"); err != nil {
		t.Fatalf("unbind: %v", err)
	}
	golden(t, "unbind", s.out.String())
	if diffs := fixture.DiffDigests(before0(before), fixture.Digest(t, s.root, "var")); len(diffs) > 0 {
		t.Fatalf("after unbind the devices differ from the start: %v", diffs)
	}

	// Revert the unbind: bound again, exactly as after the bind.
	if _, err := s.eng.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(afterBind, fixture.Digest(t, s.root, "var")); len(diffs) > 0 {
		t.Fatalf("reverting the unbind: %v", diffs)
	}
	// Revert the bind.
	if _, err := s.eng.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, s.root)); len(diffs) > 0 {
		t.Fatalf("after revert: %v", diffs)
	}
}

// before0 drops the var/ entries of a digest (the journal lives there).
func before0(d map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range d {
		if k != "var" && !strings.HasPrefix(k, "var/") {
			out[k] = v
		}
	}
	return out
}

func TestBindRevertByteIdentical(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		f       bindFlags
		args    []string
	}{
		{"pf-siblings", bindFlags{driver: "vfio-pci", group: true}, []string{"eth1"}},
		{"pf-siblings", bindFlags{driver: "uio_pci_generic"}, []string{"eth1", "0000:08:00.0"}},
		{"pf-siblings", bindFlags{driver: "vfio-pci", force: true}, []string{"eth3"}},
		{"bridge", bindFlags{driver: "vfio-pci"}, []string{"eth1", "eth2"}},
		{"noiommu", bindFlags{driver: "vfio-pci", noIOMMU: true}, []string{"eth1", "eth2"}},
	} {
		t.Run(tc.fixture+" "+tc.f.driver+" "+strings.Join(tc.args, ","), func(t *testing.T) {
			t.Parallel()
			s := newSimCLI(t, tc.fixture)
			before := fixture.Digest(t, s.root)
			tc.f.yes = true
			if err := s.bind(tc.f, tc.args...); err != nil {
				t.Fatalf("bind: %v", err)
			}
			if _, err := s.eng.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
				t.Fatal(err)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, s.root)); len(diffs) > 0 {
				t.Fatalf("after revert: %v", diffs)
			}
		})
	}
}

func TestBindConfirmation(t *testing.T) {
	s := newSimCLI(t, "pf-siblings")
	before := fixture.Digest(t, s.root)
	err := s.bind(bindFlags{driver: "vfio-pci"}, "0000:08:00.0")
	if err == nil || !strings.Contains(err.Error(), "pass --yes to bind") {
		t.Fatalf("without a terminal: %v", err)
	}
	s.tty, s.in = true, "n\n"
	if err := s.bind(bindFlags{driver: "vfio-pci"}, "0000:08:00.0"); !errors.Is(err, engine.ErrAborted) {
		t.Fatalf("declined: %v", err)
	}
	if !strings.Contains(s.out.String(), "vfio-pci override=vfio-pci") || !strings.Contains(s.err.String(), "Make 1 change(s) to this host?") {
		t.Errorf("the plan was not shown before the question:\n%s\n%s", s.out.String(), s.err.String())
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, s.root)); len(diffs) > 0 {
		t.Fatalf("declined bind changed the tree: %v", diffs)
	}
	s.in = "y\n"
	if err := s.bind(bindFlags{driver: "vfio-pci"}, "0000:08:00.0"); err != nil {
		t.Fatal(err)
	}
	if got := s.state("0000:08:00.0"); got != "vfio-pci override=vfio-pci" {
		t.Fatalf("after yes: %s", got)
	}
}

// TestBindFailureRestores: vfio-pci's probe fails for the second device;
// the first one, already bound, is rolled back and both are on ixgbe.
func TestBindFailureRestores(t *testing.T) {
	s := newSimCLI(t, "pf-siblings")
	before := fixture.Digest(t, s.root)
	s.bus.FailProbe("0000:03:00.1", "vfio-pci", os.ErrInvalid)
	err := s.bind(bindFlags{driver: "vfio-pci", yes: true}, "eth1", "eth2")
	if err == nil || !strings.Contains(err.Error(), "rolled back") || !strings.Contains(err.Error(), "drivers_probe did not bind 0000:03:00.1") {
		t.Fatalf("bind: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, s.root)); len(diffs) > 0 {
		t.Fatalf("failed bind left changes: %v", diffs)
	}
}

func TestUnbindWithoutRecord(t *testing.T) {
	s := newSimCLI(t, "pf-siblings")
	// Bound by someone else (no journal): unbind finds i40e by modalias.
	if err := devbind.Transition(context.Background(), s.eng.Env.Root, "0000:08:00.0", devbind.State{Driver: "vfio-pci", Override: "vfio-pci"}); err != nil {
		t.Fatal(err)
	}
	if err := s.unbind(bindFlags{yes: true}, "08:00.0"); err != nil {
		t.Fatal(err)
	}
	if got := s.state("0000:08:00.0"); got != "i40e" {
		t.Fatalf("after unbind: %s", got)
	}
	if err := s.unbind(bindFlags{yes: true, driver: "vfio-pci"}, "08:00.0"); err == nil || !strings.Contains(err.Error(), "not one") {
		t.Fatalf("unbind --driver vfio-pci: %v", err)
	}
}

// TestBindRefusedCLI runs the real command line on an offline fixture:
// every guard refuses with exit status 1, names itself, and nothing
// changes.
func TestBindRefusedCLI(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fix   string
		args  []string
		guard string
	}{
		{"ssh session", "pf-siblings", []string{"eth0", "--force"}, "[ssh-session]"},
		{"address", "pf-siblings", []string{"eth3"}, "[address]"},
		{"route in table 100", "pf-siblings", []string{"eth7"}, "[route]"},
		{"bond port", "pf-siblings", []string{"eth5"}, "[lower-device]"},
		{"iommu group", "pf-siblings", []string{"eth1"}, "[iommu-group]"},
		{"bifurcated", "pf-siblings", []string{"eth4"}, "[bifurcated]"},
		{"behind a bridge", "bridge", []string{"eth2"}, "[iommu-group]"},
		{"bridge", "bridge", []string{"01:00.0"}, "[bridge]"},
		{"no iommu", "noiommu", []string{"eth2"}, "[no-iommu]"},
		{"unknown", "noiommu", []string{"eth9"}, "[unknown-device]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Unpack(t, devbindFixtures+tc.fix+".txtar")
			before := fixture.Digest(t, root)
			args := append([]string{"bind", "--root", root, "--driver", "vfio-pci", "--yes"}, tc.args...)
			r := run(t, "", false, args...)
			if r.code != ExitError || !strings.Contains(r.stderr, tc.guard) || !strings.Contains(r.stderr, "nothing was changed") {
				t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
			r = run(t, "", false, append([]string{"bind", "--dry-run", "--root", root, "--driver", "vfio-pci"}, tc.args...)...)
			if r.code != ExitError || !strings.Contains(r.stdout, "refused: ") {
				t.Fatalf("dry run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
				t.Fatalf("refused bind changed the tree: %v", diffs)
			}
		})
	}
}

func TestBindDryRunAndOffline(t *testing.T) {
	root := fixture.Unpack(t, devbindFixtures+"pf-siblings.txtar")
	before := fixture.Digest(t, root)
	r := run(t, "", false, "bind", "--dry-run", "--root", root, "--driver", "vfio-pci", "eth1", "eth2", "--uid", "1000")
	if r.code != ExitOK {
		t.Fatalf("dry run: %d %s", r.code, r.stderr)
	}
	golden(t, "bind-dry-run", r.stdout)
	r = run(t, "", false, "bind", "--dry-run", "-o", "json", "--root", root, "--driver", "vfio-pci", "eth3")
	var doc struct {
		Kind     string `json:"kind"`
		Changes  []any  `json:"changes"`
		Refusals []struct {
			Device, Guard string
			Forceable     bool
		} `json:"refusals"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitError {
		t.Fatalf("dry run -o json: %d %v\n%s", r.code, err, r.stdout)
	}
	if doc.Kind != "bind-plan" || len(doc.Changes) != 1 || len(doc.Refusals) != 2 || doc.Refusals[0].Guard != "address" || !doc.Refusals[0].Forceable {
		t.Errorf("dry run -o json: %+v", doc)
	}
	r = run(t, "", false, "bind", "--yes", "--root", root, "--driver", "vfio-pci", "eth1", "eth2")
	if r.code != ExitError || !strings.Contains(r.stderr, "not the live host") {
		t.Fatalf("offline bind: %d %s", r.code, r.stderr)
	}
	r = run(t, "", false, "bind", "--root", root, "eth1")
	if r.code != ExitError || !strings.Contains(r.stderr, "--driver is required") {
		t.Fatalf("no driver: %d %s", r.code, r.stderr)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("changed the tree: %v", diffs)
	}
}

// TestBindRefusesRootDisk: on a capture of this VM, whose root filesystem
// is on the virtio-blk disk of 0000:00:02.0, binding that function is
// refused (dry run included) and cannot be forced, not even with
// --any-class; 'devices --all' says why.
func TestBindRefusesRootDisk(t *testing.T) {
	root := fixture.Unpack(t, devbindFixtures+"vm-virtio-blk.txtar")
	before := fixture.Digest(t, root)
	for _, extra := range [][]string{nil, {"--force"}, {"--any-class", "--force"}} {
		args := append([]string{"bind", "--dry-run", "--root", root, "--driver", "uio_pci_generic", "0000:00:02.0"}, extra...)
		r := run(t, "", false, args...)
		if r.code != ExitError || !strings.Contains(r.stdout, "backs / (vda)") || !strings.Contains(r.stdout, "[storage]") || strings.Contains(r.stdout, "Nothing to do") {
			t.Fatalf("%v: exit %d\n%s\n%s", extra, r.code, r.stdout, r.stderr)
		}
		if len(extra) < 2 && !strings.Contains(r.stdout, "[device-class]") {
			t.Errorf("%v: no class refusal:\n%s", extra, r.stdout)
		}
	}
	// A non-network function that backs nothing is refused by class only.
	r := run(t, "", false, "bind", "--dry-run", "--root", root, "--driver", "vfio-pci", "--no-iommu", "00:05.0")
	if r.code != ExitError || !strings.Contains(r.stdout, "[device-class]") || strings.Contains(r.stdout, "[storage]") {
		t.Fatalf("rng: exit %d\n%s", r.code, r.stdout)
	}
	// eth0 carries the default route: never, even forced.
	r = run(t, "", false, "bind", "--dry-run", "--root", root, "--driver", "vfio-pci", "--no-iommu", "--force", "eth0")
	if r.code != ExitError || !strings.Contains(r.stdout, "[default-route]") {
		t.Fatalf("eth0: exit %d\n%s", r.code, r.stdout)
	}
	r = run(t, "", false, "devices", "--all", "--root", root)
	if r.code != ExitOK {
		t.Fatalf("devices: %d %s", r.code, r.stderr)
	}
	golden(t, "devices-all-vm-virtio-blk", r.stdout)
	if !strings.Contains(r.stdout, "0000:00:02.0 in use: backs / (vda)") {
		t.Errorf("devices does not say why the disk is in use:\n%s", r.stdout)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Fatalf("changed the tree: %v", diffs)
	}
}

// TestUnbindTwice: a second unbind leaves the devices on their kernel
// driver (it used to take the first unbind's own journal record and bind
// them back to vfio-pci); a second bind and a second unbind say there is
// nothing to do and record no generation.
func TestUnbindTwice(t *testing.T) {
	s := newSimCLI(t, "pf-siblings")
	before := fixture.Digest(t, s.root, "var")
	if err := s.bind(bindFlags{driver: "vfio-pci", yes: true}, "eth1", "eth2", "08:00.0"); err != nil {
		t.Fatal(err)
	}
	if err := s.unbind(bindFlags{yes: true}, "eth1", "eth2", "08:00.0"); err != nil {
		t.Fatal(err)
	}
	gens, err := engine.Generations(s.eng.Env.Root)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.unbind(bindFlags{yes: true}, "eth1", "eth2", "08:00.0"); err != nil {
			t.Fatalf("unbind again: %v", err)
		}
		if !strings.Contains(s.out.String(), "Nothing to do") {
			t.Errorf("unbind again: %s", s.out.String())
		}
		if got := s.state("0000:03:00.0") + " / " + s.state("0000:08:00.0"); got != "ixgbe if=eth1 / none" {
			t.Fatalf("after a second unbind: %s", got)
		}
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, s.root, "var")); len(diffs) > 0 {
		t.Fatalf("not as at the start: %v", diffs)
	}
	if now, _ := engine.Generations(s.eng.Env.Root); len(now) != len(gens) {
		t.Errorf("a no-op unbind recorded a generation: %d -> %d", len(gens), len(now))
	}
}

// TestUnbindGroupMember: unbinding one port of IOMMU group 12 while the
// other stays on vfio-pci is refused; --group unbinds both.
func TestUnbindGroupMember(t *testing.T) {
	s := newSimCLI(t, "pf-siblings")
	if err := s.bind(bindFlags{driver: "vfio-pci", yes: true}, "eth1", "eth2"); err != nil {
		t.Fatal(err)
	}
	afterBind := fixture.Digest(t, s.root, "var")
	err := s.unbind(bindFlags{yes: true}, "eth1")
	if err == nil || !strings.Contains(err.Error(), "[iommu-group]") || !strings.Contains(err.Error(), "0000:03:00.1 (vfio-pci)") {
		t.Fatalf("unbind of one member: %v", err)
	}
	if diffs := fixture.DiffDigests(afterBind, fixture.Digest(t, s.root, "var")); len(diffs) > 0 {
		t.Fatalf("refused unbind changed the tree: %v", diffs)
	}
	r := run(t, "", false, "devices", "--root", s.root)
	if !strings.Contains(r.stdout, "0000:03:00.0 shares IOMMU group 12 with 0000:03:00.1 on vfio: unbind them together") {
		t.Errorf("devices does not explain the group:\n%s", r.stdout)
	}
	if err := s.unbind(bindFlags{yes: true, group: true}, "eth1"); err != nil {
		t.Fatal(err)
	}
	if got := s.state("0000:03:00.0") + " / " + s.state("0000:03:00.1"); got != "ixgbe if=eth1 / ixgbe if=eth2" {
		t.Fatalf("after unbind --group: %s", got)
	}
}

// TestBindFailedKernelDriverUnloadsIt: binding to e1000, which is not
// loaded, fails in the probe; loading e1000 had made it take 0000:00:05.0
// (no driver until then). The rollback unloads e1000 again, so the host
// really is as it was.
func TestBindFailedKernelDriverUnloadsIt(t *testing.T) {
	s := newSimCLI(t, "noiommu")
	ctx := context.Background()
	r := s.eng.Env.Root
	if err := devbind.Transition(ctx, r, "0000:00:05.0", devbind.State{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.bus.Run(ctx, "modprobe", "-r", "e1000"); err != nil {
		t.Fatal(err)
	}
	before := fixture.Digest(t, s.root, "var")
	s.bus.FailProbe("0000:00:04.0", "e1000", os.ErrInvalid)
	err := s.bind(bindFlags{driver: "e1000", yes: true}, "eth1")
	if err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("bind: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, s.root, "var")); len(diffs) > 0 {
		t.Fatalf("the failed bind left changes (e1000 loaded, 0000:00:05.0 taken): %v", diffs)
	}
}

// TestBindNoIOMMUWithoutKernelSupport: --no-iommu on a kernel built
// without CONFIG_VFIO_NOIOMMU fails with an explanation pointing to
// uio_pci_generic and leaves vfio-pci unloaded; when vfio is loaded the
// plan already refuses.
func TestBindNoIOMMUWithoutKernelSupport(t *testing.T) {
	s := newSimCLI(t, "noiommu")
	r := s.eng.Env.Root
	for _, p := range []string{"/sys/bus/pci/drivers/vfio-pci", "/sys/module/vfio", "/sys/module/vfio_pci", "/dev/vfio"} {
		if err := os.RemoveAll(r.Path(p)); err != nil {
			t.Fatal(err)
		}
	}
	s.bus.WithoutNoIOMMU = true
	before := fixture.Digest(t, s.root, "var")
	err := s.bind(bindFlags{driver: "vfio-pci", noIOMMU: true, yes: true}, "eth2")
	if err == nil || !strings.Contains(err.Error(), "CONFIG_VFIO_NOIOMMU") || !strings.Contains(err.Error(), "uio_pci_generic") {
		t.Fatalf("bind: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, s.root, "var")); len(diffs) > 0 {
		t.Fatalf("left changes (modules loaded?): %v", diffs)
	}
	// vfio loaded without the parameter: refused at plan time.
	if _, err := s.bus.Run(context.Background(), "modprobe", "vfio-pci"); err != nil {
		t.Fatal(err)
	}
	err = s.bind(bindFlags{driver: "vfio-pci", noIOMMU: true, yes: true}, "eth2")
	if err == nil || !strings.Contains(err.Error(), "[no-iommu]") || !strings.Contains(err.Error(), "CONFIG_VFIO_NOIOMMU") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("bind with vfio loaded: %v", err)
	}
}

// TestBindUnknownDeviceListsDevices: an unknown name lists the devices
// that exist, and the dry run does not say "Nothing to do" first.
func TestBindUnknownDeviceListsDevices(t *testing.T) {
	root := fixture.Unpack(t, devbindFixtures+"noiommu.txtar")
	r := run(t, "", false, "bind", "--dry-run", "--root", root, "--driver", "uio_pci_generic", "eth9")
	if r.code != ExitError || strings.Contains(r.stdout, "Nothing to do") || !strings.Contains(r.stdout, "0000:00:04.0 (eth1), 0000:00:05.0 (eth2)") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
}

// TestBindRemedyNamesUpperInterface: the address of eth6 is on the VLAN
// eth6.100; the remedy flushes that one, not eth6.
func TestBindRemedyNamesUpperInterface(t *testing.T) {
	root := fixture.Unpack(t, devbindFixtures+"pf-siblings.txtar")
	r := run(t, "", false, "bind", "--dry-run", "--root", root, "--driver", "vfio-pci", "eth6")
	if r.code != ExitError || !strings.Contains(r.stdout, "ip address flush dev eth6.100") || strings.Contains(r.stdout, "flush dev eth6)") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
}
