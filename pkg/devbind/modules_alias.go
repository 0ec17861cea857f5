package devbind

import (
	"bufio"
	"bytes"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/nettune/nettune/pkg/host"
)

// Alias is one "alias pci:... module" line of modules.alias: a glob over
// device modaliases and the module that handles matching devices.
type Alias struct {
	Pattern string
	Module  string
}

// ParseAliases reads the PCI lines of a modules.alias file. The file has
// some 25,000 lines of which a third are PCI aliases: the others are
// skipped on their first bytes.
func ParseAliases(rd io.Reader) ([]Alias, error) {
	var out []Alias
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if b := bytes.TrimLeftFunc(sc.Bytes(), unicode.IsSpace); !bytes.HasPrefix(b, []byte("alias")) || !bytes.Contains(b, []byte("pci:")) {
			continue
		}
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

// aliasIndex groups aliases by the vendor their pattern names ("pci:v" and
// 8 hex digits without a wildcard): a device's modalias can only match
// those of its own vendor and the few whose vendor field is a pattern.
// MatchModules over every alias of a kernel (8,000 path.Match calls per
// device) was most of 'nettune devices' in a guest.
type aliasIndex struct {
	byVendor map[string][]Alias
	other    []Alias
}

func indexAliases(as []Alias) aliasIndex {
	ix := aliasIndex{byVendor: map[string][]Alias{}}
	for _, a := range as {
		if v, ok := aliasVendor(a.Pattern); ok && !strings.ContainsAny(v, "*?[\\") {
			ix.byVendor[v] = append(ix.byVendor[v], a)
			continue
		}
		ix.other = append(ix.other, a)
	}
	return ix
}

// aliasVendor is the 8-character vendor field of a PCI modalias or alias
// pattern ("pci:v00008086d...").
func aliasVendor(s string) (string, bool) {
	if !strings.HasPrefix(s, "pci:v") || len(s) < 13 {
		return "", false
	}
	return s[5:13], true
}

// match is MatchModules over the aliases that can match modalias.
func (ix aliasIndex) match(modalias string) []string {
	v, ok := aliasVendor(modalias)
	if !ok || strings.ContainsAny(v, "*?[\\") {
		return MatchModules(append(ix.all(), ix.other...), modalias)
	}
	return MatchModules(append(append([]Alias(nil), ix.byVendor[v]...), ix.other...), modalias)
}

func (ix aliasIndex) all() []Alias {
	var out []Alias
	for _, as := range ix.byVendor {
		out = append(out, as...)
	}
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
	Aliases   aliasIndex
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
	// Each file is read whole (one read of its size: over 9p or NFS a
	// bufio.Scanner's 4 KiB reads are as many round trips).
	if b, err := r.ReadFile(filepath.Join(dir, "modules.alias")); err == nil {
		as, _ := ParseAliases(bytes.NewReader(b))
		km.Aliases = indexAliases(as)
		km.Known = true
	}
	for _, name := range []string{"modules.dep", "modules.builtin"} {
		b, err := r.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		set, _ := ParseModuleList(bytes.NewReader(b))
		for m := range set {
			km.Available[m] = true
		}
		km.Known = true
	}
	return km
}
