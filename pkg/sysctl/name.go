// Package sysctl is the nettune module behind spec.sysctl: kernel
// parameters under /proc/sys, set live with read-back verification and
// persisted in /etc/sysctl.d/90-nettune.conf, with a warning when another
// sysctl.d file disagrees.
package sysctl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/profile"
)

// Name is a resolved sysctl: its elements and its file.
type Name struct {
	// Elements are the directory and file names under /proc/sys.
	Elements []string
	// Path is the file under the root.
	Path string
}

// String is the canonical sysctl.d spelling: elements joined by dots, a dot
// inside an element written as a slash (net.ipv4.conf.eth0/100.rp_filter).
func (n Name) String() string { return Canonical(n.Elements) }

// Canonical joins sysctl elements the way sysctl(8) and sysctl.d(5) read
// them back unambiguously.
func Canonical(els []string) string {
	parts := make([]string, len(els))
	for i, e := range els {
		parts[i] = strings.ReplaceAll(e, ".", "/")
	}
	return strings.Join(parts, ".")
}

// Resolve finds the /proc/sys file for a sysctl name under the root. Names
// follow sysctl(8): dots or slashes as separators. A dotted name whose
// elements contain dots (a VLAN interface, eth0.100) is also found by
// trying the groupings that exist, so net.ipv4.conf.eth0.100.rp_filter
// works as well as net.ipv4.conf.eth0/100.rp_filter.
func Resolve(r *host.Root, name string) (Name, error) {
	if err := profile.CheckSysctlName(name); err != nil {
		return Name{}, err
	}
	els := profile.SplitSysctlName(name)
	base := r.Proc("sys")
	p := filepath.Join(append([]string{base}, els...)...)
	if st, err := os.Stat(p); err == nil {
		if st.IsDir() {
			return Name{}, fmt.Errorf("sysctl %s is a directory, not a parameter", name)
		}
		return Name{Elements: els, Path: p}, nil
	}
	if i := strings.IndexAny(name, "./"); i >= 0 && name[i] == '.' {
		if found := regroup(base, els); found != nil {
			return Name{Elements: found, Path: filepath.Join(append([]string{base}, found...)...)}, nil
		}
	}
	return Name{}, unknown(base, name, els)
}

// regroup searches the groupings of els (adjacent elements joined by dots)
// that name an existing file under dir.
func regroup(dir string, els []string) []string {
	if len(els) == 0 {
		return nil
	}
	for j := len(els); j >= 1; j-- {
		elem := strings.Join(els[:j], ".")
		p := filepath.Join(dir, elem)
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if j == len(els) {
			if !st.IsDir() {
				return []string{elem}
			}
			continue
		}
		if !st.IsDir() {
			continue
		}
		if rest := regroup(p, els[j:]); rest != nil {
			return append([]string{elem}, rest...)
		}
	}
	return nil
}

// unknown builds the error for a name that does not exist, naming the
// closest existing parameter in the deepest directory that exists.
func unknown(base, name string, els []string) error {
	dir := base
	depth := 0
	for _, e := range els[:len(els)-1] {
		next := filepath.Join(dir, e)
		if st, err := os.Stat(next); err != nil || !st.IsDir() {
			break
		}
		dir = next
		depth++
	}
	msg := fmt.Sprintf("unknown sysctl %s: no such parameter in the running kernel", name)
	if entries, err := os.ReadDir(dir); err == nil && depth < len(els) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if s := profile.Suggest(els[depth], names); s != "" {
			guess := append(append([]string{}, els[:depth]...), s)
			msg += fmt.Sprintf("; did you mean %s?", Canonical(guess))
		}
	}
	return fmt.Errorf("%s", msg)
}

// Normalize makes two sysctl values comparable: the kernel prints
// multi-value parameters (tcp_rmem) with tabs, profiles use spaces.
func Normalize(v string) string { return strings.Join(strings.Fields(v), " ") }
