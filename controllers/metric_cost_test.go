package controllers

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// A derived expression within the API's length bound but beyond the cost
// budget stalls its Metric with a reason that says so, not only that the
// spec is invalid.
func TestCostlyExpressionStallsAsExpressionTooCostly(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	testClock.Set(revenueDay(5))
	if err := k8sClient.Create(ctx, revenueSource(ns, "conditions-cost.db")); err != nil {
		t.Fatal(err)
	}
	input := nrrSpec(ns, "240h")
	input.Name = "nrr-input"
	if err := k8sClient.Create(ctx, input); err != nil {
		t.Fatal(err)
	}
	// Two nested maps over a hundred elements: within the API server's
	// bound on macros (two) and length, but 10,000 steps an evaluation.
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = strconv.Itoa(i)
	}
	list := "[" + strings.Join(hundred, ",") + "]"
	bomb := "double(size(" + list + ".map(x, " + list + ".map(y, nrr))))"
	target := 100.0
	m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "nrr-bomb", Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "customer-success"}, Formula: cxv1.FormulaDerived,
		Expression: bomb, Inputs: []cxv1.DerivedInput{{Name: "nrr", Metric: "nrr-input"}},
		Objective: cxv1.Objective{Target: &target}}}
	if err := k8sClient.Create(ctx, m); err != nil {
		t.Fatalf("the CRD refused an expression only the operator can judge: %v", err)
	}
	got := metricAt(t, m, "stalled", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionStalled) && m.Status.ObservedGeneration == m.Generation
	})
	stalled := condition(got.Status.Conditions, cxv1.ConditionStalled)
	if stalled.Reason != "ExpressionTooCostly" || !strings.Contains(stalled.Message, "exceeds the limit") {
		t.Fatalf("Stalled %s: %q, want ExpressionTooCostly saying the cost exceeds the limit", stalled.Reason, stalled.Message)
	}
	if ready := condition(got.Status.Conditions, cxv1.ConditionReady); ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != "ExpressionTooCostly" {
		t.Fatalf("Ready %+v, want False with the Stalled reason", ready)
	}
}
