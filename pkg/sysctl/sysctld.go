package sysctl

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/profile"
)

// ConfFile is nettune's persistence file (host path).
const ConfFile = "/etc/sysctl.d/90-nettune.conf"

// Marker starts every file nettune writes under /etc/sysctl.d.
const Marker = "# Managed by nettune."

// confDirs are the sysctl.d directories in the priority systemd-sysctl
// gives files of the same name (first wins).
var confDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// Setting is one key = value line of a sysctl configuration file.
type Setting struct {
	Key   string // canonical name
	Value string // normalized
	File  string // host path
	Line  int
}

// ParseConf reads sysctl.d(5) syntax: "key = value" lines, # and ;
// comments, a leading "-" that ignores errors. Keys are returned in
// canonical form so they compare with resolved names.
func ParseConf(r io.Reader, file string) ([]Setting, error) {
	var out []Setting
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue // systemd-sysctl ignores such lines with a warning
		}
		k = strings.TrimPrefix(strings.TrimSpace(k), "-")
		key, ok := CanonicalKey(k)
		if !ok {
			continue // no parameter has that name; nothing to compare
		}
		out = append(out, Setting{Key: key, Value: Normalize(v), File: file, Line: n})
	}
	return out, sc.Err()
}

// CanonicalKey rewrites a sysctl name in either spelling to the canonical
// one. It reports false for a name no /proc/sys parameter can have: one the
// profile would reject (no separator, an empty or invalid element, "/"), or
// one starting with a second "-" (systemd-sysctl strips only one) or with
// a comment character, which a sysctl.d file could not write back.
func CanonicalKey(k string) (string, bool) {
	if t := strings.TrimSpace(k); t == "" || strings.ContainsRune("-#;", rune(t[0])) || profile.CheckSysctlName(k) != nil {
		return "", false
	}
	// The canonical form is what nettune writes back into a sysctl.d
	// file: it must not start a comment or an ignore-errors prefix either
	// ("/#/0" canonicalises to "#.0").
	c := Canonical(profile.SplitSysctlName(k))
	if c == "" || strings.ContainsRune("-#;", rune(c[0])) {
		return "", false
	}
	return c, true
}

// bootOrder lists the sysctl configuration files in the order they are
// applied at boot and by `sysctl --system` (host paths under root):
// sysctl.d files by name, a name in /etc hiding the same name elsewhere,
// then /etc/sysctl.conf last.
func bootOrder(rootPath func(string) string) []string {
	byName := map[string]string{}
	for _, d := range confDirs {
		entries, err := os.ReadDir(rootPath(d))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".conf") {
				continue
			}
			if _, taken := byName[e.Name()]; !taken {
				byName[e.Name()] = filepath.Join(d, e.Name())
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		out = append(out, byName[n])
	}
	if _, err := os.Stat(rootPath("/etc/sysctl.conf")); err == nil {
		// Debian links /etc/sysctl.d/99-sysctl.conf to it; do not count it twice.
		if l, err := os.Readlink(rootPath("/etc/sysctl.d/99-sysctl.conf")); err != nil || filepath.Clean(filepath.Join("/etc/sysctl.d", l)) != "/etc/sysctl.conf" {
			out = append(out, "/etc/sysctl.conf")
		}
	}
	return out
}

// render writes the persistence file for the given settings, sorted by key.
func render(profileName string, vals map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s Profile %q.\n", Marker, profileName)
	b.WriteString("# Do not edit: 'nettune apply' rewrites this file and 'nettune revert' restores what was here before.\n")
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, vals[k])
	}
	return b.String()
}
