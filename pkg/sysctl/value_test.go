package sysctl

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		name, want, current string
		out, err            string
	}{
		// Numbers in the kernel's form: strtoul base 0, printed in decimal.
		{name: "net.core.somaxconn", want: "0x400", current: "4096\n", out: "1024"},
		{name: "net.core.somaxconn", want: "0X400", current: "4096\n", out: "1024"},
		{name: "net.core.somaxconn", want: "010", current: "4096\n", out: "8"},
		{name: "net.core.somaxconn", want: "+12", current: "4096\n", out: "12"},
		{name: "net.core.somaxconn", want: " 1024\n", current: "4096\n", out: "1024"},
		{name: "kernel.sched_rt_runtime_us", want: "-1", current: "950000\n", out: "-1"},
		{name: "net.core.somaxconn", want: "-0", current: "4096\n", out: "0"},
		// Per field.
		{name: "net.ipv4.tcp_rmem", want: "0x1000 87380\t0x600000", current: "4096\t131072\t6291456\n", out: "4096 87380 6291456"},
		{name: "net.ipv4.ip_local_port_range", want: "1024 65535", current: "32768\t60999\n", out: "1024 65535"},
		{name: "net.ipv4.tcp_rmem", want: "4096", current: "4096\t131072\t6291456\n", err: "net.ipv4.tcp_rmem takes 3 numbers (the kernel reads \"4096 131072 6291456\"); the profile gives \"4096\""},
		// Text stays text, even when it looks like a number.
		{name: "net.ipv4.tcp_congestion_control", want: "bbr", current: "cubic\n", out: "bbr"},
		{name: "kernel.core_pattern", want: "|/usr/lib/systemd/systemd-coredump %P", current: "core\n", out: "|/usr/lib/systemd/systemd-coredump %P"},
		{name: "kernel.watchdog_cpumask", want: "0-1", current: "0\n", out: "0-1"},
		{name: "kernel.watchdog_cpumask", want: "010", current: "0\n", out: "010"},
		{name: "net.core.default_qdisc", want: "fq", current: "\n", out: "fq"},
		// Booleans and fractions are refused for numbers.
		{name: "net.core.somaxconn", want: "true", current: "4096\n", err: "net.core.somaxconn is numeric (the kernel reads \"4096\"): \"true\" is a boolean, write 1 or 0"},
		{name: "net.core.somaxconn", want: "yes", current: "4096\n", err: "\"yes\" is a boolean"},
		{name: "net.core.somaxconn", want: "On", current: "4096\n", err: "\"On\" is a boolean"},
		{name: "net.core.somaxconn", want: "1e3", current: "4096\n", err: "\"1e3\" is not an integer"},
		{name: "net.core.somaxconn", want: "1.5", current: "4096\n", err: "\"1.5\" is not an integer"},
		{name: "net.core.somaxconn", want: "0o17", current: "4096\n", err: "\"0o17\" is not an integer"},
		{name: "net.core.somaxconn", want: "1_000", current: "4096\n", err: "\"1_000\" is not an integer"},
		{name: "net.core.somaxconn", want: "0x", current: "4096\n", err: "\"0x\" is not an integer"},
		{name: "net.core.somaxconn", want: "--1", current: "4096\n", err: "\"--1\" is not an integer"},
		// The kernel's type bounds the value.
		{name: "net.core.somaxconn", want: "2147483647", current: "4096\n", out: "2147483647"},
		{name: "net.core.somaxconn", want: "2147483648", current: "4096\n", err: "net.core.somaxconn is an int: \"2147483648\" is above 2147483647"},
		{name: "net.core.somaxconn", want: "-2147483648", current: "4096\n", out: "-2147483648"},
		{name: "net.core.somaxconn", want: "-2147483649", current: "4096\n", err: "is below -2147483648"},
		{name: "net.ipv4.conf.eth0/100.rp_filter", want: "4294967296", current: "0\n", err: "is an int"},
		{name: "net.ipv4.tcp_notsent_lowat", want: "4294967295", current: "4294967295\n", out: "4294967295"},
		{name: "net.ipv4.tcp_notsent_lowat", want: "4294967296", current: "4294967295\n", err: "is an unsigned int: \"4294967296\" is above 4294967295"},
		{name: "net.ipv4.tcp_mem", want: "-1 2 3", current: "1\t2\t3\n", err: "is negative, which the kernel refuses or ignores"},
		{name: "fs.file-max", want: "18446744073709551615", current: "9223372036854775807\n", out: "18446744073709551615"},
		{name: "net.core.unknown_param", want: "18446744073709551615", current: "1\n", out: "18446744073709551615"},
		{name: "net.core.unknown_param", want: "18446744073709551616", current: "1\n", err: "does not fit the kernel's widest integer type (unsigned long)"},
		{name: "net.core.unknown_param", want: "100000000000000000000000", current: "1\n", err: "does not fit"},
		{name: "net.core.unknown_param", want: "-9223372036854775809", current: "1\n", err: "is below -9223372036854775808"},
	} {
		got, err := Value(profile.SplitSysctlName(tc.name), tc.want, tc.current)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Value(%s, %q, %q) = %q, %v; want error %q", tc.name, tc.want, tc.current, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.out {
			t.Errorf("Value(%s, %q, %q) = %q, %v; want %q", tc.name, tc.want, tc.current, got, err, tc.out)
		}
	}
}

