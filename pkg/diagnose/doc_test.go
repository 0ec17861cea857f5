package diagnose

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/diagnostics-rules.md")

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
	const p = "../../docs/diagnostics-rules.md"
	if *update {
		os.WriteFile(p, []byte(b.String()), 0o644)
	}
	want, err := os.ReadFile(p)
	if err != nil || string(want) != b.String() {
		t.Fatalf("%s is stale (go test ./pkg/diagnose -update): %v", p, err)
	}
}
