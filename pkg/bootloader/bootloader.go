// Package bootloader keeps the kernel arguments nettune's modules want for
// the next boot, in whatever boot configuration the host uses: Debian and
// Ubuntu GRUB (/etc/default/grub, or a drop-in under /etc/default/grub.d,
// then update-grub), RHEL-style grubby with BLS entries, and systemd-boot
// or any kernel-install setup (/etc/kernel/cmdline).
//
// Several modules share the command line (spec.cpu isolates CPUs,
// spec.hugepages reserves pages at boot), so each module owns a disjoint
// set of parameter names. A module's change replaces the arguments with its
// names and never touches any other word: foreign arguments keep their
// place and their spacing, and the module's own arguments always come out
// in the module's canonical order, so re-applying produces the same line
// byte for byte. One module change is one file write followed by one
// regeneration of the boot menu through the host's program runner; if the
// regeneration fails, the file is restored.
//
// The file's prior content is kept under nettune's state directory while a
// change is applied, so that revert gives back the exact bytes (quoting and
// spacing included) whenever nothing but the module's own arguments
// changed in between.
package bootloader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
)

// Marker starts every line and file nettune writes into boot configuration.
const Marker = "# Managed by nettune."

// Object is the plan object of every kernel command-line change.
const Object = "kernel-cmdline"

// ErrNoBootloader is returned by Detect when the root has no boot
// configuration nettune can edit.
var ErrNoBootloader = errors.New("no supported boot configuration")

// Kind names how a host's boot configuration is changed. It is the
// attribute of a kernel command-line change.
type Kind string

const (
	// GRUB edits GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then
	// runs update-grub (Debian, Ubuntu without grub.d).
	GRUB Kind = "grub"
	// GRUBDropIn writes /etc/default/grub.d/99-nettune-<module>.cfg, which
	// appends to GRUB_CMDLINE_LINUX_DEFAULT after every other file, then
	// runs update-grub (Debian and Ubuntu with /etc/default/grub.d).
	GRUBDropIn Kind = "grub.d"
	// Grubby edits GRUB_CMDLINE_LINUX in /etc/default/grub for future
	// kernels and runs grubby --update-kernel=ALL for the BLS entries of the
	// installed ones (RHEL, Fedora, CentOS).
	Grubby Kind = "grubby"
	// KernelInstall edits /etc/kernel/cmdline, then runs kernel-install add
	// for every installed kernel (systemd-boot).
	KernelInstall Kind = "kernel-install"
)

// Target is the file one module's arguments are written to.
type Target struct {
	Kind Kind
	// Path is the host path of the file nettune edits.
	Path string
	// Variable is the GRUB variable edited in place (GRUB, Grubby).
	Variable string
}

func targetFor(kind Kind, mod string) Target {
	switch kind {
	case GRUB:
		return Target{Kind: kind, Path: "/etc/default/grub", Variable: VarLinuxDefault}
	case GRUBDropIn:
		return Target{Kind: kind, Path: "/etc/default/grub.d/99-nettune-" + mod + ".cfg"}
	case Grubby:
		return Target{Kind: kind, Path: "/etc/default/grub", Variable: VarLinux}
	case KernelInstall:
		return Target{Kind: kind, Path: "/etc/kernel/cmdline"}
	}
	return Target{}
}

// TargetOf returns the target a journaled change was written to.
func TargetOf(c plan.Change) (Target, error) {
	t := targetFor(Kind(c.Attribute), c.Module)
	if t.Kind == "" {
		return t, fmt.Errorf("unknown boot configuration kind %q in journal", c.Attribute)
	}
	if c.Path != t.Path {
		return t, fmt.Errorf("journal names %s for %s, expected %s", c.Path, c.Attribute, t.Path)
	}
	return t, nil
}

// loaderEntryDirs are where BLS entries live.
var loaderEntryDirs = []string{"/boot/loader/entries", "/efi/loader/entries", "/boot/efi/loader/entries"}

// bootEntry is one BLS entry file: its path under the root and content.
type bootEntry struct {
	path, content string
}

