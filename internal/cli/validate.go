package cli

import (
	"errors"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/spf13/cobra"
)

func (a *app) validateCommand() *cobra.Command {
	var noHost bool
	cmd := &cobra.Command{
		Use: "validate PROFILE",
		Example: `  nettune validate ./my-host.yaml
  nettune validate --no-host -o json ./my-host.yaml`,
		Short: "Check a profile's syntax, and that it fits this host",
		Long: `Decode the profile strictly (unknown keys, wrong types, bad enums, CPU lists and
sizes are errors with file:line:col and the field path), then validate it
against the host under --root (CPUs, sysctls, devices that exist). With
--no-host only the file itself is checked.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profile.Load(args[0])
			if err != nil {
				var list profile.ErrorList
				var one *profile.Error
				if a.printer.Format != output.Table && (errors.As(err, &list) || errors.As(err, &one)) {
					if one != nil {
						list = profile.ErrorList{one}
					}
					a.printer.Print(output.Document{Kind: "validate", Body: validateBody{Valid: false, Errors: list, Problems: []plan.Problem{}}})
				}
				return err
			}
			body := validateBody{Profile: p.Metadata.Name, Valid: true, Errors: profile.ErrorList{}, Problems: []plan.Problem{}}
			var perr error
			if !noHost {
				eng, err := a.engine()
				if err != nil {
					return err
				}
				pr, err := eng.Plan(cmd.Context(), p)
				if pr == nil {
					return err
				}
				perr = err
				body.Problems = nonNilP(pr.Problems)
				body.Valid = err == nil
			}
			if err := a.printer.Print(output.Document{Kind: "validate", Body: body, Table: func(t *output.TableWriter) {
				renderProblems(t, body.Problems)
				if body.Valid {
					where := "this host"
					if noHost {
						where = "its syntax"
					}
					t.Line("Profile %q is valid (%s checked).", p.Metadata.Name, where)
				}
			}}); err != nil {
				return err
			}
			if perr != nil {
				return errors.New("the profile does not fit this host (see the errors above)")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noHost, "no-host", false, "check only the profile file, not the host")
	return cmd
}

type validateBody struct {
	Profile  string            `json:"profile,omitempty"`
	Valid    bool              `json:"valid"`
	Errors   profile.ErrorList `json:"errors"`
	Problems []plan.Problem    `json:"problems"`
}
