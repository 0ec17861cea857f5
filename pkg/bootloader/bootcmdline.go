package bootloader

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

// TuneD's bootloader plugin (profiles cpu-partitioning, realtime,
// network-latency…) does not edit the line nettune edits. On GRUB with BLS
// entries it stores its arguments in the GRUB environment block
// ("grub2-editenv - set tuned_params=..."), keeps them in
// /etc/tuned/bootcmdline (TUNED_BOOT_CMDLINE="...", which
// /etc/grub.d/00_tuned turns into "set tuned_params" in grub.cfg), and adds
// the word $tuned_params to the options line of every non-rescue entry
// (92-tuned.install, also run at each kernel install). GRUB expands the
// variable at boot, so the kernel gets those arguments next to the ones of
// the entry; grubby --remove-args cannot take them out, as the entry holds
// only the variable.
//
// systemd-boot does not expand variables, and 92-tuned.install leaves
// entries alone there (KERNEL_INSTALL_LAYOUT=bls, or entries without GRUB's
// grub_ keys), so on a systemd-boot host $tuned_params never reaches the
// kernel.

const (
	grubenvFile      = "/boot/grub2/grubenv"
	tunedCmdlineFile = "/etc/tuned/bootcmdline"
	// tunedVar is the GRUB variable TuneD's arguments travel in.
	tunedVar = "tuned_params"
	// kerneloptsVar holds an entry's own command line on RHEL 8; grubby
	// edits it together with the entries, so it is not foreign.
	kerneloptsVar = "kernelopts"
)

var entryVarRe = regexp.MustCompile(`^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$`)

// entryVariables returns the GRUB variables the options lines of a BLS
// entry refer to ($name or ${name} as a word), in order, without repeats.
func entryVariables(entry string) []string {
	var out []string
	for _, l := range splitLines(entry) {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "options" {
			continue
		}
		for _, w := range f[1:] {
			if m := entryVarRe.FindStringSubmatch(w); m != nil && !slices.Contains(out, m[1]+m[2]) {
				out = append(out, m[1]+m[2])
			}
		}
	}
	return out
}

// parseBootcmdline returns TUNED_BOOT_CMDLINE from the content of
// /etc/tuned/bootcmdline, a shell file sourced by /etc/grub.d/00_tuned.
func parseBootcmdline(content string) string {
	env := shellEnv{}
	env.source(content)
	return env["TUNED_BOOT_CMDLINE"]
}

// variableConflicts reports owned arguments that the BLS entries take from
// GRUB environment variables rather than from their own options: TuneD's
// $tuned_params, or any other variable but $kernelopts. The line nettune
// edits does not hold them and grubby cannot remove them, so nettune's
// arguments would come next to them on the kernel command line.
//
// grubBLS says that GRUB reads the entries (grubby hosts): TuneD then adds
// $tuned_params to them whenever it applies its profile, so arguments it
// keeps are a warning even while no entry takes them yet.
func variableConflicts(r *host.Root, mod string, names []string, grubBLS bool) []plan.Problem {
	users := map[string][]string{} // variable -> entries that use it
	for _, e := range bootEntries(r) {
		for _, v := range entryVariables(e.content) {
			users[v] = append(users[v], r.HostPath(e.path))
		}
	}
	env := grubenv(r)

	var out []plan.Problem
	var tuned, from []string
	if owned := ParseLine(env[tunedVar]).Owned(names); len(owned) > 0 {
		tuned, from = owned, append(from, grubenvFile)
	}
	if b, err := r.ReadFile(r.Path(tunedCmdlineFile)); err == nil {
		if owned := ParseLine(parseBootcmdline(string(b))).Owned(names); len(owned) > 0 {
			for _, w := range owned {
				if !slices.Contains(tuned, w) {
					tuned = append(tuned, w)
				}
			}
			from = append(from, tunedCmdlineFile)
		}
	}
	remedy := "switch TuneD to a profile without them ('tuned-adm profile NAME') or turn it off ('tuned-adm off'), " +
		"which clears tuned_params; or remove them from TUNED_BOOT_CMDLINE in " + tunedCmdlineFile +
		" and from grubenv ('grub2-editenv - set tuned_params=...'); then let the nettune profile set them"
	switch {
	case len(tuned) == 0:
	case len(users[tunedVar]) > 0:
		out = append(out, plan.Problem{Severity: plan.Error, Module: mod, Object: Object,
			Message: fmt.Sprintf("TuneD puts %s on the kernel command line through $%s (set in %s, used by %s), which the %s module manages; the kernel would see both",
				strings.Join(tuned, " "), tunedVar, strings.Join(from, " and "), strings.Join(users[tunedVar], ", "), mod),
			Remedy: remedy})
	default:
		// No entry takes $tuned_params now, but on GRUB TuneD adds it to
		// the entries each time it applies its profile or a kernel is
		// installed. On systemd-boot it never does.
		if grubBLS {
			out = append(out, plan.Problem{Severity: plan.Warning, Module: mod, Object: Object,
				Message: fmt.Sprintf("TuneD keeps %s for the kernel command line (%s), which the %s module manages; no BLS entry takes $%s now, but TuneD adds it to the entries when it applies its profile or a kernel is installed",
					strings.Join(tuned, " "), strings.Join(from, " and "), mod, tunedVar),
				Remedy: remedy})
		}
	}

	vars := make([]string, 0, len(users))
	for v := range users {
		vars = append(vars, v)
	}
	sort.Strings(vars)
	for _, v := range vars {
		if v == tunedVar || v == kerneloptsVar {
			continue
		}
		owned := ParseLine(env[v]).Owned(names)
		if len(owned) == 0 {
			continue
		}
		out = append(out, plan.Problem{Severity: plan.Error, Module: mod, Object: Object,
			Message: fmt.Sprintf("%s sets $%s to %s, which %s put on the kernel command line and the %s module manages; the kernel would see both",
				grubenvFile, v, strings.Join(owned, " "), strings.Join(users[v], ", "), mod),
			Remedy: fmt.Sprintf("remove them from $%s ('grub2-editenv - set %s=...') or $%s from the entries' options, then let the nettune profile set them", v, v, v)})
	}
	return out
}
