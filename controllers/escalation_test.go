package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
)

// Effort in the integration stage rises at T0+5d and stays high whatever
// the owner does: each resolution is reopened on fresh data, the second
// reopening escalates, the task is never Verified and stays open; a
// dismissal then counts in the Team's status.
func TestFixThatChangesNothingIsReopenedAndEscalated(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	leads := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "cx-leadership", Namespace: ns}}
	enablement := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "enablement", Namespace: ns},
		Spec: cxv1.TeamSpec{EscalationTeam: "cx-leadership"}}
	shift := 0.3
	m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "journey-ces", Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "enablement"}, Source: &cxv1.LocalObjectReference{Name: "warehouse"},
		Formula: cxv1.FormulaCES, Scale: &cxv1.ResponseScale{Min: 1, Max: 7}, SegmentBy: []string{"stage"},
		Query: &cxv1.MetricQuery{Table: "survey_responses",
			Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at", InteractionTime: "interaction_at"},
			Filters: []cxv1.QueryFilter{{Column: "survey", Operator: "Equals", Values: []string{"ces"}}}},
		Objective:   cxv1.Objective{Relative: &cxv1.RelativeObjective{BaselineWindow: "720h", MaxChange: 0.3}, MinShift: &shift, MinSamples: 30},
		Improvement: &cxv1.ImprovementPolicy{MinFreshSamples: 30, VerifyWindow: "240h", MaxAttempts: 2},
	}}
	for _, o := range []client.Object{leads, enablement, m} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	t0 := demodata.DefaultT0
	var task *cxv1.ImprovementTask
	resolved := int32(0)
	for day := 0; day <= 45; day++ {
		now := t0.Add(time.Duration(day) * 24 * time.Hour)
		evaluateAt(t, m, now)
		time.Sleep(200 * time.Millisecond)
		var tasks cxv1.ImprovementTaskList
		if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if len(tasks.Items) > 1 {
			t.Fatalf("day %d: %d tasks for one episode", day, len(tasks.Items))
		}
		if len(tasks.Items) == 0 {
			continue
		}
		task = &tasks.Items[0]
		if task.Spec.Segment != "stage=integration" {
			t.Fatalf("task for segment %q", task.Spec.Segment)
		}
		st := task.Status
		if st.Phase == cxv1.PhaseVerified {
			t.Fatalf("day %d: a fix that changed nothing was verified", day)
		}
		if meta.IsStatusConditionTrue(st.Conditions, cxv1.ConditionEscalated) {
			if st.EscalatedTo != "cx-leadership" || st.Phase != cxv1.PhaseReopened || st.Attempt != 3 {
				t.Fatalf("escalated task: %s attempt %d to %q", st.Phase, st.Attempt, st.EscalatedTo)
			}
			break
		}
		if (st.Phase == cxv1.PhaseOpen || st.Phase == cxv1.PhaseReopened) && resolved < st.Attempt {
			patch := client.MergeFrom(task.DeepCopy())
			task.Spec.State = cxv1.TaskResolved
			task.Spec.Resolution = &cxv1.Resolution{Note: fmt.Sprintf("reworked the integration docs, take %d", st.Attempt), Attempt: st.Attempt}
			if err := k8sClient.Patch(ctx, task, patch); err != nil {
				t.Fatal(err)
			}
			resolved = st.Attempt
		}
	}
	if task == nil || !meta.IsStatusConditionTrue(task.Status.Conditions, cxv1.ConditionEscalated) {
		t.Fatalf("no escalation by day 45: %+v", task)
	}

	patch := client.MergeFrom(task.DeepCopy())
	task.Spec.State, task.Spec.DismissReason = cxv1.TaskDismissed, "the docs rewrite is a quarter-long project, tracked elsewhere"
	if err := k8sClient.Patch(ctx, task, patch); err != nil {
		t.Fatal(err)
	}
	taskPhase(t, task, cxv1.PhaseDismissed)
	eventually(t, 10*time.Second, "dismissal counted in the team's status", func() (bool, string) {
		var team cxv1.Team
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(enablement), &team); err != nil {
			return false, err.Error()
		}
		return team.Status.DismissedTasks == 1 && team.Status.OpenTasks == 0, fmt.Sprintf("%+v", team.Status)
	})
}
