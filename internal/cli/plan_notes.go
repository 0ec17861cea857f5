package cli

import (
	"strings"

	"github.com/nettune/nettune/internal/output"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/plan"
)

// renderOrderNotes writes, below a plan's table, the details that say a
// change depends on an earlier one of the same apply: a VF binding or
// setting pending on the VF's creation, a VF count that goes through 0.
func renderOrderNotes(t *output.TableWriter, pr *engine.PlanResult) {
	for _, it := range pr.Items {
		if it.Status != plan.Drift || it.CheckOnly {
			continue
		}
		if strings.HasPrefix(it.Detail, "pending on creation") || strings.HasPrefix(it.Detail, "through 0") {
			t.Line("%s %s %s: %s", it.Module, it.Object, it.Attribute, it.Detail)
		}
	}
}
