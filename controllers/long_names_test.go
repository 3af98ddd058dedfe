package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// A Metric and a Team may be named with up to 253 characters, a label
// value only 63. A drop on a Metric with a long name, owned by a team
// with a long name, still opens its task: the metric label is shortened
// with a hash, the team label is left off, and the spec and status keep
// the full names.
func TestLongNamesStillOpenTasks(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	teamName := "customer-support-operations-" + strings.Repeat("emea-", 14) + "tier2"
	metricName := "support-csat-after-resolution-" + strings.Repeat("all-channels-", 10) + "weekly"
	if len(teamName) <= 63 || len(metricName) < 100 {
		t.Fatalf("names of %d and %d characters", len(teamName), len(metricName))
	}
	if err := k8sClient.Create(ctx, &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: teamName, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	t0 := demodata.DefaultT0
	testClock.Set(t0)
	m := csatMetric(ns)
	m.Name, m.Spec.Owner.Team = metricName, teamName
	if err := k8sClient.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	metricAt(t, m, "measured", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady) && m.Status.Value != nil
	})

	// The drop at T0+5d opens the task, as it does for a short name.
	var tasks cxv1.ImprovementTaskList
	for day := 1; day <= 12 && len(tasks.Items) == 0; day++ {
		evaluateAt(t, m, t0.Add(time.Duration(day)*24*time.Hour))
		if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	if len(tasks.Items) != 1 {
		got := metricAt(t, m, "read", func(*cxv1.Metric) bool { return true })
		t.Fatalf("tasks by day 12: %d, want 1; conditions %v", len(tasks.Items), got.Status.Conditions)
	}
	task := tasks.Items[0]
	if task.Spec.Metric != metricName || task.Spec.Team != teamName {
		t.Fatalf("task for metric %q, team %q: the spec must keep the full names", task.Spec.Metric, task.Spec.Team)
	}
	for k, v := range task.Labels {
		if errs := validation.IsValidLabelValue(v); len(errs) != 0 {
			t.Fatalf("label %s=%q: %v", k, v, errs)
		}
	}
	if got := task.Labels[metricspec.LabelMetric]; got != metricspec.LabelValue(metricName) {
		t.Fatalf("metric label %q, want %q", got, metricspec.LabelValue(metricName))
	}
	// The metric label finds the task, as `kubectl get itask -l` would.
	var byLabel cxv1.ImprovementTaskList
	if err := k8sClient.List(ctx, &byLabel, client.InNamespace(ns),
		client.MatchingLabels{metricspec.LabelMetric: metricspec.LabelValue(metricName)}); err != nil || len(byLabel.Items) != 1 {
		t.Fatalf("tasks by metric label: %d (%v)", len(byLabel.Items), err)
	}
	// The task reconciler takes the task on: its status names the team,
	// and no team label names a team it is not.
	eventually(t, 20*time.Second, "task reconciled", func() (bool, string) {
		var got cxv1.ImprovementTask
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(&task), &got); err != nil {
			return false, err.Error()
		}
		_, labelled := got.Labels[labelTeam]
		return got.Status.Team == teamName && got.Status.Phase != "" && !labelled,
			fmt.Sprintf("status.team %q, phase %q, labels %v", got.Status.Team, got.Status.Phase, got.Labels)
	})
}
