package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/nettune/nettune/pkg/systemd"
	"github.com/spf13/cobra"
)

func (a *app) installCommand() *cobra.Command {
	var binary string
	cmd := &cobra.Command{
		Use: "install PROFILE",
		Example: `  nettune install kernel-throughput
  nettune install --binary /usr/sbin/nettune ./my-host.yaml`,
		Short: "Re-apply PROFILE at every boot and when a NIC appears (systemd + udev)",
		Long: `Record PROFILE (with its extends chain resolved) as /etc/nettune/profile.yaml
and install, split by what each part needs:
  ` + systemd.ApplyUnit + `  oneshot, before network-pre.target:
      the host-wide sections (sysctl, cpu, hugepages), then spec.devices
      (a missing device fails that step alone)
  ` + systemd.NICUnit + `  one NIC's settings when it appears:
      nettune apply --yes --nic IFNAME /etc/nettune/profile.yaml
  ` + systemd.UdevRule + `  starts it for the profile's NICs only
      (their spec.nics[].match as udev keys), and gives each device
      spec.devices binds to vfio-pci/uio a driver_override when it appears
  ` + systemd.ModulesLoad + `  loads those drivers at boot
      (only when the profile binds such a device)
then enable the boot unit. A NIC that does not appear blocks nothing else.
Settings that persist by themselves (sysctl.d, kernel arguments, fstab) do
not need this; ring sizes, IRQ affinities, RPS, runtime hugepages and device
bindings do. Run it again after editing the profile: the rule is generated
from it. Undo with 'nettune uninstall'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			flat, err := profile.Flatten(args[0])
			if err != nil {
				return err
			}
			eng, err := a.engine()
			if err != nil {
				return err
			}
			if binary == "" {
				if binary, err = os.Executable(); err != nil {
					return err
				}
			}
			if binary, err = filepath.Abs(binary); err != nil {
				return err
			}
			warnings, err := systemd.Install(cmd.Context(), eng.Env.Root, binary, flat)
			if err != nil {
				return err
			}
			files := systemd.Installed(eng.Env.Root)
			return a.printer.Print(output.Document{Kind: "install", Body: struct {
				Files    []string `json:"files"`
				Warnings []string `json:"warnings"`
			}{files, nonNilS(warnings)}, Table: func(t *output.TableWriter) {
				for _, f := range files {
					t.Line("wrote %s", f)
				}
				for _, w := range warnings {
					t.Line("%s: %s", t.Colorize("yellow", "warning"), w)
				}
				t.Line("The profile is applied at boot by nettune-apply.service. Undo with: %s", a.hint("uninstall"))
			}})
		},
	}
	cmd.Flags().StringVar(&binary, "binary", "", "path of the nettune binary the units run (default: this executable; refused under /tmp, /var/tmp, /dev/shm, /run, on tmpfs, or when not executable)")
	return cmd
}

func (a *app) uninstallCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "uninstall",
		Example: `  nettune uninstall`,
		Short:   "Remove what 'nettune install' installed",
		Long: `Disable nettune-apply.service and remove the units, the udev rule and
/etc/nettune/profile.yaml. Settings already applied stay as they are; undo
them with 'nettune revert'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := a.engine()
			if err != nil {
				return err
			}
			warnings, err := systemd.Uninstall(cmd.Context(), eng.Env.Root)
			if err != nil {
				return err
			}
			return a.printer.Print(output.Document{Kind: "uninstall", Body: struct {
				Warnings []string `json:"warnings"`
			}{nonNilS(warnings)}, Table: func(t *output.TableWriter) {
				for _, w := range warnings {
					t.Line("%s: %s", t.Colorize("yellow", "warning"), w)
				}
				t.Line("Boot-time apply removed.")
			}})
		},
	}
}

func nonNilS(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// sections are the spec sections --only can name.
const sections = "sysctl, cpu, hugepages, nics, irqbalance, devices, dataplane, sriov"

func onlyUsage(verb string) string {
	return verb + " only these spec sections (comma-separated: " + sections + ")"
}

// onlySections checks the section names of --only (plan, apply, check).
// The engine's Only then chooses the modules that plan; the profile stays
// whole, since a module may read another section (irqbalance's ban list
// holds the IRQs spec.nics pins).
func onlySections(_ *profile.Profile, only []string) error {
	valid := map[string]bool{"sysctl": true, "cpu": true, "hugepages": true, "nics": true, "irqbalance": true, "devices": true, "dataplane": true, "sriov": true}
	for _, s := range only {
		if !valid[s] {
			return fmt.Errorf("--only: unknown section %q; valid choices: %s", s, sections)
		}
	}
	return nil
}
