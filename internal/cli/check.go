package cli

import (
	"errors"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/spf13/cobra"
)

func (a *app) checkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check PROFILE",
		Short: "Report whether the host still matches the profile",
		Long: `Re-observe the host and report every setting of the profile as ok, drift or
pending-reboot (configured for the next boot, not active in the running
kernel), with the warnings nettune knows about.

` + exitCodesHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profile.Load(args[0])
			if err != nil {
				return err
			}
			eng, err := a.engine()
			if err != nil {
				return err
			}
			pr, perr := eng.Check(cmd.Context(), p)
			if pr == nil {
				return perr
			}
			items := pr.Items
			if items == nil {
				items = []plan.Item{}
			}
			body := checkBody{Profile: pr.Profile, Status: overall(pr, perr), Items: items, Problems: nonNilP(pr.Problems)}
			err = a.printer.Print(output.Document{
				Kind: "check",
				Body: body,
				Table: func(t *output.TableWriter) {
					var rows [][]string
					for _, it := range pr.Items {
						rows = append(rows, []string{statusCell(t, it.Status), it.Module, it.Object, it.Attribute, output.Abbrev(it.After, cellWidth), output.Abbrev(it.Before, cellWidth), it.Detail})
					}
					if len(rows) > 0 {
						t.Rows([]string{"STATUS", "MODULE", "OBJECT", "ATTRIBUTE", "DESIRED", "ACTUAL", "DETAIL"}, rows)
						t.Line("")
					}
					t.Line("%s: %s", body.Status, summary(pr))
					renderProblems(t, pr.Problems)
				},
			})
			if err != nil {
				return err
			}
			if perr != nil {
				return errors.New("the profile does not fit this host (see the errors above)")
			}
			switch body.Status {
			case string(plan.Drift):
				return exitError{ExitDrift}
			case string(plan.PendingReboot):
				return exitError{ExitPendingReboot}
			}
			return nil
		},
	}
	return cmd
}

type checkBody struct {
	Profile  string         `json:"profile"`
	Status   string         `json:"status"`
	Items    []plan.Item    `json:"items"`
	Problems []plan.Problem `json:"problems"`
}

// overall is the status of the whole host: drift beats pending-reboot
// beats ok.
func overall(pr *engine.PlanResult, perr error) string {
	switch {
	case perr != nil:
		return "error"
	case pr.Count(plan.Drift) > 0:
		return string(plan.Drift)
	case pr.Count(plan.PendingReboot) > 0:
		return string(plan.PendingReboot)
	}
	return string(plan.OK)
}
