package sysctl

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/profile"
)

// intKind is the C type behind a numeric sysctl, which bounds what the
// kernel takes.
type intKind int

const (
	kindUnknown intKind = iota // bounded by unsigned long and long
	kindInt                    // proc_dointvec*: int
	kindUint                   // proc_douintvec*: unsigned int
	kindUlong                  // proc_doulongvec*: unsigned long; negative numbers are skipped
	kindText                   // text, even when it looks like a number (a CPU list "2", a mask "00")
)

// kinds are the types of common parameters, by canonical name ("*" stands
// for any one element, an interface name). Parameters not listed are
// bounded by the widest types.
var kinds = map[string]intKind{
	"net.core.somaxconn":              kindInt,
	"net.core.netdev_max_backlog":     kindInt,
	"net.core.netdev_budget":          kindInt,
	"net.core.netdev_budget_usecs":    kindInt,
	"net.core.dev_weight":             kindInt,
	"net.core.rmem_default":           kindInt,
	"net.core.rmem_max":               kindInt,
	"net.core.wmem_default":           kindInt,
	"net.core.wmem_max":               kindInt,
	"net.core.optmem_max":             kindInt,
	"net.core.busy_poll":              kindInt,
	"net.core.busy_read":              kindInt,
	"net.core.rps_sock_flow_entries":  kindInt,
	"net.ipv4.tcp_rmem":               kindInt,
	"net.ipv4.tcp_wmem":               kindInt,
	"net.ipv4.ip_local_port_range":    kindInt,
	"net.ipv4.tcp_max_syn_backlog":    kindInt,
	"net.ipv4.tcp_limit_output_bytes": kindInt,
	"net.ipv4.tcp_notsent_lowat":      kindUint,
	"net.ipv4.tcp_mem":                kindUlong,
	"net.ipv4.udp_mem":                kindUlong,
	"net.ipv4.conf.*.rp_filter":       kindInt,
	"net.ipv4.conf.*.forwarding":      kindInt,
	"net.netfilter.nf_conntrack_max":  kindInt,
	"vm.swappiness":                   kindInt,
	"vm.stat_interval":                kindInt,
	"vm.dirty_ratio":                  kindInt,
	"vm.dirty_background_ratio":       kindInt,
	"vm.max_map_count":                kindInt,
	"vm.min_free_kbytes":              kindInt,
	"vm.overcommit_memory":            kindInt,
	"vm.overcommit_ratio":             kindInt,
	"vm.dirty_bytes":                  kindUlong,
	"vm.dirty_background_bytes":       kindUlong,
	"vm.nr_hugepages":                 kindUlong,
	"kernel.sched_rt_runtime_us":      kindInt,
	"kernel.pid_max":                  kindInt,
	"kernel.threads-max":              kindInt,
	"kernel.shmmax":                   kindUlong,
	"kernel.shmall":                   kindUlong,
	"fs.file-max":                     kindUlong,
	"fs.aio-max-nr":                   kindUlong,

	"kernel.watchdog_cpumask":                 kindText,
	"kernel.core_pattern":                     kindText,
	"kernel.hostname":                         kindText,
	"kernel.domainname":                       kindText,
	"net.core.default_qdisc":                  kindText,
	"net.core.rps_default_mask":               kindText,
	"net.ipv4.tcp_congestion_control":         kindText,
	"net.ipv4.tcp_allowed_congestion_control": kindText,
}

// kindOf looks a parameter up in kinds.
func kindOf(els []string) intKind {
	if k, ok := kinds[Canonical(els)]; ok {
		return k
	}
	for i := range els {
		wild := append(append(append([]string{}, els[:i]...), "*"), els[i+1:]...)
		if k, ok := kinds[Canonical(wild)]; ok {
			return k
		}
	}
	return kindUnknown
}

