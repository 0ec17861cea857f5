package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/nettune/nettune/pkg/systemd"
	"github.com/spf13/cobra"
)

// statusBody is the JSON/YAML shape of status.
type statusBody struct {
	// Installed is the profile 'nettune install' recorded, nil when none.
	Installed *installedProfile `json:"installed"`
	// Generation is the newest recorded generation, nil when none.
	Generation *activeGeneration `json:"generation"`
	// Generations is how many generations are recorded.
	Generations int `json:"generations"`
	// Status is ok, drift or pending-reboot for the installed profile
	// (what check would say, without diagnostics), not-installed without
	// one.
	Status        string `json:"status"`
	OK            int    `json:"ok"`
	Drift         int    `json:"drift"`
	PendingReboot int    `json:"pending_reboot"`
	Unsupported   int    `json:"unsupported"`
}

type installedProfile struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

type activeGeneration struct {
	Number   int    `json:"number"`
	Profile  string `json:"profile"`
	Time     string `json:"time"`
	Complete bool   `json:"complete"`
}

const notInstalled = "not-installed"

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the installed profile, the active generation and whether the host is in sync",
		Long: `Show the profile 'nettune install' recorded (` + systemd.ProfilePath + `), the
newest generation in the journal (what 'nettune revert' would undo), and
whether the host matches the installed profile: its settings are observed
as 'nettune check' does (without the diagnostics) and counted as ok, drift
and pending-reboot (configured for the next boot, not yet active).
Nothing is written. Exit status as check (0 also when no profile is
installed).

` + exitCodesHelp,
		Example: `  nettune status
  nettune status -o json
  nettune --root ./snapshot status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := a.engine()
			if err != nil {
				return err
			}
			r := eng.Env.Root
			body := statusBody{Status: notInstalled}
			gens, err := engine.Generations(r)
			if err != nil {
				return fmt.Errorf("read the journal: %w", err)
			}
			body.Generations = len(gens)
			if n := len(gens); n > 0 {
				g := gens[n-1]
				body.Generation = &activeGeneration{Number: g.Number, Profile: g.Profile, Time: g.Time, Complete: g.Committed}
			}
			var pr *engine.PlanResult
			data, err := r.ReadFile(r.Path(systemd.ProfilePath))
			switch {
			case errors.Is(err, os.ErrNotExist):
			case err != nil:
				return fmt.Errorf("read the installed profile: %w", err)
			default:
				p, err := profile.Parse(systemd.ProfilePath, data)
				if err != nil {
					return fmt.Errorf("the installed profile does not load (reinstall it with 'nettune install PROFILE'): %w", err)
				}
				body.Installed = &installedProfile{Name: p.Metadata.Name, Path: systemd.ProfilePath}
				var perr error
				if pr, perr = eng.Check(cmd.Context(), p); pr == nil {
					return perr
				} else if perr != nil {
					a.printPlan(pr, false)
					return fmt.Errorf("the installed profile %q does not fit this host (see the errors above)", p.Metadata.Name)
				}
				body.Status = overall(pr, nil, nil)
				body.OK, body.Drift, body.PendingReboot, body.Unsupported = pr.Count(plan.OK), pr.Count(plan.Drift), pr.Count(plan.PendingReboot), pr.Count(plan.Unsupported)
			}
			err = a.printer.Print(output.Document{
				Kind: "status",
				Body: body,
				Table: func(t *output.TableWriter) {
					var rows [][]string
					if body.Installed == nil {
						rows = append(rows, []string{"Installed profile:", "none ('nettune install PROFILE' applies one at every boot)"})
					} else {
						rows = append(rows, []string{"Installed profile:", fmt.Sprintf("%s (%s)", body.Installed.Name, body.Installed.Path)})
					}
					if g := body.Generation; g == nil {
						rows = append(rows, []string{"Active generation:", "none (nothing applied, or everything reverted)"})
					} else {
						state := ""
						if !g.Complete {
							state = ", " + t.Colorize("red", "interrupted")
						}
						rows = append(rows, []string{"Active generation:", fmt.Sprintf("%d of %d, profile %q, %s%s", g.Number, body.Generations, g.Profile, g.Time, state)})
					}
					if body.Installed != nil {
						sync := t.Colorize("green", "yes")
						switch {
						case body.Drift > 0:
							sync = t.Colorize("red", "no") + fmt.Sprintf(": %d setting(s) drifted", body.Drift)
						case body.PendingReboot > 0:
							sync = t.Colorize("yellow", "after a reboot")
						}
						rows = append(rows, []string{"In sync:", fmt.Sprintf("%s (%s)", sync, summary(pr))})
						pending := "no"
						if body.PendingReboot > 0 {
							pending = t.Colorize("yellow", "yes") + fmt.Sprintf(": %d setting(s) take effect at the next boot", body.PendingReboot)
						}
						rows = append(rows, []string{"Pending reboot:", pending})
					}
					for _, row := range rows {
						t.Line("%-19s %s", row[0], row[1])
					}
					if body.Drift > 0 {
						t.Line("")
						t.Line("Details: %s", a.hint("check "+host.ShellQuote(r.Path(systemd.ProfilePath))))
					}
				},
			})
			if err != nil {
				return err
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
}
