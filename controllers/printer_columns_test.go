package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
)

// kubectlTable is the table the API server hands `kubectl get` for a
// Metric: the column names and the Metric's row.
func kubectlTable(t *testing.T, m *cxv1.Metric) map[string]any {
	t.Helper()
	kube := kubernetes.NewForConfigOrDie(cfg)
	body, err := kube.RESTClient().Get().AbsPath("/apis", cxv1.GroupVersion.Group, cxv1.GroupVersion.Version,
		"namespaces", m.Namespace, "metrics", m.Name).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("want one row, got %d", len(table.Rows))
	}
	cells := map[string]any{}
	for i, c := range table.ColumnDefinitions {
		cells[c.Name] = table.Rows[0].Cells[i]
	}
	return cells
}

// kubectl get metrics shows the value rounded to the formula's precision
// with its unit and confidence interval, and the target with its side,
// not the float the status holds.
func TestKubectlGetShowsReadableValues(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	testClock.Set(demodata.DefaultT0)
	m := csatMetric(ns)
	if err := k8sClient.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := metricAt(t, m, "measured", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady) && m.Status.Value != nil
	})
	st := got.Status
	cells := kubectlTable(t, m)
	want := fmt.Sprintf("%.1f%% [%.1f, %.1f]", *st.Value, *st.Lower, *st.Upper)
	if cells["Value"] != want {
		t.Errorf("Value column %q, want %q (status value %v [%v, %v])", cells["Value"], want, *st.Value, *st.Lower, *st.Upper)
	}
	if !regexp.MustCompile(`^\d{1,3}\.\d% \[\d{1,3}\.\d, \d{1,3}\.\d\]$`).MatchString(fmt.Sprint(cells["Value"])) {
		t.Errorf("Value column %q does not read as a share with its interval", cells["Value"])
	}
	if cells["Target"] != ">= 80.0%" {
		t.Errorf("Target column %q, want \">= 80.0%%\"", cells["Target"])
	}
}