// bounds returns the range of a kind: negative numbers as a magnitude.
func (k intKind) bounds() (maxNeg, maxPos uint64, typ string) {
	switch k {
	case kindInt:
		return 1 << 31, math.MaxInt32, "int"
	case kindUint:
		return 0, math.MaxUint32, "unsigned int"
	case kindUlong:
		return 0, math.MaxUint64, "unsigned long"
	}
	return 1 << 63, math.MaxUint64, "unsigned long"
}

// Value returns the value to write for the parameter name (its elements)
// when the profile asks for want and the kernel reads current.
//
// A parameter whose current value is all integers is numeric: each field
// of want must then be an integer the kernel takes, in any form the kernel
// reads (decimal, 0x hex, 0 octal: proc_get_long's strtoul with base 0),
// within the parameter's type where it is known (int, unsigned int,
// unsigned long), else within unsigned long; it is returned in decimal,
// the form the kernel prints, so that plan, apply's read-back and check
// compare like with like. Booleans (true, yes, on...) and fractions are
// refused, as is a count of fields other than the kernel's. Any other
// parameter (tcp_congestion_control, core_pattern) is text and is returned
// as written, with its whitespace collapsed.
func Value(els []string, want, current string) (string, error) {
	want = Normalize(want)
	cur := strings.Fields(current)
	kind := kindOf(els)
	if len(cur) == 0 || kind == kindText {
		return want, nil
	}
	for _, f := range cur {
		if _, _, err := kernelInt(f); err != nil {
			return want, nil // a text parameter
		}
	}
	name := Canonical(els)
	fields := strings.Fields(want)
	if len(fields) != len(cur) {
		return "", fmt.Errorf("%s takes %s (the kernel reads %q); the profile gives %q", name, count(len(cur)), Normalize(current), want)
	}
	maxNeg, maxPos, typ := kind.bounds()
	out := make([]string, len(fields))
	for i, f := range fields {
		if profile.IsBoolWord(f) {
			return "", fmt.Errorf("%s is numeric (the kernel reads %q): %q is a boolean, write 1 or 0", name, Normalize(current), f)
		}
		neg, mag, err := kernelInt(f)
		if err != nil {
			return "", fmt.Errorf("%s is numeric (the kernel reads %q): %q %v", name, Normalize(current), f, err)
		}
		switch {
		case neg && mag > maxNeg && maxNeg == 0:
			return "", fmt.Errorf("%s is an %s: %q is negative, which the kernel refuses or ignores", name, typ, f)
		case neg && mag > maxNeg:
			return "", fmt.Errorf("%s is an %s: %q is below -%d", name, typ, f, maxNeg)
		case !neg && mag > maxPos:
			return "", fmt.Errorf("%s is an %s: %q is above %d", name, typ, f, maxPos)
		}
		out[i] = strconv.FormatUint(mag, 10)
		if neg && mag != 0 {
			out[i] = "-" + out[i]
		}
	}
	return strings.Join(out, " "), nil
}

func count(n int) string {
	if n == 1 {
		return "one number"
	}
	return fmt.Sprintf("%d numbers", n)
}

// kernelInt reads an integer the way the kernel's proc_get_long does: an
// optional sign, then strtoul with base 0 (0x or 0X for hex, a leading 0
// for octal, else decimal). It returns the sign and the magnitude, which
// must fit an unsigned long.
func kernelInt(s string) (neg bool, mag uint64, err error) {
	t := s
	if rest, ok := strings.CutPrefix(t, "-"); ok {
		neg, t = true, rest
	} else {
		t = strings.TrimPrefix(t, "+")
	}
	base := 10
	switch {
	case strings.HasPrefix(t, "0x") || strings.HasPrefix(t, "0X"):
		base, t = 16, t[2:]
	case len(t) > 1 && t[0] == '0':
		base, t = 8, t[1:]
	}
	if t == "" || t[0] == '+' || t[0] == '-' {
		return false, 0, fmt.Errorf("is not an integer")
	}
	mag, err = strconv.ParseUint(t, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return false, 0, fmt.Errorf("does not fit the kernel's widest integer type (unsigned long)")
		}
		return false, 0, fmt.Errorf("is not an integer")
	}
	return neg, mag, nil
}
