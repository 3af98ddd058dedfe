package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/loop"
)

// A Metric whose owner Team does not exist is measured (Ready) but says
// TeamNotFound from its first evaluation; the drop's episode is held back
// with reason TeamNotFound instead of opening a task nobody would receive.
// Creating the Team, with the clock standing still, clears the condition
// and opens the task at once.
func TestMissingOwnerTeamHoldsTasksBackUntilItIsCreated(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	t0 := demodata.DefaultT0
	testClock.Set(t0)
	m := csatMetric(ns)
	m.Spec.Owner.Team = "support-escalations"
	if err := k8sClient.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := metricAt(t, m, "TeamNotFound before any episode", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, conditionTeamNotFound)
	})
	c := meta.FindStatusCondition(got.Status.Conditions, conditionTeamNotFound)
	if c.Reason != "TeamNotFound" || !strings.Contains(c.Message, "support-escalations") || !strings.Contains(c.Message, "spec.owner.team") {
		t.Fatalf("condition does not say which Team or what to do: %+v", c)
	}
	if !meta.IsStatusConditionTrue(got.Status.Conditions, cxv1.ConditionReady) || meta.IsStatusConditionTrue(got.Status.Conditions, cxv1.ConditionStalled) {
		t.Fatalf("a measured Metric without its Team is not Ready: %v", got.Status.Conditions)
	}

	// Days pass; the drop at T0+5d is held back, not opened.
	var tasks cxv1.ImprovementTaskList
	var heldBack []cxv1.HeldBackTask
	for day := 1; day <= 12 && len(heldBack) == 0; day++ {
		now := t0.Add(time.Duration(day) * 24 * time.Hour)
		evaluateAt(t, m, now)
		got = metricAt(t, m, "evaluated", func(*cxv1.Metric) bool { return true })
		heldBack = got.Status.HeldBackTasks
	}
	if len(heldBack) != 1 || heldBack[0].Reason != string(loop.HoldTeamNotFound) || heldBack[0].Segment != "" {
		t.Fatalf("held back by day 12: %+v", heldBack)
	}
	if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil || len(tasks.Items) != 0 {
		t.Fatalf("tasks for a Team that does not exist: %d (%v)", len(tasks.Items), err)
	}
	if !meta.IsStatusConditionTrue(got.Status.Conditions, conditionTeamNotFound) || !meta.IsStatusConditionTrue(got.Status.Conditions, cxv1.ConditionReady) {
		t.Fatalf("conditions while held back: %v", got.Status.Conditions)
	}

	// The user creates the Team; no clock moves, no evaluation is requested.
	team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "support-escalations", Namespace: ns}}
	if err := k8sClient.Create(ctx, team); err != nil {
		t.Fatal(err)
	}
	got = metricAt(t, m, "condition cleared and nothing held back", func(m *cxv1.Metric) bool {
		return meta.FindStatusCondition(m.Status.Conditions, conditionTeamNotFound) == nil && len(m.Status.HeldBackTasks) == 0
	})
	if !meta.IsStatusConditionTrue(got.Status.Conditions, cxv1.ConditionReady) {
		t.Fatalf("not Ready after the Team was created: %v", got.Status.Conditions)
	}
	eventually(t, 20*time.Second, "the held-back task opened for the new Team", func() (bool, string) {
		if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		return len(tasks.Items) == 1 && tasks.Items[0].Spec.Team == "support-escalations" &&
			tasks.Items[0].Spec.EpisodeStart.Equal(&heldBack[0].EpisodeStart), "tasks: " + taskNames(tasks.Items)
	})
}

func taskNames(items []cxv1.ImprovementTask) string {
	names := make([]string, 0, len(items))
	for _, it := range items {
		names = append(names, it.Name+"("+it.Spec.Team+")")
	}
	return strings.Join(names, ",")
}
