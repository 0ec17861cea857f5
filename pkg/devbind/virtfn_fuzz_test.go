package devbind

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/profile"
)

// FuzzPredictVF feeds PredictVF whatever sriov_offset and sriov_stride may
// hold and any PF name: it never panics, and what it returns is a PCI
// address in the PF's domain. Seeds are the I350 and 82599 captures
// (pkg/sriov/testdata/i350-sriov.txt) and the guest's igb.
func FuzzPredictVF(f *testing.F) {
	f.Add("0000:03:00.0", "128\n", "4\n", 1)
	f.Add("0000:05:00.0", "128\n", "2\n", 5)
	f.Add("0000:00:04.0", "128\n", "2\n", 1)
	f.Add("0000:ff:1f.7", "65535", "-1", 70000)
	f.Add("zz", "", "x", -1)
	f.Fuzz(func(t *testing.T, pf, offset, stride string, n int) {
		if strings.ContainsAny(pf, "/\x00") || pf == "" || pf == "." || pf == ".." {
			return
		}
		dir := t.TempDir()
		d := filepath.Join(dir, "sys", pciDevices, pf)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return
		}
		os.WriteFile(filepath.Join(d, "sriov_offset"), []byte(offset), 0o644)
		os.WriteFile(filepath.Join(d, "sriov_stride"), []byte(stride), 0o644)
		got, err := PredictVF(&host.Root{Prefix: dir}, pf, n)
		if err != nil {
			return
		}
		if !profile.IsPCIAddress(got) {
			t.Fatalf("PredictVF(%q, %q, %q, %d) = %q, not a PCI address", pf, offset, stride, n, got)
		}
	})
}
