package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The checked-in chart carries exactly the CRDs, the generated
// ClusterRole, the admission policy and the alerts of config/.
func TestChartIsUpToDate(t *testing.T) {
	stale, err := sync(filepath.Join("..", ".."), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Fatalf("charts/cxloop differs from config/ in %v: run `make chart`", stale)
	}
}

// A regenerated CRD makes the chart stale, and sync brings it back.
func TestStaleCopyIsFoundAndRewritten(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"config/rbac/role.yaml", "config/policy/task-labels.yaml", "config/alerts/prometheusrule.yaml", "config/crd/bases/cxloop.dev_metrics.yaml"} {
		write(f, "kind: "+f+"\n")
	}
	write("charts/cxloop/crds/cxloop.dev_gone.yaml", "old\n")
	if _, err := sync(root, false); err != nil {
		t.Fatal(err)
	}
	if stale, _ := sync(root, true); len(stale) != 0 {
		t.Fatalf("still stale after sync: %v", stale)
	}
	write("config/crd/bases/cxloop.dev_metrics.yaml", "kind: changed\n")
	stale, err := sync(root, true)
	if err != nil || len(stale) != 1 || stale[0] != "charts/cxloop/crds/cxloop.dev_metrics.yaml" {
		t.Fatalf("a changed CRD is not reported stale: %v %v", stale, err)
	}
}
