package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/spf13/cobra"
)

// bindFlags are the flags of bind and unbind.
type bindFlags struct {
	driver   string
	force    bool
	noIOMMU  bool
	group    bool
	anyClass bool
	uid, gid int
	yes      bool
	dryRun   bool
}

const bindGuardsHelp = `Guards (each refuses with a reason and exit status 1):
  address, route      the interface (or a VLAN, bond or bridge on top of it)
                      has addresses or routes in any table   (--force lifts)
  lower-device        it is a port of a bond or bridge, or under a VLAN or
                      macvlan, that is up                     (--force lifts)
  ssh-session         it carries an SSH session, by local address or by the
                      route back to the client               (cannot be forced)
  default-route       it (or a VLAN, bond or bridge on top of it) carries a
                      default route                          (cannot be forced)
  storage             its disks back a mounted filesystem, swap, or an md,
                      dm or LVM device                       (cannot be forced)
  device-class        not a network, crypto, co-processor or accelerator
                      device                             (--any-class lifts)
  iommu-group         vfio-pci: another device of its IOMMU group stays on a
                      kernel driver; bind them together (--group)
  no-iommu            vfio-pci on a host without IOMMU; --no-iommu accepts
                      vfio's unsafe mode (no DMA isolation, taints the kernel)
  bifurcated          mlx5_core and similar: DPDK uses the device through the
                      kernel driver; it must stay bound
  bridge              PCI bridges are never bound`

func (a *app) bindCommand() *cobra.Command {
	var f bindFlags
	cmd := &cobra.Command{
		Use: "bind DEVICE... --driver DRIVER",
		Example: `  nettune bind --driver vfio-pci --dry-run 0000:af:00.0
  nettune bind --driver vfio-pci --yes af:00.0 af:00.1
  nettune bind --driver vfio-pci --group --uid 1000 --yes ens1f0`,
		Short: "Bind PCI devices to vfio-pci, uio_pci_generic or a kernel driver (journaled, reversible)",
		Long: `Bind each DEVICE (a PCI address, full 0000:03:00.0 or short 03:00.0, or a
kernel interface name) to DRIVER. nettune loads the driver module first
(modprobe), sets driver_override, unbinds the current driver, asks the
kernel to probe (drivers_probe; never new_id), and reads the driver link
back. If anything fails the device is put back on its original driver.

Like apply, bind shows what it will do and asks on a terminal; --yes skips
the question and is required when stdin is not a terminal. The binding is
journaled as a generation: 'nettune revert' or 'nettune unbind DEVICE'
gives the device back to its original driver.

` + bindGuardsHelp,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.driver == "" {
				return errors.New("--driver is required (vfio-pci, uio_pci_generic or a kernel driver)")
			}
			eng, err := a.engine()
			if err != nil {
				return err
			}
			var owner *devbind.Owner
			if cmd.Flags().Changed("uid") || cmd.Flags().Changed("gid") {
				owner = &devbind.Owner{UID: max(f.uid, 0), GID: max(f.gid, 0)}
			}
			return a.bind(cmd.Context(), eng, args, f, owner)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.driver, "driver", "", "driver to bind to: vfio-pci, uio_pci_generic or a kernel driver")
	fl.BoolVar(&f.force, "force", false, "bind although the interface has addresses, routes, or an upper device that is up")
	fl.BoolVar(&f.noIOMMU, "no-iommu", false, "on a host without IOMMU, use vfio's unsafe no-IOMMU mode (no DMA isolation; taints the kernel)")
	fl.BoolVar(&f.group, "group", false, "also bind the other devices of each device's IOMMU group that are on kernel drivers")
	fl.BoolVar(&f.anyClass, "any-class", false, "allow devices that are not network, crypto, co-processor or accelerator devices (never one whose disks are in use)")
	fl.IntVar(&f.uid, "uid", 0, "owner of /dev/vfio/<group> (vfio-pci), for a non-root DPDK process")
	fl.IntVar(&f.gid, "gid", 0, "group of /dev/vfio/<group> (vfio-pci)")
	fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be done, with equivalent shell commands, and touch nothing")
	return cmd
}

