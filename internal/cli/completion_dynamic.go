package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/spf13/cobra"
)

// Dynamic shell completion: profile names, -o values, NIC names, PCI
// addresses and drivers, read from the --root host when the shell asks
// (cobra's hidden __complete command). Completion only reads: no journal,
// no lock, no netlink, no module loading.

// bindDrivers are offered to bind --driver besides the devices' own
// kernel drivers.
var bindDrivers = []string{"vfio-pci", "uio_pci_generic", "igb_uio"}

// registerCompletions attaches the completion functions to the commands
// of root, found by name. A command or flag that is not there is a
// programming error (a verb renamed without its completion) and panics, so
// that every test of the command line notices it.
func registerCompletions(root *cobra.Command) {
	flag(root, "output", fixed(string(output.Table), string(output.JSON), string(output.YAML)))
	flag(root, "log-level", fixed("debug", "info", "warn", "error"))
	flag(root, "root", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	})
	for _, path := range []string{"validate", "plan", "apply", "check", "exporter", "install", "run", "profile show"} {
		find(root, path).ValidArgsFunction = completeProfile
	}
	for _, path := range []string{"show", "irqs"} {
		find(root, path).ValidArgsFunction = completeNIC
	}
	gen := find(root, "profile generate")
	flag(gen, "nic", completeNICOrPCI)
	flag(gen, "hugepages", fixed("2M", "1G"))
	bind := find(root, "bind")
	bind.ValidArgsFunction = completePCI(func(d *devbind.Device) bool { return true })
	flag(bind, "driver", completeDriver(bindDrivers))
	unbind := find(root, "unbind")
	unbind.ValidArgsFunction = completePCI(func(d *devbind.Device) bool {
		return devbind.UserspaceDriver(d.Driver) || d.Override != ""
	})
	flag(unbind, "driver", completeDriver(nil))
}

type completeFunc = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective)

// find returns the command at a space-separated path under root.
func find(root *cobra.Command, path string) *cobra.Command {
	names := strings.Fields(path)
	c, rest, err := root.Find(names)
	if err != nil || len(rest) > 0 || c.Name() != names[len(names)-1] {
		panic(fmt.Sprintf("completion: no command %q under %s", path, root.Name()))
	}
	return c
}

func flag(cmd *cobra.Command, name string, fn completeFunc) {
	if err := cmd.RegisterFlagCompletionFunc(name, fn); err != nil {
		panic(fmt.Sprintf("completion: %s --%s: %v", cmd.CommandPath(), name, err))
	}
}

