package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// taskPhase waits until the task reaches phase and returns it.
func taskPhase(t *testing.T, task *cxv1.ImprovementTask, phase cxv1.TaskPhase) *cxv1.ImprovementTask {
	t.Helper()
	var got cxv1.ImprovementTask
	eventually(t, 10*time.Second, "task phase "+string(phase), func() (bool, string) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(task), &got); err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == phase, fmt.Sprintf("%s (%s: %s)", got.Status.Phase, got.Status.Reason, got.Status.Message)
	})
	return &got
}

func newTaskFor(t *testing.T, ns string, metric *cxv1.Metric) *cxv1.ImprovementTask {
	t.Helper()
	task := validTask(ns)
	task.Spec.Metric = metric.Name
	task.Spec.DefinitionHash = metricspec.Definition(metric).Hash()
	if err := k8sClient.Create(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	return task
}

func TestTaskOpensAndFollowsTheOwner(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	metric := validMetric(ns, "account-nps")
	if err := k8sClient.Create(ctx, metric); err != nil {
		t.Fatal(err)
	}
	task := newTaskFor(t, ns, metric)
	got := taskPhase(t, task, cxv1.PhaseOpen)
	if got.Status.Attempt != 1 {
		t.Fatalf("attempt = %d, want 1", got.Status.Attempt)
	}
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.State = cxv1.TaskInProgress
	if err := k8sClient.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	taskPhase(t, task, cxv1.PhaseInProgress)

	patch = client.MergeFrom(got.DeepCopy())
	got.Spec.State = cxv1.TaskResolved
	got.Spec.Resolution = &cxv1.Resolution{Note: "reworked the macro", Attempt: 1}
	if err := k8sClient.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	verifying := taskPhase(t, task, cxv1.PhaseVerifying)
	if verifying.Status.ResolvedAt == nil || !verifying.Status.ResolvedAt.Time.Equal(testClock.Now().Truncate(time.Second)) {
		t.Fatalf("resolvedAt = %v, want the operator's clock %v", verifying.Status.ResolvedAt, testClock.Now())
	}
}

func TestTaskIsCancelledWhenItsMetricGoesOrChanges(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	gone := validMetric(ns, "gone")
	changed := validMetric(ns, "changed")
	for _, m := range []*cxv1.Metric{gone, changed} {
		if err := k8sClient.Create(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	goneTask := newTaskFor(t, ns, gone)
	changedTask := validTask(ns)
	changedTask.Name = "changed-task"
	changedTask.Spec.Metric = changed.Name
	changedTask.Spec.DefinitionHash = metricspec.Definition(changed).Hash()
	if err := k8sClient.Create(ctx, changedTask); err != nil {
		t.Fatal(err)
	}
	taskPhase(t, changedTask, cxv1.PhaseOpen)

	if err := k8sClient.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	got := taskPhase(t, goneTask, cxv1.PhaseCancelled)
	if got.Status.Reason != "MetricDeleted" {
		t.Fatalf("reason = %s, want MetricDeleted", got.Status.Reason)
	}

	patch := client.MergeFrom(changed.DeepCopy())
	changed.Spec.Query.Table = "survey_responses_v2"
	if err := k8sClient.Patch(ctx, changed, patch); err != nil {
		t.Fatal(err)
	}
	got = taskPhase(t, changedTask, cxv1.PhaseCancelled)
	if got.Status.Reason != "DefinitionChanged" {
		t.Fatalf("reason = %s, want DefinitionChanged", got.Status.Reason)
	}
}

// A closed task is kept for its Metric's retention, then removed.
func TestClosedTasksAreRemovedAfterTheirRetention(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	metric := validMetric(ns, "kept-briefly")
	if metric.Spec.Improvement == nil {
		metric.Spec.Improvement = &cxv1.ImprovementPolicy{}
	}
	metric.Spec.Improvement.Retention = "48h"
	if err := k8sClient.Create(ctx, metric); err != nil {
		t.Fatal(err)
	}
	task := newTaskFor(t, ns, metric)
	got := taskPhase(t, task, cxv1.PhaseOpen)
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.State, got.Spec.DismissReason = cxv1.TaskDismissed, "a holiday week, not a problem"
	if err := k8sClient.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	closed := taskPhase(t, task, cxv1.PhaseDismissed)
	if closed.Status.ClosedAt == nil {
		t.Fatal("a dismissed task has no closedAt")
	}
	closedAt := closed.Status.ClosedAt.Time
	poke := func(at time.Time) {
		testClock.Set(at)
		var cur cxv1.ImprovementTask
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &cur); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(cur.DeepCopy())
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations["example.com/seen"] = at.Format(time.RFC3339)
		if err := k8sClient.Patch(ctx, &cur, patch); err != nil {
			t.Fatal(err)
		}
	}
	// Within the retention the task stays, however often it is reconciled.
	poke(closedAt.Add(47 * time.Hour))
	time.Sleep(time.Second)
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &cxv1.ImprovementTask{}); err != nil {
		t.Fatalf("removed before its retention: %v", err)
	}
	poke(closedAt.Add(49 * time.Hour))
	eventually(t, 10*time.Second, "task removed", func() (bool, string) {
		err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &cxv1.ImprovementTask{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}
