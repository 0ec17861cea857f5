package devbind

import (
	"strings"
	"testing"
)

// FuzzParseModuleList: every module name read from a modules.dep or
// modules.builtin file is a non-empty canonical name (no dash, no path,
// no ".ko"), and a module path written the way depmod writes it is read
// as that module.
func FuzzParseModuleList(f *testing.F) {
	f.Add("kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/vfio.ko.xz\nkernel/drivers/uio/uio_pci_generic.ko\n", "mlx5_core")
	f.Add(".ko\n/.ko:\n x.ko.zst \na/b\n", "i40e-x")
	f.Fuzz(func(t *testing.T, in, name string) {
		got, err := ParseModuleList(strings.NewReader(in))
		if err != nil {
			return
		}
		for m := range got {
			if m == "" || m != ModuleName(m) || strings.ContainsAny(m, "/:\n") || strings.Contains(m, ".ko") {
				t.Fatalf("%q: bad module name %q", in, m)
			}
		}
		if name == "" || strings.ContainsAny(name, "/:\r\n") || strings.Contains(name, ".ko") {
			return
		}
		line := "kernel/drivers/net/" + name + ".ko.xz: kernel/lib/x.ko\n"
		one, err := ParseModuleList(strings.NewReader(line))
		if err != nil || len(one) != 1 || !one[ModuleName(name)] {
			t.Fatalf("%q read as %v, %v; want %s", line, one, err, ModuleName(name))
		}
	})
}
