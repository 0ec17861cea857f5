package cli

import (
	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/spf13/cobra"
)

func (a *app) listCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the profiles nettune can apply by name, with their descriptions",
		Long: `List the operator's profiles in ` + profile.EtcDir + ` (read under --root)
and the profiles shipped with nettune, with their descriptions. A name given
to plan, apply, check or install is looked up in ` + profile.EtcDir + ` of the
machine nettune runs on first, then among the shipped profiles, so a file
there named like a shipped profile takes its place (it can still extend the
shipped one by its name). A profile that does not load is listed with the
reason.`,
		Example: `  nettune list
  nettune list -o json
  nettune profile show kernel-throughput`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := host.New(a.g.root)
			if err != nil {
				return err
			}
			dir, err := r.Resolve(r.Path(profile.EtcDir))
			if err != nil {
				return err
			}
			entries, err := profile.List(dir, profile.EtcDir)
			if err != nil {
				return err
			}
			if entries == nil {
				entries = []profile.Entry{}
			}
			return a.printer.Print(output.Document{
				Kind: "profiles",
				Body: struct {
					Profiles []profile.Entry `json:"profiles"`
				}{entries},
				Table: func(t *output.TableWriter) {
					var rows [][]string
					for _, e := range entries {
						desc := e.Description
						switch {
						case e.Error != "":
							desc = t.Colorize("red", "invalid") + ": " + e.Error
						case e.ShadowedBy != "":
							desc += " (by name: " + e.ShadowedBy + ")"
						}
						if desc == "" {
							desc = "-"
						}
						rows = append(rows, []string{e.Name, e.Source, desc})
					}
					t.Rows([]string{"NAME", "SOURCE", "DESCRIPTION"}, rows)
				},
			})
		},
	}
}
