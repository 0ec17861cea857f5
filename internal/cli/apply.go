package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/nics"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/spf13/cobra"
)

func (a *app) applyCommand() *cobra.Command {
	var (
		yes, dryRun, keepOrphans bool
		only                     []string
		nic                      string
	)
	cmd := &cobra.Command{
		Use: "apply PROFILE",
		Example: `  nettune apply kernel-throughput
  nettune apply --dry-run ./my-host.yaml
  nettune apply --yes --only nics,irqbalance /etc/nettune/profile.yaml
  nettune apply --yes --nic eth2 /etc/nettune/profile.yaml
  nettune --root ./snapshot apply --yes kernel-throughput`,
		Short: "Bring the host to the profile (journaled, verified, reversible)",
		Long: `Apply the profile: validate it against the host, show the plan, ask for
confirmation, then make each change with its prior value journaled first and
the new value read back. If any change fails, everything already changed is
rolled back and nettune exits 1 with the host as it was. A successful apply
is recorded as a numbered generation that 'nettune revert' undoes.

Switching profiles: a setting an earlier apply made that this profile no
longer sets is returned to the value it had before nettune (shown in the
plan as an orphan); --keep-orphans keeps it as it is and stops tracking it.

Before anything is written, apply checks every right the plan needs (write
access to each file, the state directory, capabilities for NIC changes) and
lists all that are missing, changing nothing.

--yes skips the question and is required when stdin is not a terminal.
--dry-run prints what would be done, with the equivalent shell command for
each change, and touches nothing.

--nic IFNAME applies only the spec.nics entries that select interface
IFNAME, and only to IFNAME (nettune-nic@IFNAME.service runs this when the
NIC appears). Settings earlier applies made on other NICs and in other
sections are out of its scope: they are neither changed nor returned as
orphans. When no entry selects IFNAME it changes nothing and exits 0.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profile.Load(args[0])
			if err != nil {
				return err
			}
			if nic != "" {
				if len(only) > 0 && (len(only) != 1 || only[0] != "nics") {
					return fmt.Errorf("--nic applies spec.nics only; it cannot be combined with --only %s", strings.Join(only, ","))
				}
				only = []string{"nics"}
			}
			if err := onlySections(p, only); err != nil {
				return err
			}
			eng, err := a.engine()
			if err != nil {
				return err
			}
			eng.Only = only
			if nic != "" {
				n, err := restrictToNIC(eng.Env.Root, &p.Spec, nic)
				if err != nil {
					return err
				}
				if n == 0 {
					a.log.Info("no spec.nics entry selects this interface; nothing to do", "nic", nic, "profile", p.Metadata.Name)
					return a.printer.Print(output.Document{Kind: "apply",
						Body: applyBody{Profile: p.Metadata.Name, Applied: []plan.Change{}, Unsupported: []engine.Skipped{}, Problems: []plan.Problem{}},
						Table: func(t *output.TableWriter) {
							t.Line("No entry of spec.nics in profile %q selects %s: nothing to do.", p.Metadata.Name, nic)
						}})
				}
			}
			if dryRun {
				pr, perr := eng.Plan(cmd.Context(), p)
				if pr == nil {
					return perr
				}
				if err := a.printPlan(pr, true); err != nil {
					return err
				}
				if perr != nil {
					return errors.New("the profile does not fit this host (see the errors above)")
				}
				return nil
			}
			confirm := func(pr *engine.PlanResult) (bool, error) {
				if yes {
					return true, nil
				}
				if !a.io.InTTY {
					return false, errors.New("stdin is not a terminal: pass --yes to apply")
				}
				if err := a.printPlan(pr, false); err != nil {
					return false, err
				}
				return a.confirm(fmt.Sprintf("Apply %d change(s) to this host?", len(pr.Changes())))
			}
			res, err := eng.ApplyWith(cmd.Context(), p, engine.ApplyOptions{KeepOrphans: keepOrphans}, confirm)
			if err != nil {
				if res != nil && res.Plan != nil && len(res.Plan.Errors()) > 0 {
					a.printPlan(res.Plan, false)
					return errors.New("the profile does not fit this host (see the errors above); nothing was changed")
				}
				if res != nil && len(res.Attempted) > 0 && a.printer.Format == output.Table {
					// Show what was attempted (and rolled back) next to
					// the error, on stderr.
					t := &output.Printer{W: a.io.ErrOut, Format: output.Table}
					t.Print(output.Document{Kind: "attempted", Table: func(t *output.TableWriter) {
						t.Line("apply attempted these %d change(s):", len(res.Attempted))
						t.Rows(changeHeader(false), changeRows(res.Attempted, false))
					}})
				}
				return err
			}
			return a.printer.Print(output.Document{
				Kind: "apply",
				Body: applyBody{Profile: p.Metadata.Name, Generation: res.Generation, Applied: nonNil(res.Applied), Unsupported: nonNilSkipped(res.Unsupported), Released: res.Released, Problems: nonNilP(res.Plan.Problems)},
				Table: func(t *output.TableWriter) {
					if len(res.Applied) == 0 {
						t.Line("No changes: the host already matches profile %q.", p.Metadata.Name)
					} else {
						t.Rows(changeHeader(false), changeRows(res.Applied, false))
						t.Line("")
						t.Line("Applied %d change(s) as generation %d. Undo with: %s", len(res.Applied), res.Generation, a.undoHint())
						for _, c := range res.Applied {
							if c.When == plan.Boot {
								t.Line("Some changes take effect at the next boot; 'nettune check' reports them as pending-reboot until then.")
								break
							}
						}
					}
					for _, u := range res.Unsupported {
						t.Problem("%s: not applied, unsupported on this host: %s %s %s: %s", t.Colorize("yellow", "warning"), u.Change.Module, u.Change.Object, u.Change.Attribute, u.Reason)
					}
					if len(res.Released) > 0 {
						t.Line("Kept as they are and no longer tracked (--keep-orphans): %s", strings.Join(res.Released, ", "))
					}
					renderProblems(t, res.Plan.Problems)
				},
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
	cmd.Flags().BoolVar(&keepOrphans, "keep-orphans", false, "keep settings an earlier apply made that this profile no longer sets, as they are, instead of returning them to their values before nettune")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be done, with equivalent shell commands, and touch nothing")
	cmd.Flags().StringSliceVar(&only, "only", nil, onlyUsage("apply"))
	cmd.Flags().StringVar(&nic, "nic", "", "apply only the spec.nics entries that select this interface, to it alone (other NICs and sections are left as they are)")
	return cmd
}

// restrictToNIC keeps the spec.nics entries whose match selects interface
// ifname on the host and narrows each to that interface alone (its match
// gains the exact name), so that a plan covers no other NIC. It returns how
// many entries are left.
func restrictToNIC(r *host.Root, s *profile.Spec, ifname string) (int, error) {
	if ifname == "" || strings.ContainsAny(ifname, "/ \t\n") {
		return 0, fmt.Errorf("--nic %q is not an interface name", ifname)
	}
	topo, err := numa.Read(r)
	if err != nil {
		return 0, err
	}
	eth, err := ethtool.Open(r)
	if err != nil {
		return 0, fmt.Errorf("open ethtool: %w", err)
	}
	defer eth.Close()
	inv, err := nics.ReadInventory(r, topo, eth)
	if err != nil {
		return 0, err
	}
	permMAC := func(name string) string { a, _ := eth.PermAddr(name); return a }
	var kept []profile.NIC
	for _, entry := range s.NICs {
		selected, _ := inv.Select(entry.Match, permMAC)
		for _, n := range selected {
			if n.Name == ifname {
				// The escaped name is a glob that matches ifname only.
				entry.Match.Name = globEscape(ifname)
				kept = append(kept, entry)
				break
			}
		}
	}
	s.NICs = kept
	return len(kept), nil
}

// globEscape quotes the pattern characters of path.Match.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

type applyBody struct {
	Profile     string           `json:"profile"`
	Generation  int              `json:"generation"`
	Applied     []plan.Change    `json:"applied"`
	Unsupported []engine.Skipped `json:"unsupported"`
	Released    []string         `json:"released,omitempty"`
	Problems    []plan.Problem   `json:"problems"`
}

// undoHint is the revert command for this invocation (it keeps --root).
func (a *app) undoHint() string { return a.hint("revert") }

func nonNil(c []plan.Change) []plan.Change {
	if c == nil {
		return []plan.Change{}
	}
	return c
}

func nonNilSkipped(s []engine.Skipped) []engine.Skipped {
	if s == nil {
		return []engine.Skipped{}
	}
	return s
}

func nonNilP(p []plan.Problem) []plan.Problem {
	if p == nil {
		return []plan.Problem{}
	}
	return p
}
