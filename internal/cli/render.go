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
func renderChanges(t *output.TableWriter, profile string, changes []plan.Change, withCommand bool, orphaned int) {
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
	if n := orphaned; n > 0 {
		t.Line("%d of them return settings an earlier apply made and this profile no longer sets to their values before nettune (apply --keep-orphans keeps them as they are).", n)
	}
}

// renderProblems writes errors and warnings below a table.
func renderProblems(t *output.TableWriter, problems []plan.Problem) {
	for _, p := range problems {
		label := t.Colorize("yellow", "warning")
		if p.Severity == plan.Error {
			label = t.Colorize("red", "error")
		}
		t.Problem("%s: %s", label, p.String())
	}
}

// planBody is the JSON/YAML shape of plan and apply --dry-run.
type planBody struct {
	Profile  string         `json:"profile"`
	Changes  []plan.Change  `json:"changes"`
	Problems []plan.Problem `json:"problems"`
	// Orphans are the keys (module/object/attribute) of the changes that
	// return settings an earlier apply made and the profile no longer
	// sets.
	Orphans []string `json:"orphans,omitempty"`
}

func newPlanBody(pr *engine.PlanResult) planBody {
	b := planBody{Profile: pr.Profile, Changes: pr.Changes(), Problems: pr.Problems}
	for _, it := range pr.Items {
		if it.Orphan && it.Status == plan.Drift {
			b.Orphans = append(b.Orphans, it.Key())
		}
	}
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
	s := fmt.Sprintf("%d ok, %d drift, %d pending-reboot, %d unsupported", pr.Count(plan.OK), pr.Count(plan.Drift), pr.Count(plan.PendingReboot), pr.Count(plan.Unsupported))
	if n := orphans(pr); n > 0 {
		s += fmt.Sprintf(" (%d of the drift orphaned: set by an earlier apply, no longer in the profile)", n)
	}
	return s
}

// orphans counts the plan's orphaned settings.
func orphans(pr *engine.PlanResult) int {
	n := 0
	for _, it := range pr.Items {
		if it.Orphan && it.Status == plan.Drift {
			n++
		}
	}
	return n
}
