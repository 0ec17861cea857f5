package irqaffinity

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
)

// irqbalance's environment files, read by its systemd unit
// (EnvironmentFile=) on Debian/Ubuntu and on Red Hat/SUSE.
const (
	DebianConf = "/etc/default/irqbalance"
	RedHatConf = "/etc/sysconfig/irqbalance"
	// Unit is irqbalance's systemd service.
	Unit = "irqbalance.service"
)

// The block nettune owns in the environment file. It comes last, so its
// assignments win over earlier ones.
const (
	BlockBegin = "# BEGIN nettune: managed by nettune; 'nettune revert' removes this block"
	BlockEnd   = "# END nettune"
)

// unitFiles are where a distribution installs irqbalance's unit.
var unitFiles = []string{
	"/etc/systemd/system/irqbalance.service",
	"/usr/lib/systemd/system/irqbalance.service",
	"/lib/systemd/system/irqbalance.service",
}

// ConfigPath returns the irqbalance environment file of the root's
// distribution: the one that exists, else the one its /etc/os-release
// family uses.
func ConfigPath(r *host.Root) string {
	for _, p := range []string{DebianConf, RedHatConf} {
		if r.Exists(r.Path(p)) {
			return p
		}
	}
	b, _ := os.ReadFile(r.Etc("os-release"))
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || (k != "ID" && k != "ID_LIKE") {
			continue
		}
		for _, id := range strings.Fields(strings.Trim(v, `"'`)) {
			switch id {
			case "rhel", "fedora", "centos", "suse", "opensuse", "sles":
				return RedHatConf
			}
		}
	}
	return DebianConf
}

// Installed reports whether irqbalance's unit or environment file exists
// under the root.
func Installed(r *host.Root) bool {
	for _, p := range append([]string{DebianConf, RedHatConf}, unitFiles...) {
		if r.Exists(r.Path(p)) {
			return true
		}
	}
	return false
}

// Assignments returns the variables an environment file sets outside
// nettune's block (the last assignment of each wins), unquoted.
func Assignments(content string) map[string]string {
	out := map[string]string{}
	inBlock := false
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == BlockBegin:
			inBlock = true
			continue
		case line == BlockEnd:
			inBlock = false
			continue
		}
		if inBlock || line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(strings.TrimPrefix(k, "export "))
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	return out
}

