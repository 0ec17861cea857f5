package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/diagnose"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/spf13/cobra"
)

func (a *app) checkCommand() *cobra.Command {
	var (
		interval    time.Duration
		diagnostics bool
		verbose     bool
		only        []string
	)
	cmd := &cobra.Command{
		Use: "check [PROFILE]",
		Example: `  nettune check kernel-throughput
  nettune check --interval 0 --only nics -o json ./my-host.yaml
  nettune check --interval 10s`,
		Short: "Report drift from the profile and diagnose the host",
		Long: `Re-observe the host and report every setting of the profile as ok, drift or
pending-reboot (configured for the next boot, not active in the running
kernel), with the warnings nettune knows about. Then run the diagnostics
(rule IDs NT101...; see docs/diagnostics.md): counters such as
/proc/net/softnet_stat, NIC drops and interrupts on isolated CPUs are
sampled twice, --interval apart (0 skips those rules).

The table's BEFORE is the value on the host now and AFTER the profile's
(the before and after of each item in -o json), as in plan. --only limits
the check to some sections of the profile, as for plan and apply.

Without PROFILE only the diagnostics run. A warning or error finding counts
as drift for the exit code.

` + exitCodesHelp,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval < 0 {
				return fmt.Errorf("invalid --interval %s: a sampling interval cannot be negative; give a duration such as 3s, or 0 to skip the sampled rules", interval)
			}
			if len(only) > 0 && len(args) == 0 {
				return errors.New("--only selects sections of a profile: name one (nettune check --only nics PROFILE)")
			}
			eng, err := a.engine()
			if err != nil {
				return err
			}
			eng.Only = only
			// The plan and the diagnostics read the host once (topology,
			// /proc/interrupts): one memo for both.
			ctx, cancel := context.WithCancel(module.WithMemo(cmd.Context()))
			defer cancel()
			var p *profile.Profile
			var spec *profile.Spec
			if len(args) == 1 {
				if p, err = profile.Load(args[0]); err != nil {
					return err
				}
				if err := onlySections(p, only); err != nil {
					return err
				}
				spec = &p.Spec
			}
			// The diagnostics run while the profile is checked: both only
			// read, and the sampled rules wait out --interval meanwhile.
			type diagResult struct {
				findings []diagnose.Finding
				err      error
			}
			diag := make(chan diagResult, 1)
			if diagnostics {
				if interval > 0 && a.printer.Format == output.Table && a.io.OutTTY {
					fmt.Fprintf(a.io.ErrOut, "sampling counters for %s...\n", interval)
				}
				go func() {
					f, err := diagnose.Run(ctx, eng.Env.Root, diagnose.Options{Spec: spec, Interval: interval})
					diag <- diagResult{f, err}
				}()
			} else {
				diag <- diagResult{}
			}
			pr := &engine.PlanResult{}
			var perr error
			if p != nil {
				if pr, perr = eng.Check(ctx, p); pr == nil {
					return perr
				}
			}
			d := <-diag
			if d.err != nil {
				return fmt.Errorf("diagnostics: %w", d.err)
			}
			findings := d.findings
			if findings == nil {
				findings = []diagnose.Finding{}
			}
			items := pr.Items
			if items == nil {
				items = []plan.Item{}
			}
			body := checkBody{Profile: pr.Profile, Status: overall(pr, perr, findings), Items: items, Problems: nonNilP(pr.Problems), Findings: findings}
			err = a.printer.Print(output.Document{
				Kind: "check",
				Body: body,
				Table: func(t *output.TableWriter) {
					var rows [][]string
					for _, r := range checkRows(pr.Items, verbose) {
						rows = append(rows, []string{statusCell(t, r.Status), r.Module, r.Object, r.Attribute, output.Abbrev(r.Before, cellWidth), output.Abbrev(r.After, cellWidth), r.Detail})
					}
					if len(rows) > 0 {
						t.Rows([]string{"STATUS", "MODULE", "OBJECT", "ATTRIBUTE", "BEFORE", "AFTER", "DETAIL"}, rows)
						t.Line("")
					}
					renderFindings(t, findings)
					t.Line("%s: %s, %d finding(s)", body.Status, summary(pr), len(findings))
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
	cmd.Flags().DurationVar(&interval, "interval", 3*time.Second, "how long to sample rate counters (softnet, NIC drops, interrupts); 0 skips those rules")
	cmd.Flags().BoolVar(&diagnostics, "diagnostics", true, "run the diagnostic rules")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "one table row per item: do not fold a NIC's queues and queue IRQs that share status and attribute into one row")
	cmd.Flags().StringSliceVar(&only, "only", nil, onlyUsage("check"))
	return cmd
}

type checkBody struct {
	Profile  string             `json:"profile"`
	Status   string             `json:"status"`
	Items    []plan.Item        `json:"items"`
	Problems []plan.Problem     `json:"problems"`
	Findings []diagnose.Finding `json:"findings"`
}

func renderFindings(t *output.TableWriter, findings []diagnose.Finding) {
	for _, f := range findings {
		color := map[diagnose.Severity]string{diagnose.Error: "red", diagnose.Warning: "yellow", diagnose.Info: "dim"}[f.Severity]
		t.Line("%s %s %s: %s", t.Colorize(color, string(f.Severity)), f.Rule, f.Name, f.Message)
		if f.Evidence != "" {
			t.Line("    evidence: %s", f.Evidence)
		}
		t.Line("    remedy:   %s", f.Remedy)
	}
	if len(findings) > 0 {
		t.Line("")
	}
}

// overall is the status of the whole host: drift (or a warning or error
// finding) beats pending-reboot beats ok.
func overall(pr *engine.PlanResult, perr error, findings []diagnose.Finding) string {
	serious := false
	for _, f := range findings {
		if f.Severity != diagnose.Info {
			serious = true
		}
	}
	switch {
	case perr != nil:
		return "error"
	case pr.Count(plan.Drift) > 0 || serious:
		return string(plan.Drift)
	case pr.Count(plan.PendingReboot) > 0:
		return string(plan.PendingReboot)
	}
	return string(plan.OK)
}
