package kubernetes

import (
	"os"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// ruleGroup is a Prometheus rule group as the Prometheus Operator's
// PrometheusRule (spec.groups) and a Prometheus rules file have it, with
// the fields nettune's rules use.
type ruleGroup struct {
	Name  string `json:"name"`
	Rules []struct {
		Alert       string            `json:"alert"`
		Expr        string            `json:"expr"`
		For         string            `json:"for"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"rules"`
}

// prometheusRule is the part of monitoring.coreos.com/v1 PrometheusRule
// the manifests use (see serviceMonitor).
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []ruleGroup `json:"groups"`
	} `json:"spec"`
}

// TestMonitoringRenders: deploy/kubernetes/monitoring renders one
// PrometheusRule in nettune's namespace whose groups are exactly those of
// deploy/prometheus/nettune-rules.yaml, which promtool checks and tests
// (deploy/prometheus).
func TestMonitoringRenders(t *testing.T) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "monitoring")
	if err != nil {
		t.Fatalf("kustomize build monitoring: %v", err)
	}
	if n := len(m.Resources()); n != 1 {
		t.Fatalf("monitoring renders %d resources, want the PrometheusRule", n)
	}
	b, err := m.Resources()[0].AsYAML()
	if err != nil {
		t.Fatal(err)
	}
	obj, err := decodeStrict(b)
	if err != nil {
		t.Fatal(err)
	}
	pr, ok := obj.(*prometheusRule)
	if !ok || pr.Namespace != "nettune-system" || pr.Labels["app.kubernetes.io/name"] != "nettune" {
		t.Fatalf("rendered %T %+v", obj, obj)
	}

	var file struct {
		Groups []ruleGroup `json:"groups"`
	}
	src, err := os.ReadFile("../prometheus/nettune-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(src, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Groups) == 0 || len(file.Groups[0].Rules) < 8 {
		t.Fatalf("rules file: %+v", file)
	}
	if !reflect.DeepEqual(pr.Spec.Groups, file.Groups) {
		t.Errorf("monitoring/prometheusrule.yaml's groups differ from deploy/prometheus/nettune-rules.yaml's: copy the file's groups under spec:\n%+v\n%+v", pr.Spec.Groups, file.Groups)
	}
}
