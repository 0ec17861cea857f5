package irqaffinity

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
)

// errWriter fails every kernel write with err.
type errWriter struct {
	host.OSWriter
	err error
}

func (w errWriter) WriteKernel(path, value string) error {
	return fmt.Errorf("set %s to %q: write: %w", path, value, w.err)
}

func irqRoot(t *testing.T) *host.Root {
	t.Helper()
	dir := t.TempDir()
	d := filepath.Join(dir, "proc/irq/45")
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "smp_affinity_list"), []byte("0-7\n"), 0o644)
	os.WriteFile(filepath.Join(d, "effective_affinity_list"), []byte("3\n"), 0o444)
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWriteAffinity(t *testing.T) {
	r := irqRoot(t)
	a, err := Read(r, 45)
	if err != nil || a.Raw != "0-7" || a.Effective.String() != "3" {
		t.Fatalf("Read = %+v, %v", a, err)
	}
	if _, err := Write(r, 45, "2"); err != nil {
		t.Fatal(err)
	}
	if a, _ := Read(r, 45); a.Requested.String() != "2" {
		t.Errorf("after write: %+v", a)
	}
	r.W = errWriter{err: syscall.EIO}
	if _, err := Write(r, 45, "4"); !errors.Is(err, ErrManaged) {
		t.Errorf("EIO: %v, want ErrManaged", err)
	}
	r.W = errWriter{err: syscall.EINVAL}
	if _, err := Write(r, 45, "4"); err == nil || errors.Is(err, ErrManaged) {
		t.Errorf("EINVAL: %v, want a plain error", err)
	}
	if _, err := Read(r, 46); err == nil {
		t.Error("missing IRQ read")
	}
}

// TestPrivilegedIRQAffinity moves one of this machine's harmless IRQs (the
// virtio balloon's vectors, never a NIC's or a disk's) to another CPU,
// checks the kernel's read-back, and restores it.
func TestPrivilegedIRQAffinity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write /proc/irq")
	}
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	irqs, err := ReadInterrupts(r)
	if err != nil {
		t.Fatal(err)
	}
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	cpus := cpuset.MustParse(string(online))
	if cpus.Len() < 2 {
		t.Skip("needs two online CPUs")
	}
	harmless := regexp.MustCompile(`^virtio\d+-(inflate|deflate|stats|free_page_vq|reporting_vq)$`)
	irq := -1
	for _, q := range irqs {
		if harmless.MatchString(q.Name()) {
			irq = q.Number
			break
		}
	}
	if irq < 0 {
		t.Skip("no harmless IRQ (virtio balloon) on this machine")
	}
	orig, err := Read(r, irq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := (host.OSWriter{}).WriteKernel(r.Path(ListPath(irq)), orig.Raw); err != nil {
			t.Errorf("restore IRQ %d to %s: %v", irq, orig.Raw, err)
		}
		if a, _ := Read(r, irq); a.Raw != orig.Raw {
			t.Errorf("IRQ %d reads %s after restore, want %s", irq, a.Raw, orig.Raw)
		}
	})
	target := cpus.Max()
	if orig.Effective.Equal(cpuset.Of(target)) {
		target = cpus.List()[0]
	}
	if _, err := Write(r, irq, fmt.Sprint(target)); err != nil {
		if errors.Is(err, ErrManaged) {
			t.Skipf("IRQ %d is managed by the kernel: %v", irq, err)
		}
		t.Fatal(err)
	}
	got, err := Read(r, irq)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Requested.Equal(cpuset.Of(target)) {
		t.Errorf("IRQ %d: requested %s, want %d", irq, got.Requested, target)
	}
	// The effective CPU follows at the IRQ's next interrupt on x86
	// without interrupt remapping: reported, as the module does.
	if got.Pending() {
		t.Logf("IRQ %d: effective CPUs %s, move to %d pending until it fires", irq, got.Effective, target)
	} else if !got.Effective.IsEmpty() && !got.Effective.Equal(cpuset.Of(target)) {
		t.Errorf("IRQ %d: effective %s, want %d", irq, got.Effective, target)
	}
}

func TestManagedFromDebugfs(t *testing.T) {
	r := irqRoot(t)
	if Managed(r, 45) {
		t.Error("IRQ 45 managed without debugfs")
	}
	d := r.Sys("kernel/debug/irq/irqs")
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "45"), []byte("handler:  handle_edge_irq\ndstate:   0x3780c200\n            IRQD_ACTIVATED\n            IRQD_IRQ_STARTED\n            IRQD_AFFINITY_MANAGED\n"), 0o444)
	os.WriteFile(filepath.Join(d, "46"), []byte("handler:  handle_edge_irq\ndstate:   0x10401200\n            IRQD_ACTIVATED\n"), 0o444)
	if !Managed(r, 45) || Managed(r, 46) {
		t.Errorf("Managed(45) = %v, Managed(46) = %v", Managed(r, 45), Managed(r, 46))
	}
}

func TestPending(t *testing.T) {
	for _, tc := range []struct {
		req, eff string
		want     bool
	}{{"2", "2", false}, {"2-3", "3", false}, {"2", "0", true}, {"2", "", false}} {
		a := Affinity{Requested: cpuset.MustParse(tc.req), Effective: cpuset.MustParse(tc.eff)}
		if a.Pending() != tc.want {
			t.Errorf("Pending(%s, %s) = %v", tc.req, tc.eff, !tc.want)
		}
	}
}

// TestReadRequested: effective_affinity_list is read for the IRQs the
// caller asks it for, from their requested CPUs, and only for them; an IRQ
// whose list cannot be read is an error at its index.
func TestReadRequested(t *testing.T) {
	r := irqRoot(t)
	d := filepath.Join(r.Prefix, "proc/irq/46")
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "smp_affinity_list"), []byte("2\n"), 0o644)
	os.WriteFile(filepath.Join(d, "effective_affinity_list"), []byte("2\n"), 0o444)
	var asked []string
	affs, errs := ReadRequested(r, []int{45, 46, 47}, func(i int, req cpuset.Set) bool {
		asked = append(asked, fmt.Sprint(i, ":", req))
		return req.Equal(cpuset.MustParse("0-7"))
	})
	if fmt.Sprint(asked) != "[0:0-7 1:2]" {
		t.Errorf("asked for %v", asked)
	}
	if errs[0] != nil || affs[0].Raw != "0-7" || affs[0].Effective.String() != "3" {
		t.Errorf("IRQ 45: %+v, %v", affs[0], errs[0])
	}
	if errs[1] != nil || affs[1].Requested.String() != "2" || !affs[1].Effective.IsEmpty() {
		t.Errorf("IRQ 46: %+v, %v (effective not asked for)", affs[1], errs[1])
	}
	if errs[2] == nil {
		t.Errorf("IRQ 47 has no files: %+v", affs[2])
	}
}
