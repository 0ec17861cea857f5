package bootloader

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

// verifyGenerated looks at what the boot loader actually reads (the
// generated grub.cfg, the BLS entries) when the configuration already has
// the arguments, and warns when a regeneration is missing: a reboot would
// not bring them.
func (t Target) verifyGenerated(r *host.Root, q Request) []plan.Problem {
	var stale []string
	var remedy string
	switch t.Kind {
	case GRUB, GRUBDropIn:
		const cfg = "/boot/grub/grub.cfg"
		b, err := os.ReadFile(r.Path(cfg))
		if err != nil {
			return nil
		}
		if args, ok := firstLinuxLine(string(b)); ok && !q.equal(ParseLine(args).Owned(q.Names), q.Args) {
			stale = append(stale, cfg)
		}
		remedy = "run update-grub"
	case Grubby, KernelInstall:
		env := grubenv(r)
		for _, e := range bootEntries(r) {
			if !q.equal(ParseLine(entryOptions(e.content, env)).Owned(q.Names), q.Args) {
				stale = append(stale, r.HostPath(e.path))
			}
		}
		remedy = "run " + map[Kind]string{Grubby: "grubby --update-kernel=ALL --args=...", KernelInstall: "kernel-install add VERSION IMAGE"}[t.Kind]
	}
	if len(stale) == 0 {
		return nil
	}
	return []plan.Problem{{Severity: plan.Warning, Module: q.Module, Object: Object,
		Message: fmt.Sprintf("%s has the arguments but %s does not: the next boot would not get them", t.Path, strings.Join(stale, ", ")),
		Remedy:  remedy + ", or 'nettune apply' again on the live host after 'nettune revert'"}}
}

var linuxLineRe = regexp.MustCompile(`^\s*linux(?:efi|16)?\s+\S+\s*(.*)$`)

// firstLinuxLine returns the arguments of the first "linux" command of a
// grub.cfg: the default entry's kernel command line.
func firstLinuxLine(cfg string) (string, bool) {
	for _, l := range splitLines(cfg) {
		if m := linuxLineRe.FindStringSubmatch(l); m != nil {
			return m[1], true
		}
	}
	return "", false
}

// entryOptions returns the kernel command line of a BLS entry, with GRUB
// environment variables ($kernelopts on RHEL 8) expanded.
func entryOptions(entry string, env map[string]string) string {
	var opts []string
	for _, l := range splitLines(entry) {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "options" {
			continue
		}
		for _, w := range f[1:] {
			if v, ok := strings.CutPrefix(w, "$"); ok {
				w = env[strings.Trim(v, "{}")]
			}
			opts = append(opts, w)
		}
	}
	return strings.Join(opts, " ")
}

// grubenv reads /boot/grub2/grubenv. On EFI hosts it is a symlink into
// the ESP, followed inside the root.
func grubenv(r *host.Root) map[string]string {
	b, err := r.ReadFile(r.Path(grubenvFile))
	if err != nil {
		return map[string]string{}
	}
	return parseGrubenv(string(b))
}

// parseGrubenv parses a GRUB environment block: key=value lines, a
// "# GRUB Environment Block" header and # padding to 1024 bytes.
func parseGrubenv(content string) map[string]string {
	env := map[string]string{}
	for _, l := range splitLines(content) {
		if strings.HasPrefix(l, "#") {
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	return env
}

// Generated compares, for the arguments named names, what the boot
// configuration gives the next boot (the file nettune edits on this host)
// with what the boot loader reads (the generated grub.cfg, the BLS
// entries). It returns the configured arguments and a problem naming the
// generated files that differ: a regeneration is missing and the next
// boot would not get them. Diagnostics use it without a module request.
func Generated(r *host.Root, names []string) (configured []string, stale []plan.Problem, err error) {
	const mod = "diagnose"
	t, err := Detect(r, mod)
	if err != nil {
		return nil, nil, err
	}
	st, err := t.observe(r, mod, names)
	if err != nil {
		return nil, nil, err
	}
	return st.configured, t.verifyGenerated(r, Request{Module: mod, Names: names, Args: st.configured}), nil
}
