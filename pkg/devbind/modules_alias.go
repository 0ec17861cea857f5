package devbind

import (
	"bufio"
	"bytes"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
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
		if a, ok := parseAliasLine(sc.Bytes()); ok {
			out = append(out, a)
		}
	}
	return out, sc.Err()
}

// parseAliasLine reads one line of modules.alias: a PCI alias, or false.
func parseAliasLine(line []byte) (Alias, bool) {
	if b := bytes.TrimLeftFunc(line, unicode.IsSpace); !bytes.HasPrefix(b, []byte("alias")) || !bytes.Contains(b, []byte("pci:")) {
		return Alias{}, false
	}
	f := strings.Fields(string(line))
	if len(f) != 3 || f[0] != "alias" || !strings.HasPrefix(f[1], "pci:") {
		return Alias{}, false
	}
	return Alias{Pattern: f[1], Module: f[2]}, true
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

// aliasVendor is the 8-character vendor field of a PCI modalias or alias
// pattern ("pci:v00008086d...").
func aliasVendor(s string) (string, bool) {
	if !strings.HasPrefix(s, "pci:v") || len(s) < 13 {
		return "", false
	}
	return s[5:13], true
}

// ParseModuleList reads module names from modules.dep ("kernel/.../x.ko.xz:
// deps") or modules.builtin ("kernel/.../x.ko") into a set keyed by the
// canonical module name (dashes as underscores).
func ParseModuleList(rd io.Reader) (map[string]bool, error) {
	out := map[string]bool{}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if name, ok := moduleOfLine(sc.Text()); ok {
			out[name] = true
		}
	}
	return out, sc.Err()
}

// moduleOfLine is the module a line of modules.dep or modules.builtin
// names, in canonical spelling.
func moduleOfLine(line string) (string, bool) {
	file, _, _ := strings.Cut(line, ":")
	file = strings.TrimSpace(file)
	if file == "" {
		return "", false
	}
	base := filepath.Base(file)
	i := strings.Index(base, ".ko")
	if i <= 0 {
		return "", false
	}
	return ModuleName(base[:i]), true
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
//
// The files are kept as read and looked at only for what is asked (the
// vendors of the devices there are, two or three module names): parsing
// all of modules.alias and modules.dep was most of 'nettune devices' in a
// nested guest, where each parsed line costs twenty times what it costs on
// hardware.
type kernelModules struct {
	Known   bool
	Aliases *lazyAliases
	lists   [][]byte // modules.dep and modules.builtin, '-' read as '_'
	raw     [][]byte // the same, as read

	mu    sync.Mutex
	known map[string]bool // Available's answers: asked once per device
}

// Available reports whether a module of that name is listed.
func (km *kernelModules) Available(name string) bool {
	want := ModuleName(name)
	km.mu.Lock()
	defer km.mu.Unlock()
	if v, ok := km.known[want]; ok {
		return v
	}
	v := km.find(want)
	if km.known == nil {
		km.known = map[string]bool{}
	}
	km.known[want] = v
	return v
}

// find searches the lists for a module of canonical name want.
func (km *kernelModules) find(want string) bool {
	needle := []byte(want + ".ko")
	found := false
	for i, norm := range km.lists {
		eachLineWith(norm, needle, func(_ int, sp span) bool {
			line := strings.TrimSuffix(string(km.raw[i][sp.start:sp.end]), "\r")
			m, ok := moduleOfLine(line)
			found = ok && m == want
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// readKernelModules reads modules.alias, modules.dep and modules.builtin of
// the root's running kernel (/proc/sys/kernel/osrelease).
func readKernelModules(r *host.Root) *kernelModules {
	km := &kernelModules{Aliases: newLazyAliases(nil)}
	rel, err := r.ReadString(r.Proc("sys/kernel/osrelease"))
	if err != nil || strings.TrimSpace(rel) == "" {
		return km
	}
	dir := r.Path(filepath.Join("/lib/modules", strings.TrimSpace(rel)))
	// Each file is read whole (one read of its size: over 9p or NFS a
	// bufio.Scanner's 4 KiB reads are as many round trips).
	if b, err := r.ReadFile(filepath.Join(dir, "modules.alias")); err == nil {
		km.Aliases = newLazyAliases(b)
		km.Known = true
	}
	for _, name := range []string{"modules.dep", "modules.builtin"} {
		b, err := r.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		km.raw = append(km.raw, b)
		km.lists = append(km.lists, bytes.ReplaceAll(b, []byte("-"), []byte("_")))
		km.Known = true
	}
	return km
}