func (a *app) unbindCommand() *cobra.Command {
	var f bindFlags
	cmd := &cobra.Command{
		Use: "unbind DEVICE...",
		Example: `  nettune unbind --yes 0000:af:00.0
  nettune unbind --driver ice --yes af:00.0
  nettune unbind --dry-run ens1f0`,
		Short: "Give PCI devices back to their kernel driver",
		Long: `Give each DEVICE back to the driver it had before nettune bound it, as the
journal recorded it, with driver_override cleared; without a record, to
its kernel driver by modalias, or to --driver. A DEVICE can be named by the
interface it had before it was bound. A device already on a kernel driver
is left as it is, so unbinding twice changes nothing the second time.
Unbinding one device of an IOMMU group while others stay on vfio would
leave them in a group vfio cannot use: list them all, or pass --group.

Like bind, unbind is journaled: 'nettune revert' binds the devices again.
--yes skips the question and is required when stdin is not a terminal.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := a.engine()
			if err != nil {
				return err
			}
			return a.unbind(cmd.Context(), eng, args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.driver, "driver", "", "kernel driver to give the devices to (default: the recorded one, else by modalias)")
	fl.BoolVar(&f.group, "group", false, "also unbind the other devices of each device's IOMMU group that are on vfio")
	fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be done, with equivalent shell commands, and touch nothing")
	return cmd
}

// bind runs 'nettune bind' over an engine (tests pass one whose root
// emulates the kernel).
func (a *app) bind(ctx context.Context, eng *engine.Engine, args []string, f bindFlags, owner *devbind.Owner) error {
	var targets []devbind.Target
	for _, arg := range args {
		targets = append(targets, devbind.Target{Arg: arg, Driver: f.driver, Owner: owner, NoIOMMU: f.noIOMMU, Reason: "nettune bind"})
	}
	label := "nettune bind --driver " + f.driver + " " + strings.Join(args, " ")
	opts := devbind.Options{Force: f.force, Group: f.group, AnyClass: f.anyClass}
	return a.runBinding(ctx, eng, "bind", label, f, func(ctx context.Context, p *devbind.Planner) (*devbind.Result, error) {
		return p.Bind(ctx, targets, opts)
	})
}

func (a *app) unbind(ctx context.Context, eng *engine.Engine, args []string, f bindFlags) error {
	label := "nettune unbind " + strings.Join(args, " ")
	return a.runBinding(ctx, eng, "unbind", label, f, func(ctx context.Context, p *devbind.Planner) (*devbind.Result, error) {
		return p.Unbind(ctx, args, f.driver, devbind.Options{Group: f.group})
	})
}

// refusedError lists the guards that refused.
type refusedError struct {
	verb     string
	refusals []devbind.Refusal
}

func (e *refusedError) Error() string {
	s := fmt.Sprintf("refusing to %s; nothing was changed:", e.verb)
	for _, r := range e.refusals {
		s += fmt.Sprintf("\n  %s [%s]", r, r.Guard)
	}
	return s
}

// runBinding plans under the engine's lock, confirms and applies the
// changes as one journaled generation.
func (a *app) runBinding(ctx context.Context, eng *engine.Engine, verb, label string, f bindFlags, build func(context.Context, *devbind.Planner) (*devbind.Result, error)) error {
	r := eng.Env.Root
	var last *devbind.Result
	compute := func(ctx context.Context) (*engine.PlanResult, error) {
		journal, err := engine.JournalChanges(r)
		if err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		res, err := build(ctx, devbind.NewPlanner(r, journal))
		if err != nil {
			return nil, err
		}
		last = res
		pr := &engine.PlanResult{Profile: label, Items: res.Items, Problems: bindProblems(res)}
		if len(res.Refusals) > 0 {
			return pr, &refusedError{verb: verb, refusals: res.Refusals}
		}
		if len(pr.Changes()) > 0 && !f.dryRun {
			if err := devbind.CanBind(r); err != nil {
				return pr, fmt.Errorf("%s: %w (use --dry-run to see the plan)", verb, err)
			}
		}
		return pr, nil
	}
	if f.dryRun {
		pr, err := compute(ctx)
		if pr == nil {
			return err
		}
		if perr := a.printBindPlan(verb, pr, last, true); perr != nil {
			return perr
		}
		var refused *refusedError
		if errors.As(err, &refused) {
			return fmt.Errorf("%s would be refused (see above)", verb)
		}
		return err
	}
	confirm := func(pr *engine.PlanResult) (bool, error) {
		if f.yes {
			return true, nil
		}
		if !a.io.InTTY {
			return false, fmt.Errorf("stdin is not a terminal: pass --yes to %s", verb)
		}
		if err := a.printBindPlan(verb, pr, last, false); err != nil {
			return false, err
		}
		return a.confirm(fmt.Sprintf("Make %d change(s) to this host?", len(pr.Changes())))
	}
	res, err := eng.ApplyChanges(ctx, label, compute, confirm)
	if err != nil {
		return err
	}
	var warnings []devbind.Refusal
	if last != nil {
		warnings = last.Warnings
	}
	return a.printer.Print(output.Document{
		Kind: verb,
		Body: struct {
			Generation int               `json:"generation"`
			Applied    []plan.Change     `json:"applied"`
			Warnings   []devbind.Refusal `json:"warnings"`
		}{res.Generation, nonNil(res.Applied), nonNilRefusals(warnings)},
		Table: func(t *output.TableWriter) {
			if len(res.Applied) == 0 {
				t.Line("Nothing to do: the devices are already bound that way.")
			} else {
				t.Rows(changeHeader(false), changeRows(res.Applied, false))
				t.Line("")
				t.Line("Made %d change(s) as generation %d. Undo with: %s", len(res.Applied), res.Generation, a.undoHint())
			}
			renderRefusals(t, "warning", warnings)
		},
	})
}

func (a *app) printBindPlan(verb string, pr *engine.PlanResult, res *devbind.Result, withCommand bool) error {
	var refusals, warnings []devbind.Refusal
	if res != nil {
		refusals, warnings = res.Refusals, res.Warnings
	}
	return a.printer.Print(output.Document{
		Kind: verb + "-plan",
		Body: struct {
			Changes  []plan.Change     `json:"changes"`
			Refusals []devbind.Refusal `json:"refusals"`
			Warnings []devbind.Refusal `json:"warnings"`
		}{nonNil(pr.Changes()), nonNilRefusals(refusals), nonNilRefusals(warnings)},
		Table: func(t *output.TableWriter) {
			changes := pr.Changes()
			switch {
			case len(changes) == 0 && len(refusals) == 0:
				t.Line("Nothing to do: the devices are already bound that way.")
			case len(changes) > 0:
				t.Rows(changeHeader(withCommand), changeRows(changes, withCommand))
			}
			renderRefusals(t, "refused", refusals)
			renderRefusals(t, "warning", warnings)
		},
	})
}

func renderRefusals(t *output.TableWriter, label string, refs []devbind.Refusal) {
	color := "yellow"
	if label == "refused" {
		color = "red"
	}
	for _, r := range refs {
		t.Line("%s: %s [%s]", t.Colorize(color, label), r, r.Guard)
	}
}

func bindProblems(res *devbind.Result) []plan.Problem {
	out := []plan.Problem{}
	for _, r := range res.Refusals {
		out = append(out, plan.Problem{Severity: plan.Error, Module: devbind.Name, Object: r.Device, Message: r.Message, Remedy: r.Remedy})
	}
	for _, r := range res.Warnings {
		out = append(out, plan.Problem{Severity: plan.Warning, Module: devbind.Name, Object: r.Device, Message: r.Message, Remedy: r.Remedy})
	}
	return out
}

func nonNilRefusals(r []devbind.Refusal) []devbind.Refusal {
	if r == nil {
		return []devbind.Refusal{}
	}
	return r
}