// bootEntries reads the BLS entries a boot may use (rescue entries left
// out), sorted by name within each directory, inside the root.
func bootEntries(r *host.Root) []bootEntry {
	var out []bootEntry
	for _, d := range loaderEntryDirs {
		files, _ := filepath.Glob(r.Path(d) + "/*.conf")
		sort.Strings(files)
		for _, f := range files {
			if strings.Contains(filepath.Base(f), "rescue") {
				continue
			}
			if b, err := r.ReadFile(f); err == nil {
				out = append(out, bootEntry{path: f, content: string(b)})
			}
		}
	}
	return out
}

// Detect finds how the root boots. The order matters: RHEL-like systems
// have /etc/default/grub too, but their entries are BLS files maintained by
// grubby; a systemd-boot host may keep a stale /etc/default/grub.
func Detect(r *host.Root, mod string) (Target, error) {
	grub := isFile(r.Etc("default/grub"))
	bls := isDir(r.Path("/boot/loader/entries"))
	if grub && bls && (rhelLike(r) || isFile(r.Path("/usr/sbin/grubby")) || isFile(r.Path("/sbin/grubby"))) {
		return targetFor(Grubby, mod), nil
	}
	entries := false
	for _, d := range loaderEntryDirs {
		entries = entries || isDir(r.Path(d))
	}
	if isFile(r.Etc("kernel/cmdline")) || (entries && !grub) {
		return targetFor(KernelInstall, mod), nil
	}
	if grub {
		if isDir(r.Etc("default/grub.d")) {
			return targetFor(GRUBDropIn, mod), nil
		}
		return targetFor(GRUB, mod), nil
	}
	return Target{}, fmt.Errorf("%w under %s: looked for /etc/default/grub, BLS entries with grubby, /etc/kernel/cmdline and systemd-boot entries", ErrNoBootloader, r.Prefix)
}

