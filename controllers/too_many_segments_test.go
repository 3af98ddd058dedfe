package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// testMaxSegments is the suite manager's --max-segments.
const testMaxSegments = 1000

// A Metric whose source answers more segments than the manager's bound is
// Stalled TooManySegments with nothing measured (no segment dropped
// silently, no value, no task); at the bound it is measured whole.
func TestMoreSegmentsThanTheBoundStallTheMetric(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	export := func(accounts int) string {
		var b strings.Builder
		b.WriteString("answered_at,score,survey,account\n")
		for i := 0; i < accounts; i++ {
			fmt.Fprintf(&b, "2026-02-%02dT%02d:00:00Z,2,csat,acct-%04d\n", 1+i%9, i%24, i)
		}
		return b.String()
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survey-export", Namespace: ns},
		Data: map[string]string{"responses.csv": export(testMaxSegments + 1)}}
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns}, Spec: cxv1.DataSourceSpec{
		Type: cxv1.DataSourceCSV, CSV: &cxv1.CSVSource{ConfigMapRef: &cxv1.ConfigMapKeyReference{Name: cm.Name, Key: "responses.csv"}}}}
	m := csatMetric(ns)
	m.Spec.Query.Table = "records"
	m.Spec.Query.Columns.Time, m.Spec.Query.Columns.InteractionTime = "answered_at", ""
	m.Spec.SegmentBy = []string{"account"}
	m.Spec.Objective.WarningAt = nil
	for _, o := range []client.Object{cm, ds, m} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC)
	testClock.Set(day)
	requestEvaluation(t, m, day)
	got := metricAt(t, m, "stalled on too many segments", func(m *cxv1.Metric) bool {
		c := meta.FindStatusCondition(m.Status.Conditions, cxv1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "TooManySegments"
	})
	stalled := meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionStalled)
	if !strings.Contains(stalled.Message, fmt.Sprintf("more than %d segments", testMaxSegments)) || !strings.Contains(stalled.Message, "--max-segments") {
		t.Fatalf("Stalled says %q, want the bound and the flag named", stalled.Message)
	}
	if got.Status.Value != nil || got.Status.LastEvaluation != nil || meta.IsStatusConditionTrue(got.Status.Conditions, cxv1.ConditionSourceUnavailable) {
		t.Fatalf("value %v, evaluation %v, conditions %v: want nothing measured and no source blamed", got.Status.Value, got.Status.LastEvaluation, got.Status.Conditions)
	}
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil || len(tasks.Items) != 0 {
		t.Fatalf("%d tasks (%v), want none while nothing is measured", len(tasks.Items), err)
	}

	patch := client.MergeFrom(cm.DeepCopy())
	cm.Data["responses.csv"] = export(testMaxSegments)
	if err := k8sClient.Patch(ctx, cm, patch); err != nil {
		t.Fatal(err)
	}
	next := day.Add(time.Hour)
	testClock.Set(next)
	requestEvaluation(t, m, next)
	got = metricAt(t, m, "measured at the bound", func(m *cxv1.Metric) bool { return m.Status.Value != nil })
	if got.Status.Samples != testMaxSegments || meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionStalled) != nil {
		t.Fatalf("%d samples, conditions %v: want all %d accounts measured and the stall cleared", got.Status.Samples, got.Status.Conditions, testMaxSegments)
	}
}
