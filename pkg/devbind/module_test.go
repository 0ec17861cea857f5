package devbind_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/devbind/pcisim"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

func simEngine(t *testing.T, name string) (*engine.Engine, *pcisim.Bus) {
	t.Helper()
	r, bus := simHost(t, name)
	return newEngine(r), bus
}

func newEngine(r *host.Root) *engine.Engine {
	return &engine.Engine{
		Env:     &module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Modules: []module.Module{devbind.Module{Journal: engine.JournalChanges}},
		Version: "test",
		Now:     func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	}
}

func devicesProfile(t *testing.T, yaml string) *profile.Profile {
	t.Helper()
	p, err := profile.Parse("test.yaml", []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata:\n  name: dpdk\nspec:\n  devices:\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func statuses(items []plan.Item) string {
	var out []string
	for _, it := range items {
		out = append(out, it.Object+"/"+it.Attribute+"="+string(it.Status))
	}
	return strings.Join(out, " ")
}

// TestModuleApplyCheckRevert: spec.devices through the engine: plan shows
// drift, apply binds (with the group node chowned), check is in sync and
// still resolves the interface name that is gone, revert restores the
// tree byte for byte.
func TestModuleApplyCheckRevert(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown of the /dev/vfio node to another user needs root")
	}
	eng, bus := simEngine(t, "pf-siblings")
	r := eng.Env.Root
	before := fixture.Digest(t, r.Prefix)
	p := devicesProfile(t, `    - pci: eth1
      driver: vfio-pci
    - pci: "03:00.1"
      driver: vfio-pci
      uid: 1000
      gid: 1001
`)
	ctx := context.Background()
	pr, err := eng.Plan(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(pr.Items); got != "0000:03:00.0/driver=drift 0000:03:00.1/driver=drift 0000:03:00.1/vfio-owner=drift 0000:03:00.1/vfio-mode=drift" {
		t.Fatalf("plan: %s", got)
	}
	res, err := eng.Apply(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Generation != 1 || len(res.Applied) != 4 {
		t.Fatalf("apply: %+v", res)
	}
	st, err := os.Stat(r.Dev("vfio", "12"))
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := devbind.ParseOwner("1000:1001"); !ownedBy(st, o) {
		t.Errorf("/dev/vfio/12 not chowned")
	}
	// The kernel creates the node 0600: the group given with the owner
	// gets read and write, or a non-root DPDK process of that group
	// cannot open it.
	if st.Mode().Perm() != 0o660 {
		t.Errorf("/dev/vfio/12 has mode %04o, want 0660", st.Mode().Perm())
	}
	pr, err = eng.Check(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(pr.Items); got != "0000:03:00.0/driver=ok 0000:03:00.1/driver=ok 0000:03:00.1/vfio-owner=ok 0000:03:00.1/vfio-mode=ok" {
		t.Fatalf("check after apply: %s", got)
	}
	// Drift: someone rebinds a device behind nettune's back.
	if err := devbind.Transition(ctx, r, "0000:03:00.0", devbind.State{Driver: "ixgbe"}); err != nil {
		t.Fatal(err)
	}
	pr, _ = eng.Check(ctx, p)
	if got := statuses(pr.Items); !strings.HasPrefix(got, "0000:03:00.0/driver=drift") {
		t.Fatalf("check after drift: %s", got)
	}
	if err := devbind.Transition(ctx, r, "0000:03:00.0", devbind.State{Driver: "vfio-pci", Override: "vfio-pci"}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	assertIdentical(t, before, r.Prefix)
	for _, w := range bus.Log {
		if strings.Contains(w, "new_id") || strings.HasSuffix(strings.Fields(w)[0], "/remove") {
			t.Errorf("wrote %s", w)
		}
	}
}

func ownedBy(st os.FileInfo, o devbind.Owner) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == o.UID && int(sys.Gid) == o.GID
}

// TestModuleFaultInjection fails each kernel write and each program run
// of an apply that loads vfio-pci and binds three devices: the engine
// rolls back and the tree is byte-identical every time.
func TestModuleFaultInjection(t *testing.T) {
	p := devicesProfile(t, `    - pci: eth1
      driver: vfio-pci
    - pci: eth2
      driver: vfio-pci
    - pci: "0000:08:00.0"
      driver: vfio-pci
`)
	injected := 0
	for n := 1; ; n++ {
		eng, bus := simEngine(t, "pf-siblings")
		r := eng.Env.Root
		unloadVFIO(t, r)
		before := fixture.Digest(t, r.Prefix)
		count := 0
		bus.Fail = func(path, value string) error {
			if strings.HasPrefix(path, "/sys/") || strings.HasPrefix(path, "modprobe") {
				count++
				if count == n {
					return syscall.EBUSY
				}
			}
			return nil
		}
		_, err := eng.Apply(context.Background(), p, nil)
		if count < n {
			if err != nil {
				t.Fatalf("no fault, yet: %v", err)
			}
			break
		}
		injected++
		if err == nil {
			t.Fatalf("fault %d: apply succeeded", n)
		}
		if !errors.Is(err, syscall.EBUSY) {
			t.Errorf("fault %d: %v", n, err)
		}
		bus.Fail = nil
		assertIdentical(t, before, r.Prefix)
	}
	if injected < 9 { // modprobe, then override, unbind and probe per bound device, override and probe for the driverless one
		t.Fatalf("only %d faults injected", injected)
	}
	t.Logf("%d faults injected", injected)
}

// unloadVFIO removes vfio-pci from a fixture, as on a host where it was
// never loaded.
func unloadVFIO(t *testing.T, r *host.Root) {
	t.Helper()
	for _, p := range []string{"/sys/bus/pci/drivers/vfio-pci", "/sys/module/vfio", "/sys/module/vfio_pci", "/dev/vfio"} {
		if err := os.RemoveAll(r.Path(p)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestModuleLoadsAndUnloadsDriver(t *testing.T) {
	eng, bus := simEngine(t, "pf-siblings")
	r := eng.Env.Root
	unloadVFIO(t, r)
	before := fixture.Digest(t, r.Prefix)
	p := devicesProfile(t, "    - pci: \"0000:08:00.0\"\n      driver: vfio-pci\n")
	ctx := context.Background()
	res, err := eng.Apply(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 2 || res.Applied[0].Attribute != devbind.AttrModule || !strings.HasSuffix(res.Applied[0].Command, "modprobe vfio-pci") {
		t.Fatalf("applied: %v", res.Applied)
	}
	if _, err := eng.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	assertIdentical(t, before, r.Prefix)
	if got := strings.Join(bus.Log, "\n"); !strings.Contains(got, "modprobe -r vfio-pci") {
		t.Errorf("revert did not unload the module:\n%s", got)
	}
}

func TestModuleNoIOMMU(t *testing.T) {
	eng, _ := simEngine(t, "noiommu")
	r := eng.Env.Root
	before := fixture.Digest(t, r.Prefix)
	ctx := context.Background()
	refused := devicesProfile(t, "    - pci: eth2\n      driver: vfio-pci\n")
	if _, err := eng.Apply(ctx, refused, nil); !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), "unsafeNoIOMMU: true") {
		t.Fatalf("without unsafeNoIOMMU: %v", err)
	}
	p := devicesProfile(t, "    - pci: eth2\n      driver: vfio-pci\n      unsafeNoIOMMU: true\n")
	res, err := eng.Apply(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 2 || res.Applied[0].Attribute != devbind.AttrNoIOMMU {
		t.Fatalf("applied: %v", res.Applied)
	}
	if len(res.Plan.Warnings()) != 1 {
		t.Errorf("warnings: %v", res.Plan.Warnings())
	}
	if _, err := os.Stat(r.Dev("vfio", "noiommu-0")); err != nil {
		t.Errorf("no-IOMMU group node: %v", err)
	}
	pr, err := eng.Check(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(pr.Items); got != "vfio/enable_unsafe_noiommu_mode=ok 0000:00:05.0/driver=ok" {
		t.Fatalf("check: %s", got)
	}
	if _, err := eng.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	assertIdentical(t, before, r.Prefix)
}

func TestModuleRefusalsAreProblems(t *testing.T) {
	eng, _ := simEngine(t, "pf-siblings")
	r := eng.Env.Root
	before := fixture.Digest(t, r.Prefix)
	p := devicesProfile(t, "    - pci: eth1\n      driver: vfio-pci\n    - pci: eth3\n      driver: vfio-pci\n    - pci: 05:00.0\n      driver: vfio-pci\n    - pci: eth9\n      driver: vfio-pci\n")
	_, err := eng.Apply(context.Background(), p, nil)
	var ve *engine.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("apply: %v", err)
	}
	var got []string
	for _, pb := range ve.Problems {
		got = append(got, pb.Object)
		if strings.Contains(pb.Remedy, "--force") {
			t.Errorf("a profile cannot --force: %s", pb)
		}
	}
	if strings.Join(got, " ") != "eth9 0000:03:00.0 0000:04:00.0 0000:04:00.0 0000:05:00.0" {
		t.Errorf("problems for %v:\n%v", got, err)
	}
	if !strings.Contains(err.Error(), "list them in spec.devices too") {
		t.Errorf("group remedy: %v", err)
	}
	assertIdentical(t, before, r.Prefix)
}

// TestModuleOfflineRoot: on a snapshot (no kernel behind it) plan and
// check work, apply refuses before writing anything.
func TestModuleOfflineRoot(t *testing.T) {
	dir := fixture.Unpack(t, "testdata/pf-siblings.txtar")
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	eng := newEngine(r)
	before := fixture.Digest(t, dir)
	p := devicesProfile(t, "    - pci: \"0000:08:00.0\"\n      driver: vfio-pci\n")
	pr, err := eng.Plan(context.Background(), p)
	if err != nil || statuses(pr.Items) != "0000:08:00.0/driver=drift" {
		t.Fatalf("plan: %v %v", err, pr)
	}
	if _, err := eng.Apply(context.Background(), p, nil); !errors.Is(err, host.ErrOffline) {
		t.Fatalf("apply offline: %v", err)
	}
	assertIdentical(t, before, dir)
}

// TestModuleOwnerFailureRollsBack: the chown of the group node fails after
// the devices were bound; the engine rolls the bindings back.
func TestModuleOwnerFailureRollsBack(t *testing.T) {
	eng, bus := simEngine(t, "pf-siblings")
	r := eng.Env.Root
	before := fixture.Digest(t, r.Prefix)
	bus.Fail = func(path, value string) error {
		if path == "/dev/vfio/12" {
			return syscall.EPERM
		}
		return nil
	}
	p := devicesProfile(t, "    - pci: eth1\n      driver: vfio-pci\n      uid: 1000\n    - pci: eth2\n      driver: vfio-pci\n")
	_, err := eng.Apply(context.Background(), p, nil)
	if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("apply: %v", err)
	}
	assertIdentical(t, before, r.Prefix)
}

// TestModuleNeverBindsDefaultRouteNIC: a profile that names the NIC of the
// default route and the SSH session is refused at plan time with both
// reasons, neither of which a profile can lift.
func TestModuleNeverBindsDefaultRouteNIC(t *testing.T) {
	eng, _ := simEngine(t, "pf-siblings")
	r := eng.Env.Root
	before := fixture.Digest(t, r.Prefix)
	p := devicesProfile(t, "    - pci: eth0\n      driver: vfio-pci\n")
	_, err := eng.Apply(context.Background(), p, nil)
	var ve *engine.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("apply: %v", err)
	}
	var route, session bool
	for _, pb := range ve.Problems {
		route = route || strings.Contains(pb.Message, "carries the default route")
		session = session || strings.Contains(pb.Message, "SSH session")
	}
	if !route || !session {
		t.Errorf("problems: %v", ve.Problems)
	}
	assertIdentical(t, before, r.Prefix)
}
