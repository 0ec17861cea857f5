package cli

import (
	"errors"
	"fmt"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/spf13/cobra"
)

func (a *app) revertCommand() *cobra.Command {
	var (
		yes, list, all, force bool
		to, abandon           int
	)
	cmd := &cobra.Command{
		Use:   "revert",
		Short: "Undo the last apply (or every apply back to --to N)",
		Long: `Restore the host to the state it had before the last apply, from the values
journaled by that apply, newest change first. With --to N, undo generation N
and every later one; --all undoes every generation. --to takes a recorded
generation number (see --list); 0, a negative number or a number that is not
recorded is an error that lists the recorded ones.

Before writing, revert reads every setting: one that already has its prior
value is left alone, and one that someone changed since nettune wrote it is
shown with its real value and stops the revert, changing nothing, unless
--force is given.

A generation applied in a network namespace is reverted only from that
namespace (the error names the command to run there).

--abandon N forgets generation N (the newest) without reverting it: the way
out of a generation that cannot be reverted. It lists exactly what stays on
the host.

When the last generation is reverted, nettune's state directory is removed:
the host is exactly as it was before the first apply.`,
		Example: `  nettune revert --list
  nettune revert --yes
  nettune revert --to 2 --yes
  nettune revert --all --yes
  nettune revert --abandon 3 --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := a.engine()
			if err != nil {
				return err
			}
			if list {
				return a.listGenerations(eng)
			}
			if cmd.Flags().Changed("abandon") {
				return a.abandon(cmd, eng, abandon, yes)
			}
			opts := engine.RevertOptions{To: to, All: all, Force: force}
			if cmd.Flags().Changed("to") {
				if all {
					return errors.New("--to and --all exclude each other")
				}
				if to < 1 {
					gens, _ := engine.Generations(eng.Env.Root)
					return engine.NotRecordedError(to, gens)
				}
			}
			confirm := func(rp *engine.RevertPlan) (bool, error) {
				if yes {
					return true, nil
				}
				if !a.io.InTTY {
					return false, errors.New("stdin is not a terminal: pass --yes to revert")
				}
				err := a.printer.Print(output.Document{Kind: "revert-plan", Body: rp, Table: func(t *output.TableWriter) {
					t.Rows(changeHeader(false), changeRows(rp.Changes, false))
				}})
				if err != nil {
					return false, err
				}
				return a.confirm(fmt.Sprintf("Revert generation(s) %v (%d change(s))?", rp.Generations, len(rp.Changes)))
			}
			rp, err := eng.Revert(cmd.Context(), opts, confirm)
			if err != nil {
				return err
			}
			return a.printer.Print(output.Document{
				Kind: "revert",
				Body: revertBody{Generations: rp.Generations, Reverted: nonNil(rp.Changes), InPlace: rp.InPlace, Overwritten: rp.Modified},
				Table: func(t *output.TableWriter) {
					if len(rp.Changes) > 0 {
						t.Rows(changeHeader(false), changeRows(rp.Changes, false))
						t.Line("")
					}
					t.Line("Reverted generation(s) %v: %d change(s).", rp.Generations, len(rp.Changes))
					if rp.InPlace > 0 {
						t.Line("%d setting(s) already had their prior value and were left alone.", rp.InPlace)
					}
					for _, m := range rp.Modified {
						t.Line("%s: overwrote (--force) %s", t.Colorize("yellow", "warning"), m.String())
					}
					for _, c := range rp.Changes {
						if c.When == plan.Boot {
							t.Line("Kernel arguments were restored in the bootloader; the running kernel keeps the old ones until a reboot.")
							break
						}
					}
				},
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
	cmd.Flags().IntVar(&to, "to", 0, "undo generation `N` and every later one (default: the last)")
	cmd.Flags().BoolVar(&all, "all", false, "undo every recorded generation")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite settings someone changed since nettune wrote them")
	cmd.Flags().IntVar(&abandon, "abandon", 0, "forget generation `N` (the newest) without reverting it, and list what it leaves on the host")
	cmd.Flags().BoolVar(&list, "list", false, "list the recorded generations and exit")
	return cmd
}

type revertBody struct {
	Generations []int             `json:"generations"`
	Reverted    []plan.Change     `json:"reverted"`
	InPlace     int               `json:"in_place"`
	Overwritten []engine.Modified `json:"overwritten,omitempty"`
}

func (a *app) abandon(cmd *cobra.Command, eng *engine.Engine, n int, yes bool) error {
	if !yes {
		if !a.io.InTTY {
			return errors.New("stdin is not a terminal: pass --yes to abandon a generation")
		}
		ok, err := a.confirm(fmt.Sprintf("Forget generation %d without reverting it (its changes stay on the host)?", n))
		if err != nil {
			return err
		}
		if !ok {
			return engine.ErrAborted
		}
	}
	ab, err := eng.Abandon(cmd.Context(), n)
	if err != nil {
		return err
	}
	return a.printer.Print(output.Document{
		Kind: "abandon",
		Body: ab,
		Table: func(t *output.TableWriter) {
			t.Line("Forgot generation %d (profile %q, %s) without reverting it.", ab.Generation.Number, ab.Generation.Profile, ab.Generation.Time)
			if len(ab.Left) == 0 {
				t.Line("None of its changes is in effect: the host has the values it had before it.")
				return
			}
			t.Line("These %d change(s) stay on the host and nettune no longer tracks them (AFTER is the value now):", len(ab.Left))
			t.Rows(changeHeader(false), changeRows(ab.Left, false))
		},
	})
}

func (a *app) listGenerations(eng *engine.Engine) error {
	gens, err := engine.Generations(eng.Env.Root)
	if err != nil {
		return err
	}
	if gens == nil {
		gens = []*engine.Generation{}
	}
	return a.printer.Print(output.Document{
		Kind: "generations",
		Body: struct {
			Generations []*engine.Generation `json:"generations"`
		}{gens},
		Table: func(t *output.TableWriter) {
			if len(gens) == 0 {
				t.Line("No generations: nothing has been applied (or everything was reverted).")
				return
			}
			var rows [][]string
			for _, g := range gens {
				state := "complete"
				if !g.Committed {
					state = "interrupted"
				}
				ns := "-"
				if g.NetNS != nil {
					ns = g.NetNS.String()
				}
				rows = append(rows, []string{fmt.Sprint(g.Number), g.Time, g.Profile, fmt.Sprint(len(g.Changes)), state, ns})
			}
			t.Rows([]string{"GENERATION", "TIME", "PROFILE", "CHANGES", "STATE", "NAMESPACE"}, rows)
		},
	})
}
