package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// Effort per journey stage on the demo warehouse, each stage owned by its
// own team: the integration stage's rise at T0+5d opens a task for the
// integration team, not for the Metric's owner, and when the stage is
// handed to another team the open task moves with it.
func TestJourneyStageDropOpensATaskForThatStagesTeam(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	shift := 0.3
	m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "journey-ces", Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "enablement", Segments: []cxv1.SegmentOwner{
			{Column: "stage", Value: "onboarding", Team: "onboarding"},
			{Column: "stage", Value: "integration", Team: "integration-engineering"},
			{Column: "stage", Value: "training", Team: "academy"},
		}},
		Source:  &cxv1.LocalObjectReference{Name: "warehouse"},
		Formula: cxv1.FormulaCES, Scale: &cxv1.ResponseScale{Min: 1, Max: 7}, SegmentBy: []string{"stage"},
		Query: &cxv1.MetricQuery{Table: "survey_responses",
			Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at", InteractionTime: "interaction_at"},
			Filters: []cxv1.QueryFilter{{Column: "survey", Operator: "Equals", Values: []string{"ces"}}}},
		Objective:   cxv1.Objective{Relative: &cxv1.RelativeObjective{BaselineWindow: "720h", MaxChange: 0.3}, MinShift: &shift, MinSamples: 30},
		Improvement: &cxv1.ImprovementPolicy{MinFreshSamples: 30, VerifyWindow: "240h"},
	}}
	objs := []client.Object{m}
	for _, team := range []string{"enablement", "onboarding", "integration-engineering", "academy", "solutions"} {
		objs = append(objs, &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: team, Namespace: ns}})
	}
	for _, o := range objs {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	var task *cxv1.ImprovementTask
	for day := 0; day <= 30 && task == nil; day++ {
		evaluateAt(t, m, demodata.DefaultT0.Add(time.Duration(day)*24*time.Hour))
		time.Sleep(200 * time.Millisecond) // the task follows the status that records its episode
		var tasks cxv1.ImprovementTaskList
		if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for i := range tasks.Items {
			if tasks.Items[i].Spec.Segment != "stage=integration" {
				t.Fatalf("day %d: a task for %s", day, tasks.Items[i].Spec.Segment)
			}
			task = &tasks.Items[i]
			t.Logf("task opened on day %d", day)
		}
	}
	if task == nil {
		t.Fatal("the integration stage's rise in effort opened no task within 30 days")
	}
	if task.Spec.Team != "integration-engineering" || task.Labels[metricspec.LabelTeam] != "integration-engineering" {
		t.Fatalf("task for team %q (label %q), want integration-engineering", task.Spec.Team, task.Labels[metricspec.LabelTeam])
	}

	// The stage changes hands: the open task moves to its new owner.
	patch := client.MergeFrom(m.DeepCopy())
	m.Spec.Owner.Segments[1].Team = "solutions"
	if err := k8sClient.Patch(ctx, m, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "task moved to solutions", func() (bool, string) {
		var got cxv1.ImprovementTask
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
			return false, err.Error()
		}
		return got.Status.Team == "solutions" && got.Status.PreviousTeam == "integration-engineering",
			fmt.Sprintf("team %q, previous %q", got.Status.Team, got.Status.PreviousTeam)
	})
}
