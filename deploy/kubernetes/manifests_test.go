// Package kubernetes holds nettune's Kubernetes manifests (a kustomize base
// and an overlay per node role) and the tests that validate them: every
// file decodes strictly into the Kubernetes API types, every overlay
// renders with kustomize, and the rendered DaemonSet is the one
// docs/kubernetes.md describes.
package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/profile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// serviceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor
// the manifests use. The Prometheus Operator's Go types are not imported
// (a large module for one kind): a field it has and this struct lacks fails
// the strict decoding, to be added here after checking the CRD.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel  string               `json:"jobLabel"`
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
			Relabelings   []struct {
				SourceLabels []string `json:"sourceLabels"`
				TargetLabel  string   `json:"targetLabel"`
				Action       string   `json:"action"`
			} `json:"relabelings"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// newObject returns the Go type of a manifest's kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "apps/v1 DaemonSet":
		return &appsv1.DaemonSet{}, nil
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &serviceMonitor{}, nil
	case "monitoring.coreos.com/v1 PrometheusRule":
		return &prometheusRule{}, nil
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &types.Kustomization{}, nil
	}
	return nil, fmt.Errorf("no Go type for %s %s: add one to newObject", apiVersion, kind)
}

// decodeStrict decodes one YAML document into its kind's Go type; an
// unknown or misspelt field is an error.
func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, err
	}
	obj, err := newObject(tm.APIVersion, tm.Kind)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return obj, nil
}

// TestManifestsDecodeStrictly decodes every YAML file of the base and the
// overlays (kustomizations, resources, patches; not the nettune profiles,
// which TestProfilesLoad reads) into its Go type.
func TestManifestsDecodeStrictly(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".yaml" || d.Name() == "profile.yaml" || d.Name() == "kustomizeconfig.yaml" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := decodeStrict(b); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("decoded only %d files", n)
	}
	// The check itself: a misspelt field fails.
	if _, err := decodeStrict([]byte("apiVersion: apps/v1\nkind: DaemonSet\nspec:\n  updateStrategy:\n    rollingUpdat: {}\n")); err == nil || !strings.Contains(err.Error(), "rollingUpdat") {
		t.Errorf("a misspelt field decodes: %v", err)
	}
}

// TestProfilesLoad loads every profile the ConfigMaps carry, as the agent
// will.
func TestProfilesLoad(t *testing.T) {
	files, _ := filepath.Glob("*/profile.yaml")
	more, _ := filepath.Glob("overlays/*/profile.yaml")
	for _, f := range append(files, more...) {
		if _, err := profile.Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if len(files)+len(more) != 3 {
		t.Errorf("profiles: %v %v", files, more)
	}
}

// rendered is the output of kustomize build, decoded.
type rendered struct {
	ds       *appsv1.DaemonSet
	cm       *corev1.ConfigMap
	svc      *corev1.Service
	sm       *serviceMonitor
	ns       *corev1.Namespace
	sa       *corev1.ServiceAccount
	numItems int
}

func render(t *testing.T, dir string) rendered {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out rendered
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decodeStrict(b)
		if err != nil {
			t.Fatalf("%s: rendered %s: %v", dir, r.CurId(), err)
		}
		switch o := obj.(type) {
		case *appsv1.DaemonSet:
			out.ds = o
		case *corev1.ConfigMap:
			out.cm = o
		case *corev1.Service:
			out.svc = o
		case *serviceMonitor:
			out.sm = o
		case *corev1.Namespace:
			out.ns = o
		case *corev1.ServiceAccount:
			out.sa = o
		}
		out.numItems++
	}
	if out.ds == nil || out.cm == nil || out.svc == nil || out.sm == nil || out.ns == nil || out.sa == nil || out.numItems != 6 {
		t.Fatalf("%s renders %d resources, want a Namespace, ServiceAccount, ConfigMap, DaemonSet, Service and ServiceMonitor", dir, out.numItems)
	}
	return out
}

// hostMounts are the host paths the agent reads and writes, each mounted
// at the same path in the container.
var hostMounts = []string{"/sys", "/proc", "/dev", "/etc", "/boot", "/run", "/var/lib/nettune"}

// TestOverlaysRender builds the base and each overlay with kustomize and
// checks what the DaemonSet must be: privileged in the host's network and
// PID namespaces, the host paths at the same paths, the profile from the
// overlay's ConfigMap, the role's nodes, one node at a time, the probes and
// the metrics port that the Service and ServiceMonitor select.
func TestOverlaysRender(t *testing.T) {
	for _, tc := range []struct{ dir, role, prefix, image, profile string }{
		{"base", "", "", "ghcr.io/nettune/nettune:latest", "k8s-base"},
		{"overlays/dpdk", "dpdk", "dpdk-", "ghcr.io/nettune/nettune-full:latest", "k8s-dpdk"},
		{"overlays/kernel-throughput", "kernel-throughput", "kernel-throughput-", "ghcr.io/nettune/nettune-full:latest", "k8s-kernel-throughput"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			r := render(t, tc.dir)
			ds, spec := r.ds, r.ds.Spec.Template.Spec
			if ds.Name != tc.prefix+"nettune" || ds.Namespace != "nettune-system" || r.ns.Name != "nettune-system" {
				t.Errorf("DaemonSet %s/%s, Namespace %s", ds.Namespace, ds.Name, r.ns.Name)
			}
			if !spec.HostNetwork || !spec.HostPID || spec.ServiceAccountName != r.sa.Name {
				t.Errorf("hostNetwork %v, hostPID %v, serviceAccount %q (%q rendered)", spec.HostNetwork, spec.HostPID, spec.ServiceAccountName, r.sa.Name)
			}
			if u := ds.Spec.UpdateStrategy; u.Type != appsv1.RollingUpdateDaemonSetStrategyType || u.RollingUpdate == nil || u.RollingUpdate.MaxUnavailable.String() != "1" {
				t.Errorf("updateStrategy %+v", u)
			}
			if spec.NodeSelector["nettune.io/managed"] != "true" || spec.NodeSelector["nettune.io/role"] != tc.role {
				t.Errorf("nodeSelector %v", spec.NodeSelector)
			}
			if len(spec.Containers) != 1 {
				t.Fatalf("%d containers", len(spec.Containers))
			}
			c := spec.Containers[0]
			if c.Image != tc.image || c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
				t.Errorf("image %q, securityContext %+v", c.Image, c.SecurityContext)
			}
			if len(c.Args) == 0 || c.Args[0] != "agent" || c.Args[len(c.Args)-1] != "/nettune/profile/profile.yaml" {
				t.Errorf("args %q", c.Args)
			}
			if !slices.Contains(c.Args, "--termination-log="+c.TerminationMessagePath) || strings.HasPrefix(c.TerminationMessagePath, "/dev/") {
				t.Errorf("terminationMessagePath %q, args %q: the agent must write the file Kubernetes reads, outside the host's /dev", c.TerminationMessagePath, c.Args)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
				t.Errorf("resource requests %v", c.Resources.Requests)
			}
			if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.String() != "metrics" {
				t.Errorf("readinessProbe %+v", p)
			}
			if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
				t.Errorf("livenessProbe %+v", p)
			}
			if len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || c.Ports[0].ContainerPort != 9617 || c.Args[1] != "--listen=:9617" {
				t.Errorf("ports %+v, args %q", c.Ports, c.Args)
			}
			mounts := map[string]string{}
			for _, m := range c.VolumeMounts {
				mounts[m.Name] = m.MountPath
			}
			hostPaths := map[string]bool{}
			for _, v := range spec.Volumes {
				switch {
				case v.HostPath != nil:
					if mounts[v.Name] != v.HostPath.Path {
						t.Errorf("host %s is mounted at %q, not at the same path", v.HostPath.Path, mounts[v.Name])
					}
					hostPaths[v.HostPath.Path] = true
				case v.ConfigMap != nil:
					if v.ConfigMap.Name != r.cm.Name || mounts[v.Name] != "/nettune/profile" {
						t.Errorf("profile volume from ConfigMap %q (rendered %q) at %q", v.ConfigMap.Name, r.cm.Name, mounts[v.Name])
					}
				default:
					t.Errorf("volume %s is neither a host path nor the profile", v.Name)
				}
			}
			for _, p := range hostMounts {
				if !hostPaths[p] {
					t.Errorf("host path %s is not mounted", p)
				}
			}
			if len(hostPaths) != len(hostMounts) {
				t.Errorf("host paths %v, want %v", hostPaths, hostMounts)
			}

			// The ConfigMap carries the overlay's profile, which loads.
			f := filepath.Join(t.TempDir(), "profile.yaml")
			if err := os.WriteFile(f, []byte(r.cm.Data["profile.yaml"]), 0o644); err != nil {
				t.Fatal(err)
			}
			if p, err := profile.Load(f); err != nil || p.Metadata.Name != tc.profile {
				t.Errorf("the ConfigMap's profile: %v (%+v)", err, p)
			}

			// The pods carry the labels the Service selects, and the
			// ServiceMonitor selects this overlay's Service only.
			pod := ds.Spec.Template.Labels
			for k, v := range r.svc.Spec.Selector {
				if pod[k] != v {
					t.Errorf("Service selects %s=%s, pods have %v", k, v, pod)
				}
			}
			if tc.role != "" && (r.svc.Spec.Selector["nettune.io/role"] != tc.role || r.sm.Spec.Selector.MatchLabels["nettune.io/role"] != tc.role) {
				t.Errorf("Service selector %v, ServiceMonitor selector %v: want role %s", r.svc.Spec.Selector, r.sm.Spec.Selector.MatchLabels, tc.role)
			}
			for k, v := range r.sm.Spec.Selector.MatchLabels {
				if r.svc.Labels[k] != v {
					t.Errorf("ServiceMonitor selects %s=%s, Service has %v", k, v, r.svc.Labels)
				}
			}
			if len(r.svc.Spec.Ports) != 1 || r.svc.Spec.Ports[0].Name != "metrics" || len(r.sm.Spec.Endpoints) != 1 || r.sm.Spec.Endpoints[0].Port != "metrics" {
				t.Errorf("Service ports %+v, ServiceMonitor endpoints %+v", r.svc.Spec.Ports, r.sm.Spec.Endpoints)
			}
			if !slices.Contains(r.sm.Spec.Endpoints[0].Relabelings[0].SourceLabels, "__meta_kubernetes_pod_node_name") {
				t.Errorf("ServiceMonitor does not label series with the node")
			}
			if rl := r.sm.Spec.Endpoints[0].Relabelings; len(rl) < 2 || !slices.Equal(rl[1].SourceLabels, []string{"__meta_kubernetes_pod_label_nettune_io_role"}) || rl[1].TargetLabel != "role" || tc.role != "" && ds.Spec.Template.Labels["nettune.io/role"] != tc.role {
				t.Errorf("ServiceMonitor relabelings %+v, pod labels %v: the series must carry the pod's nettune.io/role as role (NettuneProfileDiffersInRole)", rl, ds.Spec.Template.Labels)
			}
		})
	}
}
