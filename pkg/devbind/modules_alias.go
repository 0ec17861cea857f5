package devbind

import (
	"bufio"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/host"
)

// Alias is one "alias pci:... module" line of modules.alias: a glob over
// device modaliases and the module that handles matching devices.
type Alias struct {
	Pattern string
	Module  string
}

// ParseAliases reads the PCI lines of a modules.alias file.
func ParseAliases(rd io.Reader) ([]Alias, error) {
	var out []Alias
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "alias" || !strings.HasPrefix(f[1], "pci:") {
			continue
		}
		out = append(out, Alias{Pattern: f[1], Module: f[2]})
	}
	return out, sc.Err()
}

// MatchModules returns the modules whose aliases match a device's modalias
// (pci:v00008086d000010FBsv...), sorted and without duplicates.
func MatchModules(aliases []Alias, modalias string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range aliases {
		if ok, err := path.Match(a.Pattern, modalias); err != nil || !ok {
			continue
		}
		if !seen[a.Module] {
			seen[a.Module] = true
			out = append(out, a.Module)
		}
	}
	sort.Strings(out)
	return out
}

// ParseModuleList reads module names from modules.dep ("kernel/.../x.ko.xz:
// deps") or modules.builtin ("kernel/.../x.ko") into a set keyed by the
// canonical module name (dashes as underscores).
func ParseModuleList(rd io.Reader) (map[string]bool, error) {
	out := map[string]bool{}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		file, _, _ := strings.Cut(sc.Text(), ":")
		file = strings.TrimSpace(file)
		if file == "" {
			continue
		}
		base := filepath.Base(file)
		i := strings.Index(base, ".ko")
		if i <= 0 {
			continue
		}
		out[ModuleName(base[:i])] = true
	}
	return out, sc.Err()
}

// ModuleName is the canonical spelling of a module name: modprobe treats
// dashes and underscores alike, the kernel lists modules with underscores.
func ModuleName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// SameDriver reports whether two driver or module names are the same
// modulo the dash/underscore spelling (vfio-pci is module vfio_pci).
func SameDriver(a, b string) bool { return ModuleName(a) == ModuleName(b) }

// kernelModules is what /lib/modules/<release> says about the running
// kernel's modules. Known is false when the directory is missing (a kernel
// without modules, or a snapshot without them): nettune then only knows the
// drivers that are loaded.
type kernelModules struct {
	Known     bool
	Aliases   []Alias
	Available map[string]bool
}

// readKernelModules reads modules.alias, modules.dep and modules.builtin of
// the root's running kernel (/proc/sys/kernel/osrelease).
func readKernelModules(r *host.Root) kernelModules {
	km := kernelModules{Available: map[string]bool{}}
	rel, err := r.ReadString(r.Proc("sys/kernel/osrelease"))
	if err != nil || strings.TrimSpace(rel) == "" {
		return km
	}
	dir := r.Path(filepath.Join("/lib/modules", strings.TrimSpace(rel)))
	if f, err := os.Open(filepath.Join(dir, "modules.alias")); err == nil {
		km.Aliases, _ = ParseAliases(f)
		f.Close()
		km.Known = true
	}
	for _, name := range []string{"modules.dep", "modules.builtin"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		set, _ := ParseModuleList(f)
		f.Close()
		for m := range set {
			km.Available[m] = true
		}
		km.Known = true
	}
	return km
}
