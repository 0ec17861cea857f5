package hugepages_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/hugepages"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

const testdata = "../../testdata/"

var boots = []string{"boot-debian-grub", "boot-ubuntu-grubd", "boot-rhel-bls", "boot-systemd-boot"}

// newRoot unpacks a topology and a boot configuration into one tree, with
// the sysfs-like writer and the mount-simulating runner.
func newRoot(t *testing.T, topo, boot string) (*host.Root, *kernelWriter, *mountRunner) {
	t.Helper()
	dir := fixture.Unpack(t, testdata+"hosts/"+topo+".txtar")
	if boot != "" {
		if err := fixture.UnpackTo(testdata+"hosts/"+boot+".txtar", dir); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	kw := &kernelWriter{Writer: r.W, limit: map[string]int{}}
	mr := &mountRunner{root: dir}
	r.W, r.Exec = kw, mr
	return r, kw, mr
}

func hpProfile(t *testing.T, name string) *profile.Profile {
	t.Helper()
	p, err := profile.Load(testdata + "profiles/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.Spec = profile.Spec{Hugepages: p.Spec.Hugepages}
	return p
}

func parse(t *testing.T, yaml string) *profile.Spec {
	t.Helper()
	p, err := profile.Parse("test.yaml", []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: t}\nspec:\n  hugepages:\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	return &p.Spec
}

func planSpec(t *testing.T, r *host.Root, spec *profile.Spec) *module.Result {
	t.Helper()
	res, err := hugepages.Module{}.Plan(context.Background(), fixture.Env(r), spec)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func golden(t *testing.T, name string, got string) {
	t.Helper()
	fixture.Golden(t, filepath.Join("testdata", name+".golden"), []byte(got))
}

func problems(res *module.Result, sev plan.Severity) string {
	var out []string
	for _, p := range res.Problems {
		if p.Severity == sev {
			out = append(out, p.String())
		}
	}
	return strings.Join(out, "\n")
}

func item(t *testing.T, res *module.Result, object, attr string) plan.Item {
	t.Helper()
	for _, it := range res.Items {
		if it.Object == object && it.Attribute == attr {
			return it
		}
	}
	t.Fatalf("no item %s %s in\n%s", object, attr, fixture.RenderResult(res))
	return plan.Item{}
}

func TestGoldenPlans(t *testing.T) {
	for _, tc := range []struct{ topo, profile string }{
		{"topo-2node-32cpu-smt", "dpdk-2node"},
		{"topo-1node-8cpu", "dpdk-1node"},
	} {
		for _, boot := range []string{"boot-debian-grub", "boot-rhel-bls"} {
			r, _, _ := newRoot(t, tc.topo, boot)
			res := planSpec(t, r, &hpProfile(t, tc.profile).Spec)
			golden(t, "plan-"+tc.topo+"-"+boot, strings.ReplaceAll(fixture.RenderResult(res), r.Prefix, "ROOT"))
		}
	}
}

func TestSplitAcrossNodes(t *testing.T) {
	r, _, _ := newRoot(t, "topo-2node-32cpu-smt", "")
	res := planSpec(t, r, parse(t, "    pages: [{size: 2M, count: 1025}]\n"))
	n0, n1 := item(t, res, "node0/hugepages-2048kB", "nr_hugepages"), item(t, res, "node1/hugepages-2048kB", "nr_hugepages")
	if n0.After != "513" || n1.After != "512" || !strings.Contains(n0.Reason, "513 + 512 (the remainder, 1, on the lowest node)") {
		t.Errorf("split: %+v / %+v", n0, n1)
	}
	// A count on one node is that node's pool only.
	res = planSpec(t, r, parse(t, "    pages: [{size: 1G, count: 2, node: 1}]\n"))
	if len(res.Items) != 1 || res.Items[0].Object != "node1/hugepages-1048576kB" || res.Items[0].After != "2" {
		t.Errorf("per node: %s", fixture.RenderResult(res))
	}
}

func TestBootArgs(t *testing.T) {
	spec := parse(t, "    defaultSize: 1G\n    pages:\n      - {size: 2M, count: 64, boot: true}\n      - {size: 1G, count: 4, node: 1, boot: true}\n      - {size: 1G, count: 2, node: 0, boot: true}\n")
	got := strings.Join(hugepages.BootArgs(spec.Hugepages), " ")
	if want := "default_hugepagesz=1G hugepagesz=2M hugepages=64 hugepagesz=1G hugepages=0:2,1:4"; got != want {
		t.Errorf("BootArgs = %q, want %q", got, want)
	}
}

func TestValidation(t *testing.T) {
	one, _, _ := newRoot(t, "topo-1node-8cpu", "boot-debian-grub")
	two, _, _ := newRoot(t, "topo-2node-32cpu-smt", "boot-rhel-bls")
	for _, tc := range []struct {
		r    *host.Root
		yaml string
		sev  plan.Severity
		want string
	}{
		{one, "    pages: [{size: 1G, count: 2}]\n", plan.Error, "this CPU cannot map 1G pages (no pdpe1gb flag in /proc/cpuinfo)"},
		{one, "    defaultSize: 16M\n", plan.Error, "the kernel offers no 16M pages (it offers 2M)"},
		{two, "    pages: [{size: 2M, count: 2, node: 4}]\n", plan.Error, "node 4 does not exist (nodes: 0,1)"},
		{two, "    pages: [{size: 2M, count: 2, node: 0}, {size: 2M, count: 4}]\n", plan.Error, "2M pages are reserved at runtime as a total here and at runtime per node in another entry"},
		{two, "    pages: [{size: 1G, count: 2, boot: true}, {size: 1G, count: 4, node: 1}]\n", plan.Error, "at runtime per node here and at boot as a total"},
		{two, "    pages: [{size: 1G, count: 2, node: 1, boot: true}]\n", plan.Warning, "may not know the per-node form hugepages=N:COUNT (Linux 5.16)"},
		{two, "    pages: [{size: 1G, count: 30, node: 0}]\n", plan.Warning, "the new pages need 30.0 GiB on node 0, which has 28.8 GiB free"},
		{two, "    pages: [{size: 1G, count: 4}]\n", plan.Warning, "1G pages reserved at runtime need 1 GiB of contiguous free memory each"},
		{two, "    mounts: [{path: /etc/fstab}]\n", plan.Error, "/etc/fstab exists and is not a directory"},
		{two, "    mounts: [{path: /nowhere/huge}]\n", plan.Error, "the parent directory /nowhere does not exist"},
		{two, "    mounts: [{path: /run}]\n", plan.Error, "/run is already a tmpfs mount point"},
		// Bounded by memory (MemTotal), for a total and per node, at boot and at runtime.
		{one, "    pages: [{size: 2M, count: 4294967295}]\n", plan.Error, "4294967295 2M pages need 8388608.0 GiB, more than the 7.8 GiB of memory the host has (MemTotal)"},
		{two, "    pages: [{size: 1G, count: 4294967295, boot: true}]\n", plan.Error, "of memory the host has (MemTotal)"},
		{two, "    pages: [{size: 2M, count: 100000, node: 1}]\n", plan.Error, "100000 2M pages need 195.3 GiB, more than the"},
	} {
		res := planSpec(t, tc.r, parse(t, tc.yaml))
		if got := problems(res, tc.sev); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %s problems %q lack %q", tc.yaml, tc.sev, got, tc.want)
		}
	}
	// The 2M pool of the 2-node host is 1024 pages, 100 free: shrinking it
	// to 0 would take pages from running programs.
	r, _, _ := newRoot(t, "topo-2node-32cpu-smt", "")
	setPool(t, r, 0, 2048, 1024, 100)
	res := planSpec(t, r, parse(t, "    pages: [{size: 2M, count: 0, node: 0}]\n"))
	if got := problems(res, plan.Error); !strings.Contains(got, "refusing to shrink the 2M pool from 1024 to 0 pages: only 100 are free, 924 are in use") {
		t.Errorf("in use: %q", got)
	}
	if res = planSpec(t, r, parse(t, "    pages: [{size: 2M, count: 924, node: 0}]\n")); problems(res, plan.Error) != "" {
		t.Errorf("shrinking by the free pages is fine: %s", problems(res, plan.Error))
	}
}

// setPool sets a node's pool, and the size's global counts to the sum over
// the nodes, as the kernel keeps them.
func setPool(t *testing.T, r *host.Root, node int, kb, total, free int) {
	t.Helper()
	pool := fmt.Sprintf("hugepages-%dkB", kb)
	dir := r.Sys("devices/system/node", fmt.Sprintf("node%d", node), "hugepages", pool)
	for f, v := range map[string]int{"nr_hugepages": total, "free_hugepages": free} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(fmt.Sprintf("%d\n", v)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nodes, _ := filepath.Glob(r.Sys("devices/system/node/node*/hugepages", pool))
	for _, f := range []string{"nr_hugepages", "free_hugepages"} {
		sum := 0
		for _, n := range nodes {
			sum += fixture.ReadInt(t, filepath.Join(n, f))
		}
		if err := os.WriteFile(r.Sys("kernel/mm/hugepages", pool, f), []byte(fmt.Sprintf("%d\n", sum)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestShortfall(t *testing.T) {
	r, kw, _ := newRoot(t, "topo-2node-32cpu-smt", "")
	before := fixture.Digest(t, r.Prefix)
	kw.limit[r.Sys("devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages")] = 3
	res := planSpec(t, r, parse(t, "    pages: [{size: 1G, count: 8, node: 1}]\n"))
	c := res.Items[0].Change
	err := hugepages.Module{}.Apply(context.Background(), fixture.Env(r), c)
	if !errors.Is(err, hugepages.ErrShortfall) || !errors.Is(err, module.ErrVerify) {
		t.Fatalf("Apply = %v", err)
	}
	for _, frag := range []string{"asked for 8 pages, the kernel reserved 3 (5 short)", "hugepagesz=1G hugepages=1:8", "default_hugepagesz=1G"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("diagnosis lacks %q: %v", frag, err)
		}
	}
	// The engine's rollback gives the 3 pages back.
	if err := (hugepages.Module{}).Revert(context.Background(), fixture.Env(r), c); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix)); len(diffs) > 0 {
		t.Errorf("after rollback: %v", diffs)
	}
}

// TestInUseAtApply: pages taken into use between plan and apply are not
// taken away.
func TestInUseAtApply(t *testing.T) {
	r, _, _ := newRoot(t, "topo-2node-32cpu-smt", "")
	setPool(t, r, 0, 2048, 64, 64)
	c := planSpec(t, r, parse(t, "    pages: [{size: 2M, count: 0, node: 0}]\n")).Items[0].Change
	setPool(t, r, 0, 2048, 64, 10)
	err := hugepages.Module{}.Apply(context.Background(), fixture.Env(r), c)
	if !errors.Is(err, hugepages.ErrInUse) || !strings.Contains(err.Error(), "10 free, 54 in use") {
		t.Errorf("Apply = %v", err)
	}
}

func TestTransparent(t *testing.T) {
	r, _, _ := newRoot(t, "topo-1node-8cpu", "")
	before := fixture.Digest(t, r.Prefix)
	res := planSpec(t, r, parse(t, "    transparent: never\n"))
	it := item(t, res, "transparent_hugepage", "enabled")
	if it.Status != plan.Drift || it.Before != "madvise" || it.After != "never" {
		t.Fatalf("%+v", it)
	}
	if err := (hugepages.Module{}).Apply(context.Background(), fixture.Env(r), it.Change); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.ReadString(r.Sys("kernel/mm/transparent_hugepage/enabled")); got != "always madvise [never]" {
		t.Errorf("enabled = %q", got)
	}
	if it := item(t, planSpec(t, r, parse(t, "    transparent: never\n")), "transparent_hugepage", "enabled"); it.Status != plan.OK {
		t.Errorf("after apply: %+v", it)
	}
	if err := (hugepages.Module{}).Revert(context.Background(), fixture.Env(r), it.Change); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix)); len(diffs) > 0 {
		t.Errorf("after revert: %v", diffs)
	}
	// A kernel that offers fewer modes.
	fixture.Overwrite(t, r.Sys("kernel/mm/transparent_hugepage/enabled"), []byte("always [never]\n"))
	if got := problems(planSpec(t, r, parse(t, "    transparent: madvise\n")), plan.Error); !strings.Contains(got, "offers transparent hugepage modes always, never") {
		t.Errorf("%q", got)
	}
	// No THP at all.
	os.RemoveAll(r.Sys("kernel/mm/transparent_hugepage"))
	if it := planSpec(t, r, parse(t, "    transparent: never\n")).Items[0]; it.Status != plan.Unsupported {
		t.Errorf("%+v", it)
	}
}

func hpEngine(r *host.Root) *engine.Engine {
	return &engine.Engine{Env: fixture.Env(r), Modules: []module.Module{hugepages.Module{}}, Version: "test",
		Now: func() time.Time { return time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC) }}
}

func statuses(pr *engine.PlanResult) map[string]plan.Status {
	out := map[string]plan.Status{}
	for _, it := range pr.Items {
		out[it.Object+" "+it.Attribute] = it.Status
	}
	return out
}

// TestRoundTrip applies spec.hugepages of the 2-node profile through the
// engine with a live-like runner (mount works) and an offline one, on
// every boot configuration, and reverts byte for byte.
func TestRoundTrip(t *testing.T) {
	for _, boot := range boots {
		for _, offline := range []bool{false, true} {
			r, _, mr := newRoot(t, "topo-2node-32cpu-smt", boot)
			if offline {
				r.Exec = host.OfflineRunner{Root: r.Prefix}
			}
			before := fixture.Digest(t, r.Prefix)
			e := hpEngine(r)
			p := hpProfile(t, "dpdk-2node")
			res, err := e.Apply(context.Background(), p, nil)
			if err != nil {
				t.Fatalf("%s offline=%v: %v", boot, offline, err)
			}
			if len(res.Applied) != 6 {
				t.Errorf("%s: applied %v", boot, res.Applied)
			}
			pr, err := e.Check(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			mountStatus := plan.OK
			if offline {
				mountStatus = plan.PendingReboot
			}
			want := map[string]plan.Status{
				"kernel-cmdline " + pr.Items[0].Attribute: plan.PendingReboot,
				"node0/hugepages-2048kB nr_hugepages":     plan.OK, "node1/hugepages-2048kB nr_hugepages": plan.OK,
				"transparent_hugepage enabled": plan.OK, "/dev/hugepages-1G fstab": plan.OK, "/dev/hugepages-1G mount": mountStatus,
			}
			if got := statuses(pr); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s offline=%v: after apply %v, want %v", boot, offline, got, want)
			}
			fstab, _ := os.ReadFile(r.Etc("fstab"))
			if !strings.Contains(string(fstab), "\nhugetlbfs /dev/hugepages-1G hugetlbfs pagesize=1G,mode=1770,nofail 0 0\n") {
				t.Errorf("fstab:\n%s", fstab)
			}
			if !offline && !strings.Contains(strings.Join(mr.calls, "\n"), "mount -t hugetlbfs -o pagesize=1G,mode=1770 hugetlbfs /dev/hugepages-1G") {
				t.Errorf("runs: %q", mr.calls)
			}
			if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
				t.Fatal(err)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
				t.Errorf("%s offline=%v: after revert: %v", boot, offline, diffs)
			}
			if pr, _ := e.Check(context.Background(), p); pr.Count(plan.Drift) != 6 {
				t.Errorf("%s: after revert %v", boot, statuses(pr))
			}
		}
	}
}

