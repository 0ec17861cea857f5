package hugepages_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/hugepages"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
)

func liveRoot(t *testing.T) *host.Root {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: writes hugepage pools and mounts on the real kernel")
	}
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPrivilegedPoolAndMount reserves 64 more 2M pages on the real kernel
// through the module, mounts a hugetlbfs at a temporary directory, maps
// pages from it, checks that a shrink is refused while they are in use,
// then reverts everything and checks the original count is back. The
// machine's /etc/fstab is left alone: that part is tested on fixtures.
func TestPrivilegedPoolAndMount(t *testing.T) {
	r := liveRoot(t)
	fixture.LockHost(t, "hugepages-2M")
	const global = "/sys/kernel/mm/hugepages/hugepages-2048kB"
	if _, err := os.Stat(global); err != nil {
		t.Skip("this kernel has no 2M hugepages (" + global + " missing)")
	}
	topo, err := numa.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	node := topo.NodesWithMemory()[0]
	pool := filepath.Join("/sys/devices/system/node", fmt.Sprintf("node%d", node), "hugepages/hugepages-2048kB")
	if _, err := os.Stat(pool); err != nil {
		pool = global
	}
	origNode, origTotal := fixture.ReadInt(t, pool+"/nr_hugepages"), fixture.ReadInt(t, global+"/nr_hugepages")
	t.Cleanup(func() {
		// Whatever happened, the machine gets its pool size back.
		if fixture.ReadInt(t, pool+"/nr_hugepages") != origNode {
			r.W.WriteKernel(pool+"/nr_hugepages", strconv.Itoa(origNode))
			t.Errorf("pool restored by the cleanup, not by revert")
		}
	})
	mnt := filepath.Join(t.TempDir(), "huge")
	spec := parse(t, fmt.Sprintf("    pages: [{size: 2M, count: %d, node: %d}]\n    mounts: [{path: %s, pageSize: 2M, mode: \"1770\"}]\n", origNode+64, node, mnt))
	env := fixture.Env(r)
	res := planSpec(t, r, spec)
	if got := problems(res, plan.Error); got != "" {
		t.Fatal(got)
	}
	var applied []plan.Change
	t.Cleanup(func() {
		for i := len(applied) - 1; i >= 0; i-- {
			if err := (hugepages.Module{}).Revert(context.Background(), env, applied[i]); err != nil {
				t.Errorf("revert %s %s: %v", applied[i].Object, applied[i].Attribute, err)
			}
		}
		if got := fixture.ReadInt(t, global+"/nr_hugepages"); got != origTotal {
			t.Errorf("after revert: %d pages, originally %d", got, origTotal)
		}
		if _, mounted := mountedAt(mnt); mounted {
			t.Errorf("%s still mounted after revert", mnt)
			syscall.Unmount(mnt, 0)
		}
		if _, err := os.Stat(mnt); err == nil {
			t.Errorf("mount point %s left behind", mnt)
		}
	})
	for _, it := range res.Items {
		if it.Status != plan.Drift || it.Attribute == "fstab" {
			continue
		}
		if err := (hugepages.Module{}).Apply(context.Background(), env, it.Change); err != nil {
			t.Fatalf("apply %s %s: %v", it.Object, it.Attribute, err)
		}
		applied = append(applied, it.Change)
	}
	if len(applied) != 3 {
		t.Fatalf("applied %d changes: %+v", len(applied), applied)
	}
	if got := fixture.ReadInt(t, global+"/nr_hugepages"); got != origTotal+64 {
		t.Fatalf("kernel holds %d pages, want %d", got, origTotal+64)
	}
	opts, ok := mountedAt(mnt)
	if !ok || !strings.Contains(opts, "pagesize=2M") || !strings.Contains(opts, "mode=1770") {
		t.Fatalf("/proc/mounts: %q mounted=%v", opts, ok)
	}

	// Map four pages through the mount: they come out of the pool.
	freeBefore := fixture.ReadInt(t, global+"/free_hugepages")
	f, err := os.OpenFile(filepath.Join(mnt, "probe"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	const size = 4 << 21
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < size; i += 2 << 20 {
		mem[i] = 1
	}
	if got := fixture.ReadInt(t, global+"/free_hugepages"); got != freeBefore-4 {
		t.Errorf("free pages %d after mapping 4, want %d", got, freeBefore-4)
	}
	// Shrinking back while they are mapped is refused.
	nodeFree := fixture.ReadInt(t, pool+"/free_hugepages")
	shrink := planSpec(t, r, parse(t, fmt.Sprintf("    pages: [{size: 2M, count: %d, node: %d}]\n", origNode, node)))
	refused := strings.Contains(problems(shrink, plan.Error), "refusing to shrink")
	t.Logf("pool %s: %d -> %d pages; mounted %s (%s); 4 pages mapped: free %d -> %d; shrink back refused while mapped: %v",
		pool, origNode, origNode+64, mnt, opts, freeBefore, fixture.ReadInt(t, global+"/free_hugepages"), refused)
	if refused != (nodeFree < 64) {
		t.Errorf("node has %d free pages; shrink by 64 refused=%v: %s", nodeFree, refused, problems(shrink, plan.Error))
	}
	if err := syscall.Munmap(mem); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Remove(filepath.Join(mnt, "probe")); err != nil {
		t.Fatal(err)
	}
	// Cleanup reverts in reverse order: umount, rmdir, shrink.
}

func mountedAt(path string) (string, bool) {
	b, _ := os.ReadFile("/proc/mounts")
	opts, found := "", false
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 3 && f[1] == path && f[2] == "hugetlbfs" {
			opts, found = f[3], true
		}
	}
	return opts, found
}

// TestPrivilegedTransparent switches the transparent hugepage mode on the
// real kernel and back.
func TestPrivilegedTransparent(t *testing.T) {
	r := liveRoot(t)
	fixture.LockHost(t, "thp")
	const p = "/sys/kernel/mm/transparent_hugepage/enabled"
	raw, err := r.ReadString(p)
	if err != nil {
		t.Skip("this kernel has no transparent hugepages (" + p + " missing)")
	}
	choices, cur := hugepages.ParseSelector(raw)
	other := ""
	for _, c := range choices {
		if c != cur && c != "always" {
			other = c
			break
		}
	}
	if other == "" {
		t.Skipf("no mode to switch to from %q", raw)
	}
	t.Cleanup(func() {
		if _, now := hugepages.ParseSelector(must(r.ReadString(p))); now != cur {
			r.W.WriteKernel(p, cur)
			t.Errorf("mode restored by the cleanup, not by revert")
		}
	})
	res := planSpec(t, r, parse(t, "    transparent: "+other+"\n"))
	it := item(t, res, "transparent_hugepage", "enabled")
	if it.Status != plan.Drift || it.Before != cur {
		t.Fatalf("%+v", it)
	}
	if err := (hugepages.Module{}).Apply(context.Background(), fixture.Env(r), it.Change); err != nil {
		t.Fatal(err)
	}
	if _, now := hugepages.ParseSelector(must(r.ReadString(p))); now != other {
		t.Errorf("mode %q, want %q", now, other)
	}
	if it := item(t, planSpec(t, r, parse(t, "    transparent: "+other+"\n")), "transparent_hugepage", "enabled"); it.Status != plan.OK {
		t.Errorf("check after apply: %+v", it)
	}
	if err := (hugepages.Module{}).Revert(context.Background(), fixture.Env(r), it.Change); err != nil {
		t.Fatal(err)
	}
	if _, now := hugepages.ParseSelector(must(r.ReadString(p))); now != cur {
		t.Errorf("after revert: %q, want %q", now, cur)
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// TestPrivilegedReservedAndSurplus proves two kernel rules on the real
// kernel. Pages a program has mmap()ed but not touched are still free
// (free_hugepages) but reserved (resv_hugepages): a shrink must count them
// as in use. And a pool shrunk below the pages programs have touched keeps
// them as surplus (nr_hugepages still counts them, surplus_hugepages says
// how many): the revert has done what it can, and it succeeds.
func TestPrivilegedReservedAndSurplus(t *testing.T) {
	r := liveRoot(t)
	fixture.LockHost(t, "hugepages-2M")
	const global = "/sys/kernel/mm/hugepages/hugepages-2048kB"
	if _, err := os.Stat(global); err != nil {
		t.Skip("this kernel has no 2M hugepages (" + global + " missing)")
	}
	topo, err := numa.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	node := topo.NodesWithMemory()[0]
	pool := filepath.Join("/sys/devices/system/node", fmt.Sprintf("node%d", node), "hugepages/hugepages-2048kB")
	if _, err := os.Stat(pool); err != nil {
		pool = global
	}
	origNode, origTotal := fixture.ReadInt(t, pool+"/nr_hugepages"), fixture.ReadInt(t, global+"/nr_hugepages")
	if fixture.ReadInt(t, global+"/surplus_hugepages") != 0 || fixture.ReadInt(t, global+"/resv_hugepages") != 0 {
		t.Skip("the 2M pool already has surplus or reserved pages: another program uses hugepages")
	}
	mnt := filepath.Join(t.TempDir(), "huge")
	spec := parse(t, fmt.Sprintf("    pages: [{size: 2M, count: %d, node: %d}]\n    mounts: [{path: %s, pageSize: 2M}]\n", origNode+8, node, mnt))
	env := fixture.Env(r)
	res := planSpec(t, r, spec)
	if got := problems(res, plan.Error); got != "" {
		t.Fatal(got)
	}
	var applied []plan.Change
	var mem []byte
	var f *os.File
	t.Cleanup(func() {
		if mem != nil {
			syscall.Munmap(mem)
		}
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
		for i := len(applied) - 1; i >= 0; i-- {
			if err := (hugepages.Module{}).Revert(context.Background(), env, applied[i]); err != nil {
				t.Errorf("revert %s %s: %v", applied[i].Object, applied[i].Attribute, err)
			}
		}
		if got := fixture.ReadInt(t, global+"/nr_hugepages"); got != origTotal {
			r.W.WriteKernel(pool+"/nr_hugepages", strconv.Itoa(origNode))
			t.Errorf("after revert: %d pages, originally %d (restored by the cleanup)", got, origTotal)
		}
		if _, mounted := mountedAt(mnt); mounted {
			syscall.Unmount(mnt, 0)
		}
	})
	var poolChange plan.Change
	for _, it := range res.Items {
		if it.Status != plan.Drift || it.Attribute == "fstab" {
			continue
		}
		if err := (hugepages.Module{}).Apply(context.Background(), env, it.Change); err != nil {
			t.Fatalf("apply %s %s: %v", it.Object, it.Attribute, err)
		}
		applied = append(applied, it.Change)
		if it.Attribute == "nr_hugepages" {
			poolChange = it.Change
		}
	}

	// Map four pages without touching them: reserved, still free.
	f, err = os.OpenFile(filepath.Join(mnt, "probe"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	const size = 4 << 21
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if mem, err = syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); err != nil {
		t.Fatal(err)
	}
	resv, free := fixture.ReadInt(t, global+"/resv_hugepages"), fixture.ReadInt(t, pool+"/free_hugepages")
	t.Logf("4 pages mapped, untouched: free %d, resv %d", free, resv)
	shrink := planSpec(t, r, parse(t, fmt.Sprintf("    pages: [{size: 2M, count: %d, node: %d}]\n", origNode, node)))
	if got := problems(shrink, plan.Error); resv > 0 && !strings.Contains(got, "reserved") {
		t.Errorf("shrink by 8 with %d free of which %d reserved is not refused: %q", free, resv, got)
	}

	// Touch them, then revert the pool while they are mapped.
	for i := 0; i < size; i += 2 << 20 {
		mem[i] = 1
	}
	if err := (hugepages.Module{}).Revert(context.Background(), env, poolChange); err != nil {
		t.Errorf("revert while 4 pages are mapped: %v", err)
	}
	nr, surplus := fixture.ReadInt(t, pool+"/nr_hugepages"), fixture.ReadInt(t, pool+"/surplus_hugepages")
	t.Logf("after the revert while mapped: nr_hugepages %d, surplus_hugepages %d (asked %d)", nr, surplus, origNode)
	if nr-surplus != origNode || surplus != 4 {
		t.Errorf("nr_hugepages %d, surplus %d: want %d persistent pages and 4 surplus", nr, surplus, origNode)
	}
	syscall.Munmap(mem)
	mem = nil
	f.Close()
	os.Remove(f.Name())
	f = nil
	if got := fixture.ReadInt(t, global+"/nr_hugepages"); got != origTotal {
		t.Errorf("after unmapping: %d pages, want %d (surplus pages go back when unmapped)", got, origTotal)
	}
}
