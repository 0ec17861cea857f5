package sriov_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/nettune/nettune/pkg/sriov"
)

// capture is one PF of testdata/i350-sriov.txt: its VFs by index.
type capture map[string]map[int]string

var virtfnRe = regexp.MustCompile(`/sys/bus/pci/devices/(\S+)/virtfn(\d+) -> \.\./(\S+)`)

func readCapture(t *testing.T) capture {
	t.Helper()
	b, err := os.ReadFile("testdata/i350-sriov.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := capture{}
	for _, m := range virtfnRe.FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[2])
		if out[m[1]] == nil {
			out[m[1]] = map[int]string{}
		}
		out[m[1]][n] = m[3]
	}
	return out
}

// kernel is a Writer that behaves like the kernel's sriov_numvfs_store on
// a fixture root: above sriov_totalvfs is ERANGE, a non-zero count to
// another non-zero one is EBUSY (every time), 0 removes every VF and a
// count creates VFs at PF RID + offset + n*stride, with their virtfnN and
// physfn links and an entry in the PF's VF list (MAC 0, no VLAN, spoof
// check on, link-state auto, trust off, as igb reports a new VF).
type kernel struct {
	host.Writer
	dir, pf, ifname string
	total           int
	writes          []string
	ebusy           int
}

func (k *kernel) WriteKernel(p, value string) error {
	if !strings.HasSuffix(p, "/sriov_numvfs") {
		return k.Writer.WriteKernel(p, value)
	}
	k.writes = append(k.writes, value)
	n, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil {
		return fmt.Errorf("set %s to %q: %w", p, value, syscall.EINVAL)
	}
	b, _ := os.ReadFile(p)
	cur, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	switch {
	case n > k.total:
		return fmt.Errorf("set %s to %q: write: %w", p, value, syscall.ERANGE)
	case n == cur:
		return nil
	case n != 0 && cur != 0:
		k.ebusy++
		return fmt.Errorf("set %s to %q: write: %w", p, value, syscall.EBUSY)
	}
	if err := k.Writer.WriteKernel(p, value); err != nil {
		return err
	}
	r := &host.Root{Prefix: k.dir}
	var vfs []sriov.VF
	for i := 0; i < max(cur, n); i++ {
		link := filepath.Join(k.dir, "sys/bus/pci/devices", k.pf, "virtfn"+strconv.Itoa(i))
		if n == 0 {
			addr := devbind.VirtFn(r, k.pf, i)
			os.Remove(link)
			os.RemoveAll(filepath.Join(k.dir, "sys/bus/pci/devices", addr))
			continue
		}
		addr, err := devbind.PredictVF(r, k.pf, i)
		if err != nil {
			return err
		}
		d := filepath.Join(k.dir, "sys/bus/pci/devices", addr)
		must(os.MkdirAll(d, 0o755))
		must(os.WriteFile(filepath.Join(d, "vendor"), []byte("0x8086\n"), 0o644))
		must(os.WriteFile(filepath.Join(d, "device"), []byte("0x1520\n"), 0o644))
		must(os.WriteFile(filepath.Join(d, "class"), []byte("0x020000\n"), 0o644))
		must(os.Symlink("../"+k.pf, filepath.Join(d, "physfn")))
		must(os.Symlink("../"+addr, link))
		vfs = append(vfs, sriov.VF{Index: i, MAC: "00:00:00:00:00:00", SpoofCheck: true, LinkState: "auto"})
	}
	b, _ = json.Marshal(vfs)
	return os.WriteFile(filepath.Join(k.dir, sriov.StateDir, k.ifname+".json"), b, 0o644)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// pfHost builds a root with the I350 PF of the capture (0000:03:00.0,
// eth1 on igb, sriov_offset 128, sriov_stride 4, sriov_totalvfs 7) and
// numVFs VFs created through the kernel writer.
func pfHost(t *testing.T, numVFs int) (*host.Root, *kernel) {
	t.Helper()
	dir := t.TempDir()
	pf := "0000:03:00.0"
	dev := filepath.Join(dir, "sys/bus/pci/devices", pf)
	for _, d := range []string{dev + "/net/eth1", dir + "/sys/bus/pci/drivers/igb", dir + "/sys/class/net", dir + sriov.StateDir, dir + "/proc", dir + "/dev/vfio"} {
		must(os.MkdirAll(d, 0o755))
	}
	for k, v := range map[string]string{"sriov_totalvfs": "7", "sriov_numvfs": "0", "sriov_drivers_autoprobe": "1", "sriov_offset": "128", "sriov_stride": "4",
		"vendor": "0x8086", "device": "0x1521", "class": "0x020000"} {
		must(os.WriteFile(filepath.Join(dev, k), []byte(v+"\n"), 0o644))
	}
	must(os.Symlink("../../../bus/pci/drivers/igb", filepath.Join(dev, "driver")))
	must(os.Symlink("../../bus/pci/devices/"+pf+"/net/eth1", filepath.Join(dir, "sys/class/net/eth1")))
	must(os.Symlink("../../../bus/pci/devices/"+pf, filepath.Join(dev, "net/eth1/device")))
	must(os.MkdirAll(filepath.Join(dir, "var/lib/nettune-snapshot"), 0o755))
	must(os.WriteFile(filepath.Join(dir, devbind.NetworkFile), []byte(`{"links":[{"name":"eth1","index":3,"up":true}],"addresses":[],"routes":[]}`), 0o644))
	k := &kernel{Writer: host.OSWriter{Root: dir}, dir: dir, pf: pf, ifname: "eth1", total: 7}
	r := &host.Root{Prefix: dir, W: k}
	if numVFs > 0 {
		if err := k.WriteKernel(filepath.Join(dev, "sriov_numvfs"), strconv.Itoa(numVFs)); err != nil {
			t.Fatal(err)
		}
		k.writes = nil
	}
	return r, k
}

// class/net/eth1 needs the device link for resolvePF by name.
func newEngine(r *host.Root) *engine.Engine {
	return &engine.Engine{
		Env:     &module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Modules: []module.Module{sriov.Module{}, devbind.Module{Journal: engine.JournalChanges}},
		Version: "test",
		Now:     func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	}
}

func sriovProfile(t *testing.T, spec string) *profile.Profile {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sriov.yaml")
	must(os.WriteFile(p, []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata:\n  name: vfs\nspec:\n"+spec), 0o644))
	pr, err := profile.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func numvfs(t *testing.T, r *host.Root) string {
	t.Helper()
	s, err := r.ReadString(r.Sys("bus/pci/devices/0000:03:00.0/sriov_numvfs"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(s)
}

// TestPredictVFMatchesCaptures: the VF addresses computed from
// sriov_offset and sriov_stride are those real PFs got (I350: 128/4,
// 82599: 128/2), so a binding planned before the VFs exist names the VF
// the kernel creates.
func TestPredictVFMatchesCaptures(t *testing.T) {
	strides := map[string][2]int{"0000:03:00.0": {128, 4}, "0000:05:00.0": {128, 2}}
	for pf, vfs := range readCapture(t) {
		dir := t.TempDir()
		d := filepath.Join(dir, "sys/bus/pci/devices", pf)
		must(os.MkdirAll(d, 0o755))
		must(os.WriteFile(filepath.Join(d, "sriov_offset"), []byte(strconv.Itoa(strides[pf][0])+"\n"), 0o644))
		must(os.WriteFile(filepath.Join(d, "sriov_stride"), []byte(strconv.Itoa(strides[pf][1])+"\n"), 0o644))
		r := &host.Root{Prefix: dir}
		for n, want := range vfs {
			got, err := devbind.PredictVF(r, pf, n)
			if err != nil || got != want {
				t.Errorf("%s VF %d: got %s (%v), the capture says %s", pf, n, got, err, want)
			}
		}
	}
}

// TestNonZeroToNonZeroGoesThroughZero: the fixture kernel refuses 2 -> 4
// with EBUSY every time; apply writes 0 then 4, check is in sync, revert
// goes 4 -> 0 -> 2.
func TestNonZeroToNonZeroGoesThroughZero(t *testing.T) {
	r, k := pfHost(t, 2)
	if err := k.WriteKernel(r.Sys("bus/pci/devices/0000:03:00.0/sriov_numvfs"), "4"); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("fixture kernel: 2 -> 4 gave %v, want EBUSY", err)
	}
	if err := k.WriteKernel(r.Sys("bus/pci/devices/0000:03:00.0/sriov_numvfs"), "3"); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("fixture kernel: 2 -> 3 gave %v, want EBUSY", err)
	}
	k.writes = nil
	e := newEngine(r)
	p := sriovProfile(t, "  sriov:\n    - pf: eth1\n      numVFs: 4\n")
	pr, err := e.Plan(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Items) != 1 || !strings.Contains(pr.Items[0].Detail, "through 0") || pr.Items[0].Status != plan.Drift {
		t.Fatalf("plan: %+v", pr.Items)
	}
	if _, err := e.Apply(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(k.writes, ","); got != "0,4" {
		t.Fatalf("writes %s, want 0,4", got)
	}
	if numvfs(t, r) != "4" || devbind.VirtFn(r, "0000:03:00.0", 3) != "0000:03:11.4" {
		t.Fatalf("numvfs %s, virtfn3 %q", numvfs(t, r), devbind.VirtFn(r, "0000:03:00.0", 3))
	}
	if pr, err := e.Check(context.Background(), p); err != nil || pr.Count(plan.Drift) != 0 {
		t.Fatalf("check after apply: %v %+v", err, pr)
	}
	k.writes = nil
	if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(k.writes, ","); got != "0,2" || numvfs(t, r) != "2" {
		t.Fatalf("revert writes %s, numvfs %s; want 0,2 and 2", got, numvfs(t, r))
	}
}

// TestNumVFsAboveTotalRefusedAtPlan: 9 VFs on a PF with sriov_totalvfs 7
// is a plan error at the numVFs value's file:line:col, naming the limit,
// and apply writes nothing.
func TestNumVFsAboveTotalRefusedAtPlan(t *testing.T) {
	r, k := pfHost(t, 0)
	before := fixture.Digest(t, r.Prefix)
	p := sriovProfile(t, "  sriov:\n    - pf: 0000:03:00.0\n      numVFs: 9\n")
	_, err := newEngine(r).Apply(context.Background(), p, nil)
	var ve *engine.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("apply: %v", err)
	}
	pb := ve.Problems[0]
	if !strings.HasSuffix(pb.Where, "sriov.yaml:8:15") || !strings.Contains(pb.Message, "sriov_totalvfs") || !strings.Contains(pb.Remedy, "between 0 and 7") {
		t.Fatalf("problem: %+v", pb)
	}
	if len(k.writes) != 0 {
		t.Fatalf("wrote %v", k.writes)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix)); len(diffs) > 0 {
		t.Fatalf("host changed: %v", diffs)
	}
	// Not SR-IOV capable: the capable devices are listed.
	p = sriovProfile(t, "  sriov:\n    - pf: 0000:00:1f.0\n      numVFs: 1\n")
	_, err = newEngine(r).Plan(context.Background(), p)
	if !errors.As(err, &ve) || !strings.Contains(ve.Problems[0].Remedy, "0000:03:00.0 (sriov_totalvfs 7)") {
		t.Fatalf("unknown PF: %v", err)
	}
}

// holdVF binds VF n to vfio-pci in the fixture and has pid 4242 hold its
// group open, as a running forwarder does.
func holdVF(t *testing.T, r *host.Root, n int) func() {
	t.Helper()
	addr := devbind.VirtFn(r, "0000:03:00.0", n)
	d := r.Sys("bus/pci/devices", addr)
	must(os.MkdirAll(r.Sys("bus/pci/drivers/vfio-pci"), 0o755))
	must(os.MkdirAll(r.Sys("kernel/iommu_groups/12"), 0o755))
	must(os.Symlink("../../../bus/pci/drivers/vfio-pci", filepath.Join(d, "driver")))
	must(os.Symlink("../../../kernel/iommu_groups/12", filepath.Join(d, "iommu_group")))
	fd := r.Proc("4242/fd")
	must(os.MkdirAll(fd, 0o755))
	must(os.Symlink("/dev/vfio/12", filepath.Join(fd, "7")))
	return func() { must(os.RemoveAll(r.Proc("4242"))) }
}

// TestRevertRefusedWhileVFInUse: revert does not remove VFs while one is
// bound to vfio-pci with its group held open; it does once released. A
// profile that lowers the count is refused at plan the same way.
func TestRevertRefusedWhileVFInUse(t *testing.T) {
	r, _ := pfHost(t, 0)
	e := newEngine(r)
	p := sriovProfile(t, "  sriov:\n    - pf: eth1\n      numVFs: 2\n")
	if _, err := e.Apply(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	release := holdVF(t, r, 1)
	_, err := e.Revert(context.Background(), engine.RevertOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "VF 1 (0000:03:10.4) is bound to vfio-pci and /dev/vfio/12 is held open by pid 4242") {
		t.Fatalf("revert while in use: %v", err)
	}
	if numvfs(t, r) != "2" {
		t.Fatalf("numvfs %s after a refused revert", numvfs(t, r))
	}
	_, err = e.Plan(context.Background(), sriovProfile(t, "  sriov:\n    - pf: eth1\n      numVFs: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "would destroy VFs in use") {
		t.Fatalf("plan lowering the count: %v", err)
	}
	release()
	if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
		t.Fatalf("revert once released: %v", err)
	}
	if numvfs(t, r) != "0" || devbind.VirtFn(r, "0000:03:00.0", 0) != "" {
		t.Fatalf("VFs left: numvfs %s", numvfs(t, r))
	}
}

// TestVFSettingsFromCapture: VF settings are read from the PF's VF list
// (the capture's vlan 564 qos 1), changed, read back, and reverted.
func TestVFSettingsFromCapture(t *testing.T) {
	r, _ := pfHost(t, 2)
	// The capture's two VFs (vlan 564, qos 1), in the files' canonical form.
	captured := []sriov.VF{
		{Index: 0, MAC: "00:11:22:33:44:88", VLAN: 564, QoS: 1, SpoofCheck: true, LinkState: "auto"},
		{Index: 1, MAC: "00:11:22:33:44:89", VLAN: 564, QoS: 1, SpoofCheck: true, LinkState: "auto"},
	}
	b, _ := json.MarshalIndent(captured, "", "  ")
	must(os.WriteFile(r.Path(sriov.StateDir+"/eth1.json"), append(b, '\n'), 0o644))
	before := fixture.Digest(t, r.Prefix)
	e := newEngine(r)
	p := sriovProfile(t, "  sriov:\n    - pf: eth1\n      numVFs: 2\n      vfs:\n        - index: 1\n          mac: 02:00:00:00:01:01\n          vlan: 100\n          trust: true\n          linkState: enable\n          maxTxRateMbps: 500\n")
	pr, err := e.Plan(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range pr.Items {
		got = append(got, fmt.Sprintf("%s %s %s->%s %s", it.Object, it.Attribute, it.Before, it.After, it.Status))
	}
	want := []string{
		"0000:03:00.0 sriov_numvfs 2->2 ok",
		"0000:03:00.0 vf 1 vf-mac 00:11:22:33:44:89->02:00:00:00:01:01 drift",
		"0000:03:00.0 vf 1 vf-vlan vlan=564 qos=1->vlan=100 qos=0 drift",
		"0000:03:00.0 vf 1 vf-trust off->on drift",
		"0000:03:00.0 vf 1 vf-link-state auto->enable drift",
		"0000:03:00.0 vf 1 vf-rate min=0 max=0->min=0 max=500 drift",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := e.Apply(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	vfs, _ := sriov.Files{Root: r}.VFs("eth1")
	if v := vfs[1]; v.MAC != "02:00:00:00:01:01" || v.VLAN != 100 || v.QoS != 0 || !v.Trust || v.LinkState != "enable" || v.MaxTxRate != 500 {
		t.Fatalf("VF 1 after apply: %+v", v)
	}
	if pr, err := e.Check(context.Background(), p); err != nil || pr.Count(plan.Drift) != 0 {
		t.Fatalf("check: %v", err)
	}
	if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix)); len(diffs) > 0 {
		t.Fatalf("revert left: %v", diffs)
	}
}

// TestVFBindingPendingOnCreation: a binding of a VF that spec.sriov
// creates in the same apply is planned (after the VFs, as pending) at the
// address the kernel will give it; VF settings on it are pending too.
func TestVFBindingPendingOnCreation(t *testing.T) {
	r, _ := pfHost(t, 0)
	p := sriovProfile(t, "  sriov:\n    - pf: eth1\n      numVFs: 2\n      driversAutoprobe: false\n      vfs:\n        - index: 1\n          vlan: 10\n  devices:\n    - pf: 0000:03:00.0\n      vf: 1\n      driver: vfio-pci\n")
	pr, err := newEngine(r).Plan(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range pr.Items {
		got = append(got, it.Module+" "+it.Object+" "+it.Attribute+" "+string(it.Action))
	}
	want := "sriov 0000:03:00.0 sriov_drivers_autoprobe set|sriov 0000:03:00.0 sriov_numvfs set|sriov 0000:03:00.0 vf 1 vf-vlan create|devices vfio-pci module create|devices 0000:03:10.4 driver create"
	if strings.Join(got, "|") != want {
		t.Fatalf("plan order:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	last := pr.Items[len(pr.Items)-1]
	if !strings.Contains(last.Detail, "pending on creation") || last.Device != "0000:03:00.0/virtfn1" {
		t.Fatalf("binding item: %+v", last)
	}
}

// TestDevicesShowsPFVFRelations: the inventory of 'nettune devices' links
// the PF to its VFs (virtfnN) and each VF to its PF (physfn).
func TestDevicesShowsPFVFRelations(t *testing.T) {
	r, _ := pfHost(t, 2)
	inv, err := devbind.Scan(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	pf := inv.Get("0000:03:00.0")
	if pf == nil || pf.TotalVFs != 7 || strings.Join(pf.VirtFns, ",") != "0000:03:10.0,0000:03:10.4" {
		t.Fatalf("PF: %+v", pf)
	}
	vf := inv.Get("0000:03:10.4")
	if vf == nil || vf.PhysFn != "0000:03:00.0" || vf.VFIndex != 1 {
		t.Fatalf("VF: %+v", vf)
	}
}

// TestVFBindingRevertRefusedWhileHeld: the devices module does not unbind a
// VF from vfio-pci while its group is held open (the kernel's unbind would
// block until the holder lets go); it runs first in a revert, so this is
// the refusal an operator sees.
func TestVFBindingRevertRefusedWhileHeld(t *testing.T) {
	r, _ := pfHost(t, 2)
	release := holdVF(t, r, 1)
	env := &module.Env{Root: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, c := range []plan.Change{
		{Module: devbind.Name, Object: "0000:03:10.4", Attribute: devbind.AttrDriver, Action: plan.Create, After: "vfio-pci override=vfio-pci", Device: "0000:03:00.0/virtfn1"},
		{Module: devbind.Name, Object: "0000:03:10.4", Attribute: devbind.AttrDriver, Action: plan.Set, Before: "none", After: "vfio-pci override=vfio-pci"},
	} {
		err := devbind.Module{}.Revert(context.Background(), env, c)
		if err == nil || !strings.Contains(err.Error(), "VF 0000:03:10.4 of 0000:03:00.0 is in use: bound to vfio-pci and /dev/vfio/12 is held open by pid 4242") {
			t.Fatalf("revert of %s: %v", c, err)
		}
	}
	release()
	// Released, the pending binding's revert goes on to the kernel, which
	// this offline root does not emulate.
	err := devbind.Module{}.Revert(context.Background(), env, plan.Change{Module: devbind.Name, Object: "0000:03:10.4", Attribute: devbind.AttrDriver, Action: plan.Create, After: "vfio-pci override=vfio-pci", Device: "0000:03:00.0/virtfn1"})
	if err != nil && strings.Contains(err.Error(), "in use") {
		t.Fatalf("still refused once released: %v", err)
	}
}

// TestVFWithAddressInUse: a VF whose interface is up with an address is in
// use (a link-local IPv6 address alone is not: the kernel gives one to
// every interface it brings up).
func TestVFWithAddressInUse(t *testing.T) {
	r, _ := pfHost(t, 2)
	must(os.MkdirAll(r.Sys("bus/pci/devices/0000:03:10.4/net/eth5"), 0o755))
	lower := sriovProfile(t, "  sriov:\n    - pf: eth1\n      numVFs: 1\n")
	for _, tc := range []struct{ addrs, want string }{
		{`[{"link":"eth5","prefix":"fe80::1/64"}]`, ""},
		{`[{"link":"eth5","prefix":"fe80::1/64"},{"link":"eth5","prefix":"10.0.0.5/24"}]`, "VF 1 (0000:03:10.4) has interface eth5 up with address 10.0.0.5/24"},
	} {
		must(os.WriteFile(r.Path(devbind.NetworkFile), []byte(`{"links":[{"name":"eth1","index":3,"up":true},{"name":"eth5","index":9,"up":true}],"addresses":`+tc.addrs+`,"routes":[]}`), 0o644))
		_, err := newEngine(r).Plan(context.Background(), lower)
		switch {
		case tc.want == "" && err != nil:
			t.Fatalf("link-local only: %v", err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Fatalf("with an address: %v", err)
		}
	}
}