// rhelLike reads /etc/os-release for a Red Hat family distribution.
func rhelLike(r *host.Root) bool {
	b, err := os.ReadFile(r.Etc("os-release"))
	if err != nil {
		return false
	}
	for _, l := range splitLines(string(b)) {
		k, v, ok := strings.Cut(l, "=")
		if !ok || (k != "ID" && k != "ID_LIKE") {
			continue
		}
		for _, id := range strings.Fields(strings.Trim(v, `"'`)) {
			switch id {
			case "rhel", "fedora", "centos":
				return true
			}
		}
	}
	return false
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// Running returns the running kernel's command line (/proc/cmdline).
func Running(r *host.Root) (Line, error) {
	b, err := os.ReadFile(r.Proc("cmdline"))
	if err != nil {
		return Line{}, fmt.Errorf("read /proc/cmdline: %w", err)
	}
	return ParseLine(strings.TrimRight(string(b), "\n")), nil
}

// Request is what one module wants on the kernel command line.
type Request struct {
	Module string
	// Names are the parameter names the module owns, normalized (see
	// NormalizeName). Arguments with these names are replaced by Args;
	// every other argument is left alone.
	Names []string
	// Args are the desired arguments in the module's canonical order.
	Args []string
	// Equal says whether two lists of owned arguments mean the same to the
	// kernel. Nil compares them as multisets of words. A module whose
	// arguments depend on their order (hugepagesz= before hugepages=)
	// supplies its own.
	Equal func(a, b []string) bool
	// Reason explains the change in plans.
	Reason string
}

func (q Request) equal(a, b []string) bool {
	if q.Equal != nil {
		return q.Equal(a, b)
	}
	return SameWords(a, b)
}

// SameWords compares two lists of words as multisets.
func SameWords(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(x, y)
}

// Result is the outcome of planning a request.
type Result struct {
	// Item is the change of the module's arguments, with status ok, drift
	// or pending-reboot. It is nil when the host has no boot configuration
	// nettune can edit (then Problems says why).
	Item     *plan.Item
	Problems []plan.Problem
	// Configured are the owned arguments the next boot gets.
	Configured []string
	// Running are the owned arguments of the running kernel.
	Running []string
	Target  Target
}

// state is what a target file holds for one module.
type state struct {
	exists  bool
	content string
	perm    fs.FileMode
	// base is what the change starts from: the content, or for a missing
	// /etc/kernel/cmdline the line kernel-install would use instead.
	base string
	// before are the owned arguments in the edited place.
	before []string
	// configured are the owned arguments the next boot gets, from every
	// file the boot configuration reads.
	configured []string
	problems   []plan.Problem
}

// Plan compares a request with the boot configuration and the running
// kernel. It never writes.
func Plan(r *host.Root, q Request) (*Result, error) {
	res := &Result{}
	running, err := Running(r)
	if err != nil {
		return nil, err
	}
	res.Running = running.Owned(q.Names)
	t, err := Detect(r, q.Module)
	if errors.Is(err, ErrNoBootloader) {
		p := plan.Problem{Severity: plan.Error, Module: q.Module, Object: Object,
			Message: fmt.Sprintf("cannot persist kernel arguments %q: %v", strings.Join(q.Args, " "), err),
			Remedy:  "add them to the boot configuration by hand (and keep them out of the profile), or remove them from the profile"}
		if q.equal(res.Running, q.Args) {
			p.Severity = plan.Warning
			p.Message += "; the running kernel has them, but nettune cannot check that the next boot will"
		}
		res.Problems = append(res.Problems, p)
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	res.Target = t
	st, err := t.observe(r, q.Module, q.Names)
	if err != nil {
		return nil, err
	}
	res.Problems = append(res.Problems, st.problems...)
	res.Configured = st.configured

	next, remove, rerr := t.render(st.base, st.exists, q.Module, q.Names, q.Args)
	if rerr != nil {
		res.Problems = append(res.Problems, plan.Problem{Severity: plan.Error, Module: q.Module, Object: t.Path,
			Message: rerr.Error(), Remedy: "fix the file by hand so that the value is one quoted string"})
		return res, nil
	}
	item := plan.Item{Change: plan.Change{
		Module: q.Module, Object: Object, Attribute: string(t.Kind), Action: plan.Set,
		Before: strings.Join(st.before, " "), After: strings.Join(q.Args, " "),
		When: plan.Boot, Reason: q.Reason, Path: t.Path,
	}, Status: plan.OK}
	switch {
	case !st.exists:
		item.Action = plan.Create
	case remove:
		item.Action = plan.Delete
	}
	cmds, cerr := t.commands(r, st.before, q.Args)
	if remove || !st.exists || next != st.content {
		item.Command = t.commandText(r, st, next, remove, q.Module, q.Names, q.Args, cmds)
	}

	switch {
	case !q.equal(st.configured, q.Args):
		item.Status = plan.Drift
		if q.equal(res.Running, q.Args) && len(q.Args) > 0 {
			item.Detail = "the running kernel has them but the boot configuration does not: the next boot would lose them"
		}
	case !q.equal(res.Running, q.Args):
		item.Status = plan.PendingReboot
		item.Detail = fmt.Sprintf("configured for the next boot; the running kernel has %s", describe(res.Running))
	}
	res.Item = &item

	if item.Status == plan.Drift {
		res.Problems = append(res.Problems, t.runProblems(r, q.Module, cmds, cerr)...)
	} else {
		res.Problems = append(res.Problems, t.verifyGenerated(r, q)...)
	}
	return res, nil
}

func describe(args []string) string {
	if len(args) == 0 {
		return "none of them (/proc/cmdline)"
	}
	return fmt.Sprintf("%q (/proc/cmdline)", strings.Join(args, " "))
}

// runProblems reports what keeps the regeneration command from running.
func (t Target) runProblems(r *host.Root, mod string, cmds []command, cerr error) []plan.Problem {
	var out []plan.Problem
	if _, offline := r.Exec.(host.OfflineRunner); offline {
		what := "the boot menu is not regenerated"
		if len(cmds) > 0 {
			var names []string
			for _, c := range cmds {
				names = append(names, c.String())
			}
			what = strings.Join(names, " and ") + " will not run"
		}
		return append(out, plan.Problem{Severity: plan.Warning, Module: mod, Object: Object,
			Message: fmt.Sprintf("the root is not the live host: %s; only %s under the root changes", what, t.Path),
			Remedy:  "run the regeneration on the host that boots from this root"})
	}
	if cerr != nil {
		out = append(out, plan.Problem{Severity: plan.Error, Module: mod, Object: Object, Message: cerr.Error(),
			Remedy: "install the boot loader tools, or configure the kernel arguments by hand"})
	}
	if t.Kind == KernelInstall && len(cmds) == 0 {
		out = append(out, plan.Problem{Severity: plan.Warning, Module: mod, Object: Object,
			Message: "no installed kernel found under /usr/lib/modules or /boot: only /etc/kernel/cmdline changes",
			Remedy:  "the next kernel-install picks the arguments up"})
	}
	return out
}

// observe reads what the target holds for a module.
func (t Target) observe(r *host.Root, mod string, names []string) (*state, error) {
	st := &state{perm: 0o644}
	b, err := os.ReadFile(r.Path(t.Path))
	switch {
	case err == nil:
		st.exists, st.content, st.base = true, string(b), string(b)
		if fi, err := os.Stat(r.Path(t.Path)); err == nil {
			st.perm = fi.Mode().Perm()
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("read %s: %w", t.Path, err)
	}
	foreign := func(file string, line int, words []string) {
		st.problems = append(st.problems, plan.Problem{Severity: plan.Error, Module: mod, Object: Object,
			Message: fmt.Sprintf("%s:%d already sets %s, which the %s module manages; the kernel would see both", file, line, strings.Join(words, " "), mod),
			Remedy:  "remove them from that line and let the profile set them"})
	}
	switch t.Kind {
	case GRUB, Grubby:
		lines := splitLines(st.content)
		target := assignments(lines, t.Variable)
		for _, v := range []string{VarLinux, VarLinuxDefault} {
			for i, a := range assignments(lines, v) {
				owned := parseShellLine(a.inner).Owned(names)
				if v == t.Variable && i == len(target)-1 {
					st.before = owned
				} else if len(owned) > 0 {
					foreign(t.Path, a.index+1, owned)
				}
			}
		}
		env := shellEnv{}
		env.source(st.content)
		st.configured = ParseLine(env[VarLinux] + " " + env[VarLinuxDefault]).Owned(names)
	case GRUBDropIn:
		if st.exists {
			args, err := parseDropIn(st.content)
			if err != nil {
				st.problems = append(st.problems, plan.Problem{Severity: plan.Error, Module: mod, Object: t.Path,
					Message: err.Error() + "; refusing to overwrite it", Remedy: "move its settings elsewhere or remove it"})
			}
			st.before = ParseLine(strings.Join(args, " ")).Owned(names)
		}
		env := shellEnv{}
		for _, f := range grubFiles(r) {
			data, err := os.ReadFile(r.Path(f))
			if err != nil {
				continue
			}
			env.source(string(data))
			if f == t.Path {
				continue
			}
			for _, v := range []string{VarLinux, VarLinuxDefault} {
				for _, a := range assignments(splitLines(string(data)), v) {
					if owned := parseShellLine(a.inner).Owned(names); len(owned) > 0 {
						foreign(f, a.index+1, owned)
					}
				}
			}
		}
		st.configured = ParseLine(env[VarLinux] + " " + env[VarLinuxDefault]).Owned(names)
	case KernelInstall:
		if !st.exists {
			seed, err := kernelInstallSeed(r)
			if err != nil {
				return nil, err
			}
			st.base = seed
		}
		st.before = ParseLine(st.base).Owned(names)
		st.configured = st.before
	}
	if t.Kind == Grubby || t.Kind == KernelInstall {
		// Owned arguments that the BLS entries take from GRUB variables
		// (TuneD's $tuned_params) are hand-set arguments nettune cannot
		// edit, like a foreign GRUB line.
		st.problems = append(st.problems, variableConflicts(r, mod, names, t.Kind == Grubby)...)
	}
	return st, nil
}

// grubFiles lists what grub-mkconfig sources on Debian: /etc/default/grub,
// then /etc/default/grub.d/*.cfg in name order.
func grubFiles(r *host.Root) []string {
	out := []string{"/etc/default/grub"}
	entries, _ := os.ReadDir(r.Etc("default/grub.d"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".cfg") && !e.IsDir() {
			out = append(out, "/etc/default/grub.d/"+e.Name())
		}
	}
	return out
}

// kernelInstallSeed is the command line kernel-install uses when
// /etc/kernel/cmdline does not exist: /usr/lib/kernel/cmdline, else the
// running kernel's without the boot loader's own BOOT_IMAGE= and initrd=.
func kernelInstallSeed(r *host.Root) (string, error) {
	if b, err := os.ReadFile(r.Path("/usr/lib/kernel/cmdline")); err == nil {
		return string(b), nil
	}
	running, err := Running(r)
	if err != nil {
		return "", err
	}
	var words []string
	for _, w := range running.Words() {
		if n := ParseArg(w).Name; n == "BOOT_IMAGE" || n == "initrd" {
			continue
		}
		words = append(words, w)
	}
	return strings.Join(words, " ") + "\n", nil
}

// render computes the target file with the owned names replaced by args.
// remove is true when the file should be deleted (an empty drop-in).
func (t Target) render(base string, exists bool, mod string, names, args []string) (string, bool, error) {
	switch t.Kind {
	case GRUB, Grubby:
		s, err := editAssignment(base, t.Variable, mod, names, args)
		if err != nil {
			return "", false, fmt.Errorf("%s %w", t.Path, err)
		}
		return s, false, nil
	case GRUBDropIn:
		if exists {
			if _, err := parseDropIn(base); err != nil {
				return "", false, fmt.Errorf("%s %w; refusing to overwrite it", t.Path, err)
			}
		}
		if len(args) == 0 {
			return "", true, nil
		}
		return renderDropIn(mod, args), false, nil
	case KernelInstall:
		return ParseLine(base).Replace(names, args).String(), false, nil
	}
	return "", false, fmt.Errorf("unknown boot configuration kind %q", t.Kind)
}

// ownedIn reads the owned arguments back from a written file.
func (t Target) ownedIn(content string, names []string) ([]string, error) {
	switch t.Kind {
	case GRUB, Grubby:
		as := assignments(splitLines(content), t.Variable)
		if len(as) == 0 {
			return nil, nil
		}
		return parseShellLine(as[len(as)-1].inner).Owned(names), nil
	case GRUBDropIn:
		args, err := parseDropIn(content)
		if err != nil {
			return nil, err
		}
		return ParseLine(strings.Join(args, " ")).Owned(names), nil
	}
	return ParseLine(content).Owned(names), nil
}

// equivalent reports whether two versions of the target differ only in
// the arrangement of the edited variable's words (order, spacing, quoting),
// so that the older bytes can be restored without losing anything.
func (t Target) equivalent(a, b string) bool {
	if a == b {
		return true
	}
	switch t.Kind {
	case GRUB, Grubby:
		la, lb := splitLines(a), splitLines(b)
		if len(la) != len(lb) {
			return false
		}
		for i := range la {
			if la[i] == lb[i] {
				continue
			}
			x, okx := parseAssignment(i, la[i])
			y, oky := parseAssignment(i, lb[i])
			if !okx || !oky || x.name != t.Variable || y.name != t.Variable ||
				!SameWords(parseShellLine(x.inner).Words(), parseShellLine(y.inner).Words()) {
				return false
			}
		}
		return true
	case KernelInstall:
		return SameWords(ParseLine(a).Words(), ParseLine(b).Words())
	}
	return false
}

// command is one program run.
type command struct {
	name string
	args []string
}

func (c command) String() string { return host.CommandLine(c.name, c.args...) }

// commands returns the programs that carry a change from the edited file
// into the boot menu. The error says when the tool is missing from the
// root.
func (t Target) commands(r *host.Root, from, to []string) ([]command, error) {
	switch t.Kind {
	case GRUB, GRUBDropIn:
		for _, c := range []struct {
			paths []string
			cmd   command
		}{
			{[]string{"/usr/sbin/update-grub", "/sbin/update-grub"}, command{name: "update-grub"}},
			{[]string{"/usr/sbin/grub-mkconfig", "/sbin/grub-mkconfig"}, command{"grub-mkconfig", []string{"-o", "/boot/grub/grub.cfg"}}},
			{[]string{"/usr/sbin/grub2-mkconfig", "/sbin/grub2-mkconfig"}, command{"grub2-mkconfig", []string{"-o", "/boot/grub2/grub.cfg"}}},
		} {
			for _, p := range c.paths {
				if isFile(r.Path(p)) {
					return []command{c.cmd}, nil
				}
			}
		}
		return []command{{name: "update-grub"}}, fmt.Errorf("none of update-grub, grub-mkconfig and grub2-mkconfig is installed under %s", r.Prefix)
	case Grubby:
		args := []string{"--update-kernel=ALL"}
		if rm := Names(append(slices.Clone(from), to...)); len(rm) > 0 {
			args = append(args, "--remove-args="+strings.Join(rm, " "))
		}
		if len(to) > 0 {
			args = append(args, "--args="+strings.Join(to, " "))
		}
		return []command{{"grubby", args}}, nil
	case KernelInstall:
		var out []command
		for _, k := range installedKernels(r) {
			out = append(out, command{"kernel-install", []string{"add", k.version, k.image}})
		}
		return out, nil
	}
	return nil, nil
}

type kernel struct{ version, image string }

// installedKernels finds kernel images the way kernel-install expects
// them: /usr/lib/modules/VERSION/vmlinuz, or /boot/vmlinuz-VERSION.
func installedKernels(r *host.Root) []kernel {
	found := map[string]string{}
	for _, dir := range []string{"/usr/lib/modules", "/lib/modules"} {
		entries, _ := os.ReadDir(r.Path(dir))
		for _, e := range entries {
			img := dir + "/" + e.Name() + "/vmlinuz"
			if _, ok := found[e.Name()]; !ok && isFile(r.Path(img)) {
				found[e.Name()] = img
			}
		}
	}
	entries, _ := os.ReadDir(r.Path("/boot"))
	for _, e := range entries {
		if v, ok := strings.CutPrefix(e.Name(), "vmlinuz-"); ok {
			if _, dup := found[v]; !dup && isFile(r.Path("/boot/"+e.Name())) {
				found[v] = "/boot/" + e.Name()
			}
		}
	}
	var out []kernel
	for v, img := range found {
		out = append(out, kernel{v, img})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out
}

// Apply writes a module's arguments into the boot configuration, reads
// them back and regenerates the boot menu. If the regeneration fails, the
// file is restored and the error returned.
func Apply(ctx context.Context, env *module.Env, c plan.Change) error {
	return write(ctx, env, c, Words(c.Before), Words(c.After), false)
}

// Revert puts back the arguments a change replaced. It is idempotent.
func Revert(ctx context.Context, env *module.Env, c plan.Change) error {
	return write(ctx, env, c, Words(c.After), Words(c.Before), true)
}

// Words splits a change's value into its arguments.
func Words(s string) []string { return ParseLine(s).Words() }

func write(ctx context.Context, env *module.Env, c plan.Change, from, to []string, revert bool) error {
	r := env.Root
	t, err := TargetOf(c)
	if err != nil {
		return err
	}
	names := Names(append(slices.Clone(from), to...))
	st, err := t.observe(r, c.Module, names)
	if err != nil {
		return err
	}
	// A revert that brings the module back to no arguments, or to the exact
	// saved bytes, ends the life of the backup.
	done := func(restored bool) error {
		if revert && (restored || len(to) == 0) {
			return dropBackup(r, c.Module, t.Path)
		}
		return nil
	}
	if !st.exists && revert && len(to) == 0 {
		return done(true)
	}
	next, remove, err := t.render(st.base, st.exists, c.Module, names, to)
	if err != nil {
		return err
	}
	bk := backupPath(r, c.Module, t.Path)
	restored := false
	if revert && !remove {
		if b, err := os.ReadFile(bk); err == nil && t.equivalent(next, string(b)) {
			next, restored = string(b), true
		}
		if seed, err := os.ReadFile(bk + ".absent"); err == nil && SameWords(ParseLine(next).Words(), ParseLine(string(seed)).Words()) {
			remove, restored = true, true
		}
	}
	changed := (remove && st.exists) || (!remove && (!st.exists || next != st.content))
	if !changed {
		return done(restored)
	}
	p := r.Path(t.Path)
	made := false
	if !revert {
		if made, err = keepBackup(r, t, bk, st); err != nil {
			dropBackup(r, c.Module, t.Path)
			return err
		}
	}
	// undo puts the file back after a failed read-back or regeneration.
	undo := func(cause error) error {
		var uerr error
		if st.exists {
			uerr = r.W.WriteFile(p, []byte(st.content), st.perm)
		} else {
			uerr = r.W.Remove(p)
		}
		if uerr != nil {
			return fmt.Errorf("%w; restoring %s failed too: %v", cause, t.Path, uerr)
		}
		if made {
			if derr := dropBackup(r, c.Module, t.Path); derr != nil {
				return fmt.Errorf("%w; %s restored, removing its backup failed: %v", cause, t.Path, derr)
			}
		}
		return nil
	}
	if remove {
		err = r.W.Remove(p)
	} else {
		err = r.W.WriteFile(p, []byte(next), st.perm)
	}
	if err != nil {
		if made {
			if derr := dropBackup(r, c.Module, t.Path); derr != nil {
				return fmt.Errorf("%w; removing the backup of %s failed: %v", err, t.Path, derr)
			}
		}
		return err
	}
	if err := t.verify(r, names, to, remove); err != nil {
		if uerr := undo(err); uerr != nil {
			return uerr
		}
		return err
	}
	cmds, _ := t.commands(r, from, to)
	for i, cmd := range cmds {
		_, err := r.Exec.Run(ctx, cmd.name, cmd.args...)
		if errors.Is(err, host.ErrOffline) {
			// Apply's plan already warned; a revert has no plan to say it.
			log := env.Log.Info
			if revert {
				log = env.Log.Warn
			}
			log("boot menu not regenerated: the root is not the live host", "command", cmd.String(), "file", t.Path)
			break
		}
		if err == nil {
			continue
		}
		err = fmt.Errorf("regenerate the boot menu after writing %s: %w", t.Path, err)
		if uerr := undo(err); uerr != nil {
			return uerr
		}
		// Entries already regenerated from the new file are regenerated
		// again from the restored one (kernel-install runs once per
		// kernel; grubby and update-grub run once).
		for _, again := range cmds[:i] {
			if _, rerr := r.Exec.Run(ctx, again.name, again.args...); rerr != nil {
				return fmt.Errorf("%w; %s restored, but re-running %s failed: %v", err, t.Path, again, rerr)
			}
		}
		return fmt.Errorf("%w; %s restored", err, t.Path)
	}
	return done(restored || remove)
}

// verify reads the file back and compares the owned arguments.
func (t Target) verify(r *host.Root, names, want []string, removed bool) error {
	b, err := os.ReadFile(r.Path(t.Path))
	if removed {
		if err == nil {
			return fmt.Errorf("%s still exists after removal: %w", t.Path, module.ErrVerify)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read back %s: %w", t.Path, err)
	}
	got, err := t.ownedIn(string(b), names)
	if err != nil {
		return fmt.Errorf("read back %s: %v: %w", t.Path, err, module.ErrVerify)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s: wrote %q, reads back %q: %w", t.Path, strings.Join(want, " "), strings.Join(got, " "), module.ErrVerify)
	}
	return nil
}

// backupPath is where the file's content before the first change of a
// module is kept.
func backupPath(r *host.Root, mod, hostPath string) string {
	return r.State("backup", mod, hostPath)
}

// keepBackup saves the file before a module changes it for the first
// time. A missing /etc/kernel/cmdline is recorded with the line it was
// created from, so that revert can delete it again.
func keepBackup(r *host.Root, t Target, bk string, st *state) (bool, error) {
	if t.Kind == GRUBDropIn || r.Exists(bk) || r.Exists(bk+".absent") {
		return false, nil
	}
	if st.exists {
		return true, r.W.WriteFile(bk, []byte(st.content), 0o600)
	}
	return true, r.W.WriteFile(bk+".absent", []byte(st.base), 0o600)
}

// dropBackup removes a module's backup of a file and the directories it
// leaves empty.
func dropBackup(r *host.Root, mod, hostPath string) error {
	bk := backupPath(r, mod, hostPath)
	for _, p := range []string{bk, bk + ".absent"} {
		if r.Exists(p) {
			if err := r.W.Remove(p); err != nil {
				return err
			}
		}
	}
	top := r.State("backup")
	for d := filepath.Dir(bk); strings.HasPrefix(d, top); d = filepath.Dir(d) {
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by an earlier, interrupted attempt
		}
		if err != nil || len(entries) > 0 {
			break
		}
		if err := r.W.Remove(d); err != nil {
			return err
		}
	}
	return nil
}
