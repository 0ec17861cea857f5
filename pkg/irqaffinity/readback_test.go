package irqaffinity

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
)

// TestWriteReadsBack: smp_affinity_list is read back after the write, and
// compared as a CPU set. The fixture answers like the kernel: the write
// succeeds, and what reads back is the kernel's normalised form, a value
// it clamped, or the old value of an IRQ that does not move.
func TestWriteReadsBack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		keep  func(old, value string) string
		// want is the requested set the kernel reports; "" means the
		// write must fail with ErrVerify.
		want string
	}{
		{"normalised", "3,1,2", func(_, v string) string { return cpuset.MustParse(v).String() }, "1-3"},
		{"refused silently", "2", func(old, _ string) string { return old }, ""},
		{"clamped to online CPUs", "4-11", func(string, string) string { return "4-7" }, ""},
		{"reset to all CPUs", "2", func(string, string) string { return "0-7" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := irqRoot(t)
			kw := &fixture.ClampingWriter{W: r.W, Keep: func(path, old, value string) string {
				if strings.HasSuffix(path, "/smp_affinity_list") {
					return tc.keep(old, value)
				}
				return value
			}}
			r.W = kw
			a, err := Write(r, 45, tc.value)
			if tc.want == "" {
				if !errors.Is(err, ErrVerify) {
					t.Fatalf("Write(%q) with the kernel keeping %v: %v, want ErrVerify", tc.value, kw.Kept, err)
				}
				if !strings.Contains(err.Error(), tc.value) {
					t.Errorf("error does not name the value asked for: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Requested.String() != tc.want {
				t.Errorf("Write returned requested %s, want %s", a.Requested, tc.want)
			}
		})
	}
}

// managedKernel answers like the kernel for a managed IRQ: the write to
// its smp_affinity_list fails with EIO and changes nothing.
type managedKernel struct {
	host.Writer
	irq int
}

func (m managedKernel) WriteKernel(path, value string) error {
	if strings.HasSuffix(path, fmt.Sprintf("/proc/irq/%d/smp_affinity_list", m.irq)) {
		return fmt.Errorf("set %s to %q: write: %w", path, value, syscall.EIO)
	}
	return m.Writer.WriteKernel(path, value)
}

// TestManagedIRQUnsupported: a managed IRQ's EIO is not an applied
// affinity: Write fails with ErrManaged, which is an unsupported change
// (module.ErrUnsupported) and not a read-back failure, and the IRQ keeps
// its affinity.
func TestManagedIRQUnsupported(t *testing.T) {
	r := irqRoot(t)
	r.W = managedKernel{r.W, 45}
	a, err := Write(r, 45, "2")
	if !errors.Is(err, ErrManaged) || !errors.Is(err, module.ErrUnsupported) || errors.Is(err, ErrVerify) {
		t.Fatalf("Write to a managed IRQ: %v, want ErrManaged and module.ErrUnsupported", err)
	}
	if !a.Requested.IsEmpty() {
		t.Errorf("Write to a managed IRQ returned an affinity: %+v", a)
	}
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "IRQ 45") {
		t.Errorf("error does not carry the IRQ and the errno: %v", err)
	}
	if b, _ := os.ReadFile(r.Path(ListPath(45))); string(b) != "0-7\n" {
		t.Errorf("smp_affinity_list is %q after the refused write", b)
	}
}
