package cli

import (
	"errors"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/spf13/cobra"
)

func (a *app) planCommand() *cobra.Command {
	var (
		detailed bool
		only     []string
	)
	cmd := &cobra.Command{
		Use: "plan PROFILE",
		Example: `  nettune plan kernel-throughput
  nettune plan --only sysctl,nics ./my-host.yaml
  nettune plan --detailed-exitcode -o json ./my-host.yaml`,
		Short: "Show what apply would change",
		Long: `Observe the host, compare it with the profile and show every change apply would
make: the object, its current and desired value, and whether it takes effect
live or at the next boot. Nothing is written.

PROFILE is a file or the name of a shipped profile.

With --detailed-exitcode: 0 no changes, 1 error, 2 changes pending.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profile.Load(args[0])
			if err != nil {
				return err
			}
			if err := onlySections(p, only); err != nil {
				return err
			}
			eng, err := a.engine()
			if err != nil {
				return err
			}
			eng.Only = only
			pr, perr := eng.Plan(cmd.Context(), p)
			if pr == nil {
				return perr
			}
			if err := a.printPlan(pr, false); err != nil {
				return err
			}
			if perr != nil {
				return errors.New("the profile does not fit this host (see the errors above)")
			}
			if detailed && len(pr.Changes()) > 0 {
				return exitError{ExitDrift}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when there are changes to apply")
	cmd.Flags().StringSliceVar(&only, "only", nil, onlyUsage("plan"))
	return cmd
}

func (a *app) printPlan(pr *engine.PlanResult, withCommand bool) error {
	body := newPlanBody(pr)
	return a.printer.Print(output.Document{
		Kind: "plan",
		Body: body,
		Table: func(t *output.TableWriter) {
			if len(pr.Errors()) > 0 {
				t.Line("No plan: profile %q does not fit this host.", pr.Profile)
			} else {
				renderChanges(t, pr.Profile, body.Changes, withCommand, orphans(pr))
				renderOrderNotes(t, pr)
			}
			renderProblems(t, pr.Problems)
		},
	})
}
