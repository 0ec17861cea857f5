package diagnose

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

// TestRulesDocUpToDate keeps the rule table in the docs in step with Rules.
func TestRulesDocUpToDate(t *testing.T) {
	var b strings.Builder
	b.WriteString("<!-- Generated from pkg/diagnose/rules.go (go test ./pkg/diagnose -update). Do not edit. -->\n")
	b.WriteString("| rule | name | sampled | what it finds |\n|---|---|---|---|\n")
	for _, r := range Rules() {
		sampled := ""
		if r.Rate {
			sampled = "yes"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", r.ID, r.Name, sampled, r.Doc)
	}
	fixture.Golden(t, "../../docs/diagnostics-rules.md", []byte(b.String()))
}