// kernelNumbers is a Writer that stores what a numeric /proc/sys file
// reads back after a write, as the kernel does: parsed with strtoul base 0
// and printed in decimal (a fake root otherwise keeps "0x400" literally,
// which hid the read-back failure).
type kernelNumbers struct{ host.Writer }

func (k kernelNumbers) WriteKernel(path, value string) error {
	fields := strings.Fields(value)
	for i, f := range fields {
		neg, mag, err := kernelInt(f)
		if err != nil {
			return k.Writer.WriteKernel(path, value)
		}
		fields[i] = strconv.FormatUint(mag, 10)
		if neg {
			fields[i] = "-" + fields[i]
		}
	}
	return k.Writer.WriteKernel(path, strings.Join(fields, "\t"))
}

// TestPlanNormalisesNumbers: a number the kernel reads in another form is
// planned in the form it prints, so apply's read-back passes and a second
// plan finds nothing to do; booleans and fractions are plan errors.
func TestPlanNormalisesNumbers(t *testing.T) {
	r := fixtureRoot(t)
	r.W = kernelNumbers{r.W}
	res := planFixture(t, r, map[string]string{
		"net.core.somaxconn": "0x400",
		"net.ipv4.tcp_rmem":  "0x1000 0200000 6291456",
	})
	for _, p := range res.Problems {
		if p.Severity == plan.Error {
			t.Fatalf("plan error: %v", p)
		}
	}
	env := fixture.Env(r)
	for _, it := range res.Items {
		if it.Attribute != attrValue {
			continue
		}
		want := map[string]string{"net.core.somaxconn": "1024", "net.ipv4.tcp_rmem": "4096 65536 6291456"}[it.Object]
		if it.After != want {
			t.Errorf("%s: plans %q, want %q", it.Object, it.After, want)
		}
		if it.Status == plan.Drift {
			if err := (Module{}).Apply(context.Background(), env, it.Change); err != nil {
				t.Errorf("apply %s: %v", it.Object, err)
			}
		}
	}
	res = planFixture(t, r, map[string]string{"net.core.somaxconn": "0x400", "net.ipv4.tcp_rmem": "4096 65536 6291456"})
	for _, it := range res.Items {
		if it.Attribute == attrValue && it.Status != plan.OK {
			t.Errorf("after apply, %s is %s (%q vs %q)", it.Object, it.Status, it.Before, it.After)
		}
	}

	res = planFixture(t, r, map[string]string{
		"net.core.somaxconn":          "true",
		"net.core.netdev_max_backlog": "1e3",
		"net.core.netdev_budget":      "on",
		"net.core.rmem_max":           "4294967296",
	})
	var msgs []string
	for _, p := range res.Problems {
		if p.Severity == plan.Error {
			msgs = append(msgs, p.String())
		}
	}
	all := strings.Join(msgs, "\n")
	for _, frag := range []string{
		"\"true\" is a boolean, write 1 or 0",
		"\"1e3\" is not an integer",
		"\"on\" is a boolean",
		"net.core.rmem_max is an int: \"4294967296\" is above 2147483647",
	} {
		if !strings.Contains(all, frag) {
			t.Errorf("plan errors lack %q; got:\n%s", frag, all)
		}
	}
	for _, it := range res.Items {
		if it.Attribute == attrValue {
			t.Errorf("an invalid value is planned: %s = %q", it.Object, it.After)
		}
	}
}