func fixed(values ...string) completeFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return withPrefix(values, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completionRoot is the host named by the command's --root flag.
func completionRoot(cmd *cobra.Command) (*host.Root, error) {
	dir := "/"
	if f := cmd.Flag("root"); f != nil && f.Value.String() != "" {
		dir = f.Value.String()
	}
	return host.New(dir)
}

// withPrefix keeps the candidates ("value" or "value\tdescription") whose
// value starts with prefix.
func withPrefix(cands []string, prefix string) []string {
	var out []string
	for _, c := range cands {
		if v, _, _ := strings.Cut(c, "\t"); strings.HasPrefix(v, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// completeProfile offers the profile names plan, apply, check and the
// others accept: the root's /etc/nettune/profiles, then the shipped ones,
// with their descriptions. A word that looks like a path, or matches no
// name, completes as a file (a profile can be given as a file).
func completeProfile(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if strings.ContainsRune(toComplete, '/') || strings.HasPrefix(toComplete, ".") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	r, err := completionRoot(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveDefault
	}
	var entries []profile.Entry
	if dir, err := r.Resolve(r.Path(profile.EtcDir)); err == nil {
		entries, _ = profile.List(dir, profile.EtcDir)
	}
	var cands []string
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		desc := e.Description
		if e.Error != "" {
			desc = "invalid: " + e.Error
		}
		cands = append(cands, candidate(e.Name, desc))
	}
	return withPrefix(cands, toComplete), cobra.ShellCompDirectiveDefault
}

// candidate is a completion with a one-line description.
func candidate(value, desc string) string {
	desc = strings.Join(strings.Fields(desc), " ")
	if desc == "" {
		return value
	}
	return value + "\t" + desc
}

// nicNames lists the interfaces of the root's /sys/class/net with their
// drivers (bonding_masters and other plain files left out).
func nicNames(r *host.Root) []string {
	dir := r.Sys("class/net")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && e.Type()&os.ModeSymlink == 0 {
			continue
		}
		drv := ""
		if l, err := os.Readlink(filepath.Join(dir, e.Name(), "device", "driver")); err == nil {
			drv = filepath.Base(l)
		}
		out = append(out, candidate(e.Name(), drv))
	}
	return out
}

func completeNIC(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	r, err := completionRoot(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return withPrefix(nicNames(r), toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeNICOrPCI completes profile generate --nic: interface names and
// the PCI addresses nettune devices lists.
func completeNICOrPCI(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	r, err := completionRoot(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	cands := nicNames(r)
	if inv, err := devbind.Scan(r, nil); err == nil {
		cands = append(cands, pciCandidates(inv, func(*devbind.Device) bool { return true }, nil)...)
	}
	return withPrefix(cands, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// pciCandidates are the devices nettune devices lists (network, crypto,
// co-processor and accelerator functions) that keep accepts, not already
// in args, described by driver and interfaces.
func pciCandidates(inv *devbind.Inventory, keep func(*devbind.Device) bool, args []string) []string {
	given := map[string]bool{}
	for _, a := range args {
		if profile.IsPCIAddress(a) {
			given[profile.NormalizePCI(a)] = true
		}
	}
	var out []string
	for _, d := range inv.Devices {
		if !d.Listed() || !keep(d) || given[d.Address] {
			continue
		}
		desc := d.Driver
		if desc == "" {
			desc = "no driver"
		}
		if len(d.Interfaces) > 0 {
			desc += " " + strings.Join(d.Interfaces, ",")
		}
		out = append(out, candidate(d.Address, desc))
	}
	return out
}

// completePCI completes bind and unbind's DEVICE arguments with the
// listed PCI addresses keep accepts.
func completePCI(keep func(*devbind.Device) bool) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		r, err := completionRoot(cmd)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		inv, err := devbind.Scan(r, nil)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return withPrefix(pciCandidates(inv, keep, args), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeDriver completes --driver: extra (the userspace drivers for
// bind), then the kernel drivers of the devices named so far (their
// current kernel driver and those matching their modalias), or of every
// listed device when none is named yet.
func completeDriver(extra []string) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		cands := append([]string(nil), extra...)
		r, err := completionRoot(cmd)
		if err != nil {
			return withPrefix(cands, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		inv, err := devbind.Scan(r, nil)
		if err != nil {
			return withPrefix(cands, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		var devs []*devbind.Device
		for _, a := range args {
			if d, err := inv.Resolve(a, nil); err == nil {
				devs = append(devs, d)
			}
		}
		if len(args) == 0 {
			for _, d := range inv.Devices {
				if d.Listed() {
					devs = append(devs, d)
				}
			}
		}
		var kernel []string
		for _, d := range devs {
			if d.Driver != "" && !devbind.UserspaceDriver(d.Driver) {
				kernel = append(kernel, d.Driver)
			}
			kernel = append(kernel, inv.KernelDrivers(d)...)
		}
		sort.Strings(kernel)
		for _, k := range kernel {
			if !containsDriver(cands, k) {
				cands = append(cands, k)
			}
		}
		return withPrefix(cands, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func containsDriver(list []string, name string) bool {
	for _, n := range list {
		if devbind.SameDriver(n, name) {
			return true
		}
	}
	return false
}
