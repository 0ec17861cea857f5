package isolcpu_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/isolcpu"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
)

// amdRoot is the 8-CPU topology with a real AMD EPYC 9754 /proc/cpuinfo
// and the amd_pstate driver in active mode.
func amdRoot(t *testing.T) *host.Root {
	t.Helper()
	r, _ := newRoot(t, "topo-1node-8cpu", "boot-debian-grub")
	if err := fixture.UnpackTo(testdata+"hosts/amd-epyc-9754.txtar", r.Prefix); err != nil {
		t.Fatal(err)
	}
	return r
}

// pstateKernel models the amd_pstate driver: a write of active, passive
// or guided switches the mode and re-creates the cpufreq policies with
// the mode's governors (active: performance and powersave, the default
// powersave; passive and guided: the generic ones, the default
// schedutil); anything else is EINVAL. refuse makes every write to the
// status fail with EBUSY, the rollback's too.
type pstateKernel struct {
	host.Writer
	root   string
	refuse bool
}

func (k pstateKernel) WriteKernel(path, value string) error {
	if !strings.HasSuffix(path, "amd_pstate/status") {
		return k.Writer.WriteKernel(path, value)
	}
	if k.refuse {
		return &os.PathError{Op: "write", Path: path, Err: syscall.EBUSY}
	}
	avail, def := "performance powersave", "powersave"
	switch value {
	case "active":
	case "passive", "guided":
		avail, def = "conservative ondemand userspace powersave performance schedutil", "schedutil"
	default:
		return &os.PathError{Op: "write", Path: path, Err: syscall.EINVAL}
	}
	if err := k.Writer.WriteKernel(path, value); err != nil {
		return err
	}
	for c := 0; c < 8; c++ {
		dir := k.root + "/sys/devices/system/cpu/cpu" + strconv.Itoa(c) + "/cpufreq/"
		if err := rewrite(dir+"scaling_available_governors", avail+"\n"); err != nil {
			return err
		}
		if err := k.Writer.WriteKernel(dir+"scaling_governor", def); err != nil {
			return err
		}
	}
	return nil
}

// rewrite replaces a read-only fixture file's content, as the kernel does
// when it re-creates a cpufreq policy, and keeps its mode.
func rewrite(path, content string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if err := os.Chmod(path, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Chmod(path, st.Mode().Perm())
}

func TestAmdPstate(t *testing.T) {
	r := amdRoot(t)
	r.W = pstateKernel{Writer: r.W, root: r.Prefix}
	before := fixture.Digest(t, r.Prefix)
	e := cpuEngine(r)
	p := cpuProfile(t, "dpdk-1node")
	p.Spec.CPU = parse(t, "    power: {amdPstate: passive, governor: schedutil}\n").CPU
	pr, err := e.Plan(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	// schedutil is not offered in active mode but is after the switch:
	// no error, and the amd_pstate item comes before the governors.
	if pr.Items[0].Object != "amd_pstate" || pr.Items[0].Before != "active" || pr.Items[0].After != "passive" {
		t.Fatalf("first item %+v", pr.Items[0])
	}
	if _, err := e.Apply(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.ReadString(r.Sys("devices/system/cpu/amd_pstate/status")); got != "passive" {
		t.Errorf("status %q", got)
	}
	if got, _ := r.ReadString(r.Sys("devices/system/cpu/cpu3/cpufreq/scaling_governor")); got != "schedutil" {
		t.Errorf("governor %q", got)
	}
	pr, err = e.Check(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Count(plan.OK) != 9 {
		t.Errorf("check: %v", statuses(pr))
	}
	if _, err := e.Revert(context.Background(), engine.RevertOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
		t.Errorf("tree differs after revert: %v", diffs)
	}
}

// TestAmdPstateRefused: a status file that refuses every write (another
// cpufreq driver holds the CPUs: EBUSY) fails apply and leaves the host
// as it was.
func TestAmdPstateRefused(t *testing.T) {
	r := amdRoot(t)
	r.W = pstateKernel{Writer: r.W, root: r.Prefix, refuse: true}
	before := fixture.Digest(t, r.Prefix)
	p := cpuProfile(t, "dpdk-1node")
	p.Spec.CPU = parse(t, "    power: {amdPstate: guided}\n").CPU
	if _, err := cpuEngine(r).Apply(context.Background(), p, nil); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("apply: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, r.Prefix, "var/lib/nettune")); len(diffs) > 0 {
		t.Errorf("tree differs: %v", diffs)
	}
}

// TestAmdPstateReadBack: a driver that accepts the write and stays in its
// mode is an error, not success.
func TestAmdPstateReadBack(t *testing.T) {
	r := amdRoot(t)
	res := planSpec(t, r, parse(t, "    power: {amdPstate: guided}\n"))
	r.W = refusingWriter{}
	if err := (isolcpu.Module{}).Apply(context.Background(), fixture.Env(r), res.Items[0].Change); !errors.Is(err, module.ErrVerify) {
		t.Errorf("apply = %v, want ErrVerify", err)
	}
}

func TestAmdPstateMissing(t *testing.T) {
	r, _ := newRoot(t, "topo-2node-32cpu-smt", "")
	res := planSpec(t, r, parse(t, "    power: {amdPstate: active}\n"))
	if len(res.Items) != 1 || res.Items[0].Status != plan.Unsupported {
		t.Errorf("items %+v", res.Items)
	}
	got := problemsOf(res, plan.Warning)
	if !strings.Contains(got, "amd_pstate/status does not exist") {
		t.Errorf("warnings %q", got)
	}
}

// TestVendorWarnings: Intel-only arguments on the AMD capture, AMD-only
// ones on the Intel fixture, nothing for arguments both read.
func TestVendorWarnings(t *testing.T) {
	for _, tc := range []struct {
		amd        bool
		yaml, want string
	}{
		{true, "    power: {intelPstate: disable}\n    kernelArgs: [intel_iommu=on, intel-idle.max_cstate=0, iommu=pt]\n",
			"intel_pstate=disable is read only by GenuineIntel|intel_iommu=on is read only by GenuineIntel|intel_idle.max_cstate=0 is read only by GenuineIntel"},
		{true, "    power: {amdPstate: active}\n    kernelArgs: [amd_iommu=on, iommu=pt]\n", ""},
		{false, "    power: {amdPstate: active}\n    kernelArgs: [amd_pstate=passive, intel_iommu=on]\n",
			"amdPstate applies to AMD CPUs|amd_pstate=passive is read only by AuthenticAMD"},
	} {
		var r *host.Root
		if tc.amd {
			r = amdRoot(t)
		} else {
			r, _ = newRoot(t, "topo-2node-32cpu-smt", "boot-debian-grub")
		}
		var got []string
		for _, p := range planSpec(t, r, parse(t, tc.yaml)).Problems {
			if p.Severity == plan.Warning && (strings.Contains(p.Message, "read only by") || strings.Contains(p.Message, "applies to AMD")) {
				got = append(got, p.Message)
			}
		}
		all := strings.Join(got, "\n")
		var want []string
		if tc.want != "" {
			want = strings.Split(tc.want, "|")
		}
		if len(got) != len(want) {
			t.Errorf("%s: warnings %q, want %q", tc.yaml, got, want)
		}
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: warnings %q lack %q", tc.yaml, all, w)
			}
		}
		if tc.amd && len(want) > 0 && !strings.Contains(all, "AMD EPYC 9754") {
			t.Errorf("warning does not name the CPU model: %q", all)
		}
	}
}
