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
		yes  bool
		to   int
		list bool
	)
	cmd := &cobra.Command{
		Use:   "revert",
		Short: "Undo the last apply (or every apply back to --to N)",
		Long: `Restore the host to the state it had before the last apply, from the values
journaled by that apply, newest change first. With --to N, undo generation N
and every later one. --list shows the recorded generations.

When the last generation is reverted, nettune's state directory is removed:
the host is exactly as it was before the first apply.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := a.engine()
			if err != nil {
				return err
			}
			if list {
				return a.listGenerations(eng)
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
			rp, err := eng.Revert(cmd.Context(), to, confirm)
			if err != nil {
				return err
			}
			return a.printer.Print(output.Document{
				Kind: "revert",
				Body: revertBody{Generations: rp.Generations, Reverted: nonNil(rp.Changes)},
				Table: func(t *output.TableWriter) {
					if len(rp.Changes) > 0 {
						t.Rows(changeHeader(false), changeRows(rp.Changes, false))
						t.Line("")
					}
					t.Line("Reverted generation(s) %v: %d change(s).", rp.Generations, len(rp.Changes))
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
	cmd.Flags().BoolVar(&list, "list", false, "list the recorded generations and exit")
	return cmd
}

type revertBody struct {
	Generations []int         `json:"generations"`
	Reverted    []plan.Change `json:"reverted"`
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
				rows = append(rows, []string{fmt.Sprint(g.Number), g.Time, g.Profile, fmt.Sprint(len(g.Changes)), state})
			}
			t.Rows([]string{"GENERATION", "TIME", "PROFILE", "CHANGES", "STATE"}, rows)
		},
	})
}