// TestFaultInjection fails every write of an apply in turn, and a busy
// umount during rollback once.
func TestFaultInjection(t *testing.T) {
	for _, boot := range []string{"boot-debian-grub", "boot-systemd-boot"} {
		r, _, _ := newRoot(t, "topo-2node-32cpu-smt", boot)
		before := fixture.Digest(t, r.Prefix)
		fw := &fixture.FailingWriter{W: r.W}
		r.W = fw
		e := hpEngine(r)
		p := hpProfile(t, "dpdk-2node")
		if _, err := e.Apply(context.Background(), p, nil); err != nil {
			t.Fatal(err)
		}
		total := fw.Calls
		if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= total; n++ {
			fw.Calls, fw.FailAt, fw.Err, fw.Failed = 0, n, syscall.EIO, ""
			if _, err := e.Apply(context.Background(), p, nil); !errors.Is(err, syscall.EIO) {
				t.Fatalf("%s write %d (%s): %v", boot, n, fw.Failed, err)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
				t.Fatalf("%s write %d (%s): %v", boot, n, fw.Failed, diffs)
			}
		}
	}
}

// TestMountFailureRollsBack: a failing mount(8) fails the apply, and the
// rollback removes the fstab line and the directory.
func TestMountFailureRollsBack(t *testing.T) {
	r, _, mr := newRoot(t, "topo-1node-8cpu", "boot-debian-grub")
	before := fixture.Digest(t, r.Prefix)
	mr.fail = "mount"
	_, err := hpEngine(r).Apply(context.Background(), hpProfile(t, "dpdk-1node"), nil)
	if err == nil || !strings.Contains(err.Error(), "mount hugetlbfs on /mnt/huge") {
		t.Fatalf("Apply = %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
		t.Errorf("after rollback: %v", diffs)
	}
}

func TestForeignFstabEntry(t *testing.T) {
	r, _, _ := newRoot(t, "topo-1node-8cpu", "")
	fstab, _ := os.ReadFile(r.Etc("fstab"))
	os.WriteFile(r.Etc("fstab"), append(fstab, "nodev /mnt/huge hugetlbfs pagesize=2M,mode=0770 0 0\n"...), 0o644)
	res := planSpec(t, r, parse(t, "    mounts: [{path: /mnt/huge, mode: \"770\"}]\n"))
	if it := item(t, res, "/mnt/huge", "fstab"); it.Status != plan.OK || !strings.Contains(it.Detail, "not managed by nettune") {
		t.Errorf("equivalent foreign line: %+v", it)
	}
	res = planSpec(t, r, parse(t, "    mounts: [{path: /mnt/huge, mode: \"1777\"}]\n"))
	if got := problems(res, plan.Error); !strings.Contains(got, "/etc/fstab line 11 already mounts /mnt/huge") {
		t.Errorf("%q", got)
	}
}

// TestBusyExistingMountRollsBack: a hugetlbfs already mounted at the
// profile's path with other options, and in use (umount: target is busy,
// every time). The apply fails, the host is as it was, no generation is
// kept, and the next apply fails the same way instead of being blocked by
// an unfinished generation.
func TestBusyExistingMountRollsBack(t *testing.T) {
	r, _, mr := newRoot(t, "topo-1node-8cpu", "boot-debian-grub")
	p := r.Proc("mounts")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, append(b, "nodev /mnt/huge hugetlbfs rw,relatime,mode=700,pagesize=2M 0 0\n"...), 0o444); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o444)
	os.MkdirAll(r.Path("/mnt/huge"), 0o755)
	before := fixture.Digest(t, r.Prefix)
	mr.fail = "umount"
	for i := 0; i < 2; i++ {
		_, err := hpEngine(r).Apply(context.Background(), hpProfile(t, "dpdk-1node"), nil)
		if err == nil || !strings.Contains(err.Error(), "busy") {
			t.Fatalf("apply %d = %v", i+1, err)
		}
		if strings.Contains(err.Error(), "journal is kept") || strings.Contains(err.Error(), "did not finish") {
			t.Fatalf("apply %d left a stuck generation: %v", i+1, err)
		}
		if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix)); len(diffs) > 0 {
			t.Fatalf("after apply %d: %v", i+1, diffs)
		}
	}
}