// WithoutBlock returns content without nettune's block.
func WithoutBlock(content string) string {
	var b strings.Builder
	inBlock := false
	for _, line := range strings.SplitAfter(content, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == BlockBegin:
			inBlock = true
			continue
		case inBlock && t == BlockEnd:
			inBlock = false
			continue
		case inBlock:
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// WithBan returns content with nettune's block set to ban cpus
// (IRQBALANCE_BANNED_CPULIST) and irqs (--banirq, so irqbalance does not
// move the IRQs nettune pins). An IRQBALANCE_ARGS set earlier in the file
// is carried into the block's, which replaces it.
func WithBan(content string, cpus cpuset.Set, irqs []int) string {
	base := WithoutBlock(content)
	if base != "" && !strings.HasSuffix(base, "\n") {
		base += "\n"
	}
	var b strings.Builder
	b.WriteString(base)
	b.WriteString(BlockBegin + "\n")
	if !cpus.IsEmpty() {
		b.WriteString("IRQBALANCE_BANNED_CPULIST=" + cpus.String() + "\n")
	}
	var args []string
	if prev := Assignments(base)["IRQBALANCE_ARGS"]; prev != "" {
		args = append(args, prev)
	}
	for _, n := range irqs {
		args = append(args, "--banirq="+strconv.Itoa(n))
	}
	if len(args) > 0 {
		b.WriteString(`IRQBALANCE_ARGS="` + strings.Join(args, " ") + "\"\n")
	}
	b.WriteString(BlockEnd + "\n")
	return b.String()
}

// BannedCPUs is the CPU list an environment file bans, block included.
func BannedCPUs(content string) cpuset.Set {
	v := ""
	for _, line := range strings.Split(content, "\n") {
		line = strings.TrimSpace(line)
		if s, ok := strings.CutPrefix(line, "IRQBALANCE_BANNED_CPULIST="); ok {
			v = strings.Trim(s, `"'`)
		}
	}
	s, _ := cpuset.Parse(v)
	return s
}

// BannedIRQs are the IRQs an environment file's --banirq options name,
// block included.
func BannedIRQs(content string) map[int]bool {
	out := map[int]bool{}
	for _, line := range strings.Split(content, "\n") {
		line = strings.TrimSpace(line)
		s, ok := strings.CutPrefix(line, "IRQBALANCE_ARGS=")
		if !ok {
			continue
		}
		out = map[int]bool{}
		f := strings.Fields(strings.Trim(s, `"'`))
		for i := 0; i < len(f); i++ {
			v, ok := strings.CutPrefix(f[i], "--banirq=")
			if !ok && (f[i] == "--banirq" || f[i] == "-i") && i+1 < len(f) {
				v, ok = f[i+1], true
				i++
			}
			if n, err := strconv.Atoi(v); ok && err == nil {
				out[n] = true
			}
		}
	}
	return out
}

// ServiceState is what systemd says about irqbalance.
type ServiceState struct {
	Active  bool
	Enabled bool
}

func (s ServiceState) String() string {
	a, e := "inactive", "disabled"
	if s.Active {
		a = "active"
	}
	if s.Enabled {
		e = "enabled"
	}
	return e + "," + a
}

// ParseServiceState reads ServiceState.String's spelling.
func ParseServiceState(s string) (ServiceState, error) {
	e, a, ok := strings.Cut(s, ",")
	if !ok || (e != "enabled" && e != "disabled") || (a != "active" && a != "inactive") {
		return ServiceState{}, fmt.Errorf("service state %q is not enabled|disabled,active|inactive", s)
	}
	return ServiceState{Active: a == "active", Enabled: e == "enabled"}, nil
}

// Service asks systemctl about irqbalance. On an offline root the error
// wraps host.ErrOffline.
func Service(ctx context.Context, r *host.Root) (ServiceState, error) {
	var st ServiceState
	out, err := r.Exec.Run(ctx, "systemctl", "is-active", Unit)
	if errors.Is(err, host.ErrOffline) {
		return st, err
	}
	word := strings.TrimSpace(string(out))
	if word == "" && err != nil {
		return st, err
	}
	st.Active = word == "active" || word == "activating" || word == "reloading"
	out, err = r.Exec.Run(ctx, "systemctl", "is-enabled", Unit)
	word = strings.TrimSpace(string(out))
	if word == "" && err != nil && !errors.Is(err, host.ErrOffline) {
		// An unknown unit: systemctl prints nothing on stdout.
		return st, nil
	}
	st.Enabled = word == "enabled" || word == "enabled-runtime"
	return st, nil
}

// SetService brings irqbalance to st (start/stop, enable/disable).
func SetService(ctx context.Context, r *host.Root, st ServiceState) error {
	cur, err := Service(ctx, r)
	if err != nil {
		return err
	}
	if cur.Enabled != st.Enabled {
		verb := "disable"
		if st.Enabled {
			verb = "enable"
		}
		if _, err := r.Exec.Run(ctx, "systemctl", verb, Unit); err != nil {
			return err
		}
	}
	if cur.Active != st.Active {
		verb := "stop"
		if st.Active {
			verb = "start"
		}
		if _, err := r.Exec.Run(ctx, "systemctl", verb, Unit); err != nil {
			return err
		}
	}
	got, err := Service(ctx, r)
	if err != nil {
		return err
	}
	if got != st {
		return fmt.Errorf("irqbalance is %s after setting it %s: %w", got, st, ErrVerify)
	}
	return nil
}

// Restart restarts irqbalance if it runs, so that it reads its
// configuration again. On an offline root, where no program runs, it does
// nothing.
func Restart(ctx context.Context, r *host.Root) error {
	st, err := Service(ctx, r)
	if errors.Is(err, host.ErrOffline) {
		return nil
	}
	if err != nil || !st.Active {
		return err
	}
	_, err = r.Exec.Run(ctx, "systemctl", "try-restart", Unit)
	return err
}
