// Package prometheus holds example Prometheus alerting rules for nettune's
// exporter and agent (nettune-rules.yaml) and their unit tests
// (nettune-rules.test.yaml), which the Go tests here run with promtool.
package prometheus

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/exporter"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"
)

const (
	rulesFile = "nettune-rules.yaml"
	testsFile = "nettune-rules.test.yaml"
)

// promtool returns the path of promtool. Locally a missing promtool skips
// the test; in CI (CI set, as .ci/run has it), where scripts/deps.sh
// installs it from Debian's prometheus package, it fails.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	msg := "promtool is not installed: scripts/deps.sh installs it (Debian's prometheus package ships it)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must run these tests")
	}
	t.Skip(msg)
	return ""
}

func runPromtool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRulesCheck: promtool check rules accepts the rules file.
func TestRulesCheck(t *testing.T) {
	out := runPromtool(t, "check", "rules", rulesFile)
	if n := len(alerts(t)); !strings.Contains(out, "SUCCESS") || n < 8 {
		t.Fatalf("%d alerts; promtool:\n%s", n, out)
	}
}

// TestRulesUnitTests: promtool test rules runs the rules' unit tests.
func TestRulesUnitTests(t *testing.T) {
	out := runPromtool(t, "test", "rules", testsFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool:\n%s", out)
	}
}

type ruleGroups struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// alerts returns the rules file's alerts by name, with their expressions.
func alerts(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var g ruleGroups
	if err := yaml.UnmarshalStrict(b, &g); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, grp := range g.Groups {
		for _, r := range grp.Rules {
			out[r.Alert] = r.Expr
		}
	}
	return out
}

// TestEveryAlertIsTested: each alert of the rules file has a unit test in
// which it fires and one at which it must not (a rule whose threshold or
// duration is wrong fails one of them).
func TestEveryAlertIsTested(t *testing.T) {
	b, err := os.ReadFile(testsFile)
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		RuleFiles          []string `json:"rule_files"`
		EvaluationInterval string   `json:"evaluation_interval"`
		Tests              []struct {
			Name          string `json:"name"`
			Interval      string `json:"interval"`
			InputSeries   []any  `json:"input_series"`
			AlertRuleTest []struct {
				EvalTime  string `json:"eval_time"`
				AlertName string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.UnmarshalStrict(b, &tests); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tests.RuleFiles, []string{rulesFile}) {
		t.Errorf("rule_files %v, want [%s]", tests.RuleFiles, rulesFile)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.AlertName] = true
			} else {
				quiet[a.AlertName] = true
			}
		}
	}
	for name := range alerts(t) {
		if !fires[name] {
			t.Errorf("%s: no test in which it fires", name)
		}
		if !quiet[name] {
			t.Errorf("%s: no test at which it must not fire", name)
		}
	}
}

// agentMetrics are the metrics nettune agent adds to the exporter's
// (internal/cli/agent.go; docs/kubernetes.md lists them).
var agentMetrics = []string{"nettune_agent_last_apply_success"}

// TestRulesUseServedMetrics: every nettune metric a rule reads is one the
// exporter describes (or the agent's, listed above and checked against
// its source), so a renamed metric cannot leave an alert that never fires.
func TestRulesUseServedMetrics(t *testing.T) {
	served := map[string]bool{}
	ch := make(chan *prometheus.Desc, 100)
	(&exporter.Collector{}).Describe(ch)
	close(ch)
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			served[m[1]] = true
		}
	}
	if !served["nettune_setting_in_sync"] || len(served) < 10 {
		t.Fatalf("the exporter describes %v", served)
	}
	src, err := os.ReadFile("../../internal/cli/agent.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range agentMetrics {
		if !strings.Contains(string(src), `prometheus.NewDesc("`+m+`"`) {
			t.Errorf("the agent does not serve %s", m)
		}
		served[m] = true
	}
	name := regexp.MustCompile(`\bnettune_[a-z_]+\b`)
	for alert, expr := range alerts(t) {
		for _, m := range name.FindAllString(expr, -1) {
			if !served[m] {
				t.Errorf("%s reads %s, which neither the exporter nor the agent serves", alert, m)
			}
		}
	}
}
