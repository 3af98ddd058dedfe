package chart

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var allValues = filepath.Join("testdata", "all-values.yaml")

// The chart lints clean (strictly: unknown template fields are errors)
// with its defaults and with every value set.
func TestChartLints(t *testing.T) {
	for _, args := range [][]string{nil, {"-f", allValues}} {
		out, stderr, err := runHelm(t, append([]string{"lint", "--strict", chartDir}, args...)...)
		if err != nil {
			t.Errorf("helm lint %v: %v\n%s%s", args, err, out, stderr)
		}
	}
}

// Rendered with defaults the chart holds config/default's objects but
// the Namespace (helm install --create-namespace makes it), and the
// optional ServiceMonitor and PrometheusRule only when asked.
func TestDefaultRenderHasConfigDefaultsObjects(t *testing.T) {
	chart := render(t)
	names := func(objs []*unstructured.Unstructured) []string {
		var out []string
		for _, u := range objs {
			if u.GetKind() == "Namespace" {
				continue
			}
			if strings.HasPrefix(u.GetKind(), "ValidatingAdmissionPolicy") {
				// Cluster-scoped; kustomize, not knowing the kind, sets
				// its namespace, which the API server ignores.
				u = u.DeepCopy()
				u.SetNamespace("")
			}
			out = append(out, describe(u))
		}
		slices.Sort(out)
		return out
	}
	if got, want := names(chart), names(kustomize(t, "default")); !slices.Equal(got, want) {
		t.Errorf("default render\n  %v\nconfig/default\n  %v", got, want)
	}
	for _, u := range chart {
		if u.GetKind() == "ServiceMonitor" || u.GetKind() == "PrometheusRule" {
			t.Errorf("the default render has a %s", u.GetKind())
		}
	}
	d := ofKind[appsv1.Deployment](t, chart, "Deployment")[namespace+"/cxloop-manager"]
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/cxloop/cxloop-manager:dev" {
		t.Errorf("the image defaults to %s, not the chart's appVersion", img)
	}
}

// Every value reaches the object it configures.
func TestEveryValueIsRendered(t *testing.T) {
	objs := render(t, "-f", allValues)
	d, ok := ofKind[appsv1.Deployment](t, objs, "Deployment")[namespace+"/cxloop-manager"]
	if !ok {
		t.Fatal("no Deployment")
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example.com/platform/cxloop-manager:v1.2.3" || c.ImagePullPolicy != "Always" || *d.Spec.Replicas != 3 {
		t.Errorf("image %s pull %s replicas %d", c.Image, c.ImagePullPolicy, *d.Spec.Replicas)
	}
	for _, arg := range []string{"--leader-elect", "--watch-namespace=team-a", "--watch-namespace=team-b",
		"--allow-egress-network=10.0.0.0/8", "--allow-egress-network=172.16.0.0/12",
		"--allow-egress-host=github.example.com", "--allow-egress-host=acme.atlassian.net",
		"--data-root=/data", "--max-segments=500", "--zap-log-level=debug"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("the manager's args %v lack %s", c.Args, arg)
		}
	}
	if c.Resources.Limits.Cpu().String() != "1" || c.Resources.Requests.Memory().String() != "256Mi" {
		t.Errorf("resources %v", c.Resources)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || (m.Name == "data" && m.MountPath == "/data" && m.ReadOnly)
	}
	claimed := false
	for _, v := range d.Spec.Template.Spec.Volumes {
		claimed = claimed || (v.Name == "data" && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "warehouse")
	}
	if !mounted || !claimed {
		t.Errorf("the data root is not the claim warehouse mounted read-only at /data: %v %v", c.VolumeMounts, d.Spec.Template.Spec.Volumes)
	}

	bindings := ofKind[rbacv1.RoleBinding](t, objs, "RoleBinding")
	for _, ns := range []string{"team-a", "team-b"} {
		if b, ok := bindings[ns+"/cxloop-manager"]; !ok || b.RoleRef.Name != "cxloop-manager" {
			t.Errorf("no RoleBinding of the manager's rules in %s", ns)
		}
	}
	if _, ok := ofKind[rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding")["cxloop-manager"]; ok {
		t.Error("watching namespaces, the manager's rules are still bound cluster-wide")
	}
	reader := ofKind[rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding")["cxloop-metrics-reader"]
	if len(reader.Subjects) != 1 || reader.Subjects[0].Name != "prometheus" || reader.Subjects[0].Namespace != "observability" {
		t.Errorf("the metrics reader is bound to %v", reader.Subjects)
	}
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		found := ofKind[map[string]any](t, objs, kind)
		if len(found) != 1 {
			t.Errorf("%d %ss with both enabled", len(found), kind)
		}
		for _, obj := range found {
			u := unstructured.Unstructured{Object: obj}
			if u.GetLabels()["release"] != "kube-prometheus" || u.GetNamespace() != namespace {
				t.Errorf("%s %s/%s labels %v", kind, u.GetNamespace(), u.GetName(), u.GetLabels())
			}
		}
	}
	policy := ofKind[map[string]any](t, render(t, "-n", "ops"), "ValidatingAdmissionPolicy")
	if !strings.Contains(mustJSON(t, policy), "system:serviceaccount:ops:cxloop-manager") {
		t.Errorf("installed in ops, the task-label policy does not exempt the manager there: %v", policy)
	}
}

// values.schema.json refuses a wrong value, naming it, before anything
// is rendered.
func TestSchemaRejectsWrongValues(t *testing.T) {
	for _, tc := range []struct{ set, field string }{
		{"replicas=two", "replicas"},
		{"logLevel=verbose", "logLevel"},
		{"image.pullPolicy=Sometimes", "pullPolicy"},
		{"replica=3", "replica"},
		{"egress.networks[0]=ten", "networks"},
		{"watchNamespaces[0]=Team_A", "watchNamespaces"},
		{"metrics.serviceMonitor.enabled=maybe", "enabled"},
		{"dataRoot.path=data", "path"},
	} {
		_, stderr, err := runHelm(t, "template", "cxloop", chartDir, "-n", namespace, "--set", tc.set)
		if err == nil {
			t.Errorf("--set %s rendered", tc.set)
			continue
		}
		if !strings.Contains(stderr, "values don't meet the specifications of the schema") || !strings.Contains(stderr, tc.field) {
			t.Errorf("--set %s failed without naming %s in the schema's terms:\n%s", tc.set, tc.field, stderr)
		}
	}
	// What the schema cannot say, the templates refuse.
	for _, set := range []string{"shard=!cxloop.dev/shard,watchNamespaces[0]=team-a", "dataRoot.path=/data"} {
		if _, _, err := runHelm(t, "template", "cxloop", chartDir, "--set", set); err == nil {
			t.Errorf("--set %s rendered", set)
		}
	}
}
