package chart

import (
	"context"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Every object the kustomize installs and the chart render, with its
// defaults and with every option, passes the API server's validation and
// admission: a forced server-side apply as a dry run, by the field
// manager kubectl or helm would apply it as, on a control plane holding
// the cxloop CRDs and the Prometheus Operator's.
func TestEveryRenderedObjectPassesServerSideDryRun(t *testing.T) {
	c := startCluster(t, root+"/config/crd/bases")
	ctx := context.Background()
	c.createNamespaces(ctx, t, namespace, "team-a", "team-b", "monitoring", "observability")

	renders := []struct {
		name, manager string
		objs          []*unstructured.Unstructured
	}{
		{"config/default + config/prometheus + config/alerts", "kubectl", kustomize(t, "default", "prometheus", "alerts")},
		{"config/namespaced", "kubectl", kustomize(t, "namespaced")},
		{"helm defaults", "helm", render(t)},
		{"helm with the ServiceMonitor and PrometheusRule", "helm",
			render(t, "--set", "metrics.serviceMonitor.enabled=true,prometheusRule.enabled=true")},
		{"helm watching namespaces", "helm", render(t, "--set", "watchNamespaces={team-a,team-b}")},
		{"helm with every value", "helm", render(t, "-f", allValues)},
	}
	crds, err := filepath.Glob(root + "/config/crd/bases/*.yaml")
	if err != nil || len(crds) == 0 {
		t.Fatalf("no CRDs under config/crd/bases: %v", err)
	}
	for _, r := range renders {
		kinds := map[string]int{}
		for _, u := range r.objs {
			kinds[u.GetKind()]++
			if err := c.apply(ctx, u, r.manager, true); err != nil {
				t.Errorf("%s: %s: %v", r.name, describe(u), err)
			}
		}
		if kinds["Deployment"] != 1 || kinds["CustomResourceDefinition"] != len(crds) {
			t.Errorf("%s rendered %v", r.name, kinds)
		}
		t.Logf("%s: %d objects %v", r.name, len(r.objs), kinds)
	}
}
