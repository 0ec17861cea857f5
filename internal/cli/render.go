package cli

import (
	"fmt"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/plan"
)

const cellWidth = 40

// changeRows renders changes as table rows.
func changeRows(changes []plan.Change, withCommand bool) [][]string {
	var rows [][]string
	for _, c := range changes {
		row := []string{c.Module, c.Object, c.Attribute, output.Abbrev(c.Before, cellWidth), output.Abbrev(c.After, cellWidth), string(c.When)}
		if withCommand {
			row = append(row, c.Command)
		}
		rows = append(rows, row)
	}
	return rows
}

func changeHeader(withCommand bool) []string {
	h := []string{"MODULE", "OBJECT", "ATTRIBUTE", "BEFORE", "AFTER", "WHEN"}
	if withCommand {
		h = append(h, "COMMAND")
	}
	return h
}

// renderChanges writes a plan's changes, or "no changes".
func renderChanges(t *output.TableWriter, profile string, changes []plan.Change, withCommand bool) {
	if len(changes) == 0 {
		t.Line("No changes: the host already matches profile %q.", profile)
		return
	}
	t.Rows(changeHeader(withCommand), changeRows(changes, withCommand))
	live, boot := 0, 0
	for _, c := range changes {
		if c.When == plan.Boot {
			boot++
		} else {
			live++
		}
	}
	t.Line("")
	t.Line("%d change(s): %d live, %d at next boot.", len(changes), live, boot)
}

// renderProblems writes errors and warnings below a table.
func renderProblems(t *output.TableWriter, problems []plan.Problem) {
	for _, p := range problems {
		label := t.Colorize("yellow", "warning")
		if p.Severity == plan.Error {
			label = t.Colorize("red", "error")
		}
		t.Line("%s: %s", label, p.String())
	}
}

// planBody is the JSON/YAML shape of plan and apply --dry-run.
type planBody struct {
	Profile  string         `json:"profile"`
	Changes  []plan.Change  `json:"changes"`
	Problems []plan.Problem `json:"problems"`
}

func newPlanBody(pr *engine.PlanResult) planBody {
	b := planBody{Profile: pr.Profile, Changes: pr.Changes(), Problems: pr.Problems}
	if b.Changes == nil {
		b.Changes = []plan.Change{}
	}
	if b.Problems == nil {
		b.Problems = []plan.Problem{}
	}
	return b
}

// statusCell colors a check status.
func statusCell(t *output.TableWriter, s plan.Status) string {
	switch s {
	case plan.OK:
		return t.Colorize("green", string(s))
	case plan.Drift:
		return t.Colorize("red", string(s))
	}
	return t.Colorize("yellow", string(s))
}

func summary(pr *engine.PlanResult) string {
	return fmt.Sprintf("%d ok, %d drift, %d pending-reboot", pr.Count(plan.OK), pr.Count(plan.Drift), pr.Count(plan.PendingReboot))
}
