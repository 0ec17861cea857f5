package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/nettune/nettune/pkg/plan"
)

// RightsError lists every right an apply needs and does not have. Nothing
// was changed.
type RightsError struct{ Missing []string }

func (e *RightsError) Error() string {
	s := fmt.Sprintf("%v: nothing was changed; this apply needs %d right(s) it does not have:", ErrPermission, len(e.Missing))
	for _, m := range e.Missing {
		s += "\n  " + m
	}
	return s
}

// Is reports ErrPermission.
func (e *RightsError) Is(target error) bool { return target == ErrPermission }

// Capabilities nettune's changes need when it does not run as root.
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// missingRights checks, before anything is written, every right the changes
// need: write access to each file they write (or to the directory that will
// hold it), to the state directory, and on the live host the capabilities
// of the changes that are not file writes (ethtool ioctls, programs).
func (e *Engine) missingRights(changes []plan.Change) []string {
	r := e.Env.Root
	var out []string
	seen := map[string]bool{}
	check := func(hostPath, what string) {
		if seen[hostPath] {
			return
		}
		seen[hostPath] = true
		if err := writable(r.Path(hostPath)); err != nil {
			out = append(out, fmt.Sprintf("write %s (%s): %v", r.HostPath(r.Path(hostPath)), what, err))
		}
	}
	check("/var/lib/nettune", "nettune's journal")
	needCaps := false
	for _, c := range changes {
		if c.Path != "" && strings.HasPrefix(c.Path, "/") {
			check(c.Path, c.Module+" "+c.Object)
			continue
		}
		needCaps = true
	}
	if r.Live() && needCaps && os.Geteuid() != 0 {
		caps, err := effectiveCaps()
		if err != nil || caps&(1<<capNetAdmin) == 0 || caps&(1<<capSysAdmin) == 0 {
			out = append(out, fmt.Sprintf("CAP_NET_ADMIN and CAP_SYS_ADMIN for NIC and device changes (running as uid %d without them): run as root", os.Geteuid()))
		}
	}
	return out
}

// writable reports whether p can be written, or, when it does not exist,
// whether the nearest existing directory above it can. It asks the kernel
// (access(2) with the effective ids), which also reports read-only mounts
// (EROFS) and immutable files (EPERM).
func writable(p string) error {
	for q := p; ; q = filepath.Dir(q) {
		err := faccess(q, 2)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.ENOENT) || q == filepath.Dir(q) {
			if q != p {
				return fmt.Errorf("%s: %w", q, err)
			}
			return err
		}
	}
}

// faccess is access(2). Not faccessat with AT_EACCESS: Go emulates that
// flag in user space when faccessat2 answers EPERM, which is also what
// faccessat2 answers for an immutable file, and the emulation grants root
// everything. nettune runs with real and effective ids equal.
func faccess(p string, mode uint32) error {
	return syscall.Access(p, mode)
}

func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}
