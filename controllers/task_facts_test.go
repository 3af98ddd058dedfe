package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// genuineTask is a task as the Metric reconciler opens it for metric: its
// name hashes the Metric's UID, segment and episode start, and every
// operator-written fact is present.
func genuineTask(t *testing.T, ns string, metric *cxv1.Metric) *cxv1.ImprovementTask {
	t.Helper()
	task := validTask(ns)
	task.Spec.Metric = metric.Name
	task.Spec.DefinitionHash = metricspec.Definition(metric).Hash()
	task.Name = loop.TaskName(metric.Name, string(metric.UID), task.Spec.Segment, task.Spec.EpisodeStart.Time)
	observed := 24.0
	due := metav1.NewTime(task.Spec.EpisodeStart.Add(14 * 24 * time.Hour))
	task.Spec.Baseline = &cxv1.TaskBaseline{Value: 31, Lower: 29, Upper: 33, Samples: 2000,
		WindowStart: metav1.NewTime(task.Spec.EpisodeStart.Add(-720 * time.Hour)), WindowEnd: task.Spec.EpisodeStart}
	task.Spec.Evidence = &cxv1.TaskEvidence{Statistic: 9.5, Threshold: 8.1, Samples: 410, ObservedValue: &observed}
	task.Spec.DueDate = &due
	task.Spec.Playbook = "call the five largest detractor accounts"
	task.Spec.State = cxv1.TaskOpen
	if err := k8sClient.Create(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	return task
}

// rawPatch sends a JSON merge patch, as `kubectl patch --type=merge` does.
func rawPatch(task *cxv1.ImprovementTask, body string) error {
	obj := &cxv1.ImprovementTask{ObjectMeta: metav1.ObjectMeta{Name: task.Name, Namespace: task.Namespace}}
	return k8sClient.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, []byte(body)))
}

// rejected fails unless err is the API server refusing the patch on
// spec.<field>, because it is required or because it is immutable.
func rejected(t *testing.T, err error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the API server accepted the patch; want %s refused", field)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid error, got %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "spec."+field+": Required value") &&
		!(strings.Contains(msg, "spec."+field+": ") && strings.Contains(msg, field+" is immutable")) {
		t.Fatalf("message does not name %s:\n%v", field, msg)
	}
}

func specPatch(field, value string) string {
	return fmt.Sprintf(`{"spec":{%q:%s}}`, field, value)
}

func TestTaskFactsCannotBeRemovedChangedOrAdded(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	metric := validMetric(ns, "account-nps")
	if err := k8sClient.Create(ctx, metric); err != nil {
		t.Fatal(err)
	}
	task := genuineTask(t, ns, metric)
	var before cxv1.ImprovementTask
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &before); err != nil {
		t.Fatal(err)
	}
	changes := []struct{ field, value string }{
		{"metric", `"other-metric"`},
		{"segment", `"stage=onboarding"`},
		{"segmentValues", `{"persona":null,"stage":"onboarding"}`},
		{"team", `"someone-else"`},
		{"episodeStart", `"2026-02-01T00:00:00Z"`},
		{"definitionHash", `"0000"`},
		{"baseline", `{"value":1}`},
		{"objective", `{"target":10}`},
		{"evidence", `{"statistic":99}`},
		{"priority", `4`},
		{"dueDate", `"2027-01-01T00:00:00Z"`},
		{"playbook", `"nothing to do"`},
	}
	for _, c := range changes {
		t.Run(c.field, func(t *testing.T) {
			rejected(t, rawPatch(task, specPatch(c.field, "null")), c.field)
			rejected(t, rawPatch(task, specPatch(c.field, c.value)), c.field)
		})
	}
	// The attack in two steps: remove the segment and its values, then
	// add another.
	rejected(t, rawPatch(task, `{"spec":{"segment":null,"segmentValues":null,"baseline":null}}`), "segment")
	if err := rawPatch(task, `{"spec":null}`); err == nil || !apierrors.IsInvalid(err) {
		t.Fatalf("removing the whole spec: got %v, want it refused", err)
	}
	var after cxv1.ImprovementTask
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &after); err != nil {
		t.Fatal(err)
	}
	after.Spec.State = before.Spec.State
	if !equality.Semantic.DeepEqual(before.Spec, after.Spec) {
		t.Fatalf("the facts changed:\nbefore %+v\nafter  %+v", before.Spec, after.Spec)
	}
}

// A fact the operator left out (the whole population has no segment, a
// Metric without a playbook gives none) cannot be added later.
func TestTaskFactsAbsentAtCreationCannotBeAdded(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	task := validTask(ns)
	task.Spec.Segment, task.Spec.SegmentValues = "", nil
	if err := k8sClient.Create(ctx, task); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ field, value string }{
		{"segment", `"stage=onboarding"`},
		{"segmentValues", `{"stage":"onboarding"}`},
		{"baseline", `{"value":1,"lower":0,"upper":2,"samples":10,"windowStart":"2025-12-01T00:00:00Z","windowEnd":"2026-01-01T00:00:00Z"}`},
		{"evidence", `{"statistic":1,"threshold":1,"samples":1}`},
		{"dueDate", `"2027-01-01T00:00:00Z"`},
		{"playbook", `"nothing to do"`},
	} {
		t.Run(c.field, func(t *testing.T) {
			rejected(t, rawPatch(task, specPatch(c.field, c.value)), c.field)
		})
	}
}

func TestResolutionAttemptsCannotBeSkippedOrRemoved(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	metric := validMetric(ns, "account-nps")
	if err := k8sClient.Create(ctx, metric); err != nil {
		t.Fatal(err)
	}
	task := genuineTask(t, ns, metric)
	skipper := validTask(ns)
	skipper.Name, skipper.Spec.Metric = "skipper", metric.Name
	skipper.Spec.DefinitionHash = task.Spec.DefinitionHash
	if err := k8sClient.Create(ctx, skipper); err != nil {
		t.Fatal(err)
	}
	taskPhase(t, task, cxv1.PhaseOpen)
	taskPhase(t, skipper, cxv1.PhaseOpen)
	refused := func(body, want string) {
		t.Helper()
		err := rawPatch(task, body)
		if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Fatalf("patch %s: got %v, want refused with %q", body, err, want)
		}
	}
	resolve := func(attempt int32) string {
		return fmt.Sprintf(`{"spec":{"state":"Resolved","resolution":{"note":"new onboarding email","attempt":%d}}}`, attempt)
	}
	// ignored waits until the operator refuses the task's resolution with
	// ResolutionIgnored, and checks that the resolution did not count.
	ignored := func(task *cxv1.ImprovementTask, phase cxv1.TaskPhase) {
		t.Helper()
		var got cxv1.ImprovementTask
		eventually(t, 10*time.Second, task.Name+" ResolutionIgnored", func() (bool, string) {
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
				return false, err.Error()
			}
			c := meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionResolutionIgnored)
			return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "AttemptAhead", fmt.Sprintf("%+v", got.Status.Conditions)
		})
		if got.Status.Attempt != 1 || got.Status.Phase != phase {
			t.Fatalf("%s: a resolution ahead moved the task: %s attempt %d", task.Name, got.Status.Phase, got.Status.Attempt)
		}
	}

	// A first resolution claiming attempt 100 is refused: a task reaches a
	// later attempt only by reopening after a resolution.
	if err := rawPatch(skipper, resolve(100)); err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "first resolution is 1") {
		t.Fatalf("a first resolution of attempt 100: %v, want refused", err)
	}
	if got := taskPhase(t, skipper, cxv1.PhaseOpen); got.Status.ResolvedAt != nil || got.Spec.Resolution != nil {
		t.Fatalf("a refused resolution left %+v, resolvedAt %v", got.Spec.Resolution, got.Status.ResolvedAt)
	}

	if err := rawPatch(task, resolve(1)); err != nil {
		t.Fatal(err)
	}
	taskPhase(t, task, cxv1.PhaseVerifying)
	refused(resolve(100), "cannot go back or skip attempts")
	refused(resolve(3), "cannot go back or skip attempts")
	refused(`{"spec":{"resolution":null}}`, "resolution cannot be removed")
	refused(`{"spec":{"state":"InProgress","resolution":null}}`, "resolution cannot be removed")

	// The next attempt is admitted (a reopened task is resolved with it),
	// but the operator ignores it while the task is on attempt 1.
	if err := rawPatch(task, resolve(2)); err != nil {
		t.Fatal(err)
	}
	taskPhase(t, task, cxv1.PhaseInProgress)
	ignored(task, cxv1.PhaseInProgress)
	refused(resolve(1), "cannot go back or skip attempts")
}

func TestResolvedAtIsKeptWhenAResolutionIsWithdrawnAndRenewed(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	metric := validMetric(ns, "account-nps")
	if err := k8sClient.Create(ctx, metric); err != nil {
		t.Fatal(err)
	}
	task := genuineTask(t, ns, metric)
	taskPhase(t, task, cxv1.PhaseOpen)
	if err := rawPatch(task, `{"spec":{"state":"Resolved","resolution":{"note":"new onboarding email","attempt":1}}}`); err != nil {
		t.Fatal(err)
	}
	first := taskPhase(t, task, cxv1.PhaseVerifying).Status.ResolvedAt
	if first == nil {
		t.Fatal("a verifying task without resolvedAt")
	}
	testClock.Advance(6 * time.Hour)
	if err := rawPatch(task, `{"spec":{"state":"InProgress"}}`); err != nil {
		t.Fatal(err)
	}
	withdrawn := taskPhase(t, task, cxv1.PhaseInProgress)
	if withdrawn.Status.ResolvedAt == nil || !withdrawn.Status.ResolvedAt.Equal(first) {
		t.Fatalf("withdrawn: resolvedAt %v, want %v kept", withdrawn.Status.ResolvedAt, first)
	}
	testClock.Advance(6 * time.Hour)
	if err := rawPatch(task, `{"spec":{"state":"Resolved","resolution":{"note":"new onboarding email, take two","attempt":1}}}`); err != nil {
		t.Fatal(err)
	}
	again := taskPhase(t, task, cxv1.PhaseVerifying)
	if again.Status.ResolvedAt == nil || !again.Status.ResolvedAt.Equal(first) {
		t.Fatalf("resolved again: resolvedAt %v, want %v (the attempt's first resolution)", again.Status.ResolvedAt, first)
	}
}

// A task whose facts disagree with its Metric's record gets FactsDisputed,
// and no data is read for it: resolved, it does not even try the source
// (so DataUnavailable, which a genuine task shows here, stays away).
func TestTaskWhoseFactsDisagreeWithTheMetricIsNotVerified(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	metric := validMetric(ns, "account-nps")
	if err := k8sClient.Create(ctx, metric); err != nil {
		t.Fatal(err)
	}
	genuine := genuineTask(t, ns, metric)

	// A task named for an episode of persona=admin that queries
	// stage=onboarding, as if its segment had been edited.
	moved := validTask(ns)
	moved.Spec.EpisodeStart = metav1.NewTime(moved.Spec.EpisodeStart.Add(2 * time.Hour))
	moved.Name = loop.TaskName(metric.Name, string(metric.UID), "persona=admin", moved.Spec.EpisodeStart.Time)
	moved.Spec.Metric = metric.Name
	moved.Spec.DefinitionHash = genuine.Spec.DefinitionHash
	moved.Spec.Segment, moved.Spec.SegmentValues = "stage=onboarding", map[string]string{"stage": "onboarding"}
	// A genuine name whose segment values are another segment's.
	mixed := validTask(ns)
	mixed.Spec.Metric, mixed.Spec.DefinitionHash = metric.Name, genuine.Spec.DefinitionHash
	mixed.Spec.EpisodeStart = metav1.NewTime(mixed.Spec.EpisodeStart.Add(time.Hour))
	mixed.Name = loop.TaskName(metric.Name, string(metric.UID), mixed.Spec.Segment, mixed.Spec.EpisodeStart.Time)
	mixed.Spec.SegmentValues = map[string]string{"stage": "onboarding"}
	for _, task := range []*cxv1.ImprovementTask{moved, mixed} {
		if err := k8sClient.Create(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	for _, task := range []*cxv1.ImprovementTask{genuine, moved, mixed} {
		taskPhase(t, task, cxv1.PhaseOpen)
		if err := rawPatch(task, `{"spec":{"state":"Resolved","resolution":{"note":"new onboarding email","attempt":1}}}`); err != nil {
			t.Fatal(err)
		}
	}
	condition := func(task *cxv1.ImprovementTask, kind string) *metav1.Condition {
		var got cxv1.ImprovementTask
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
			t.Fatal(err)
		}
		return meta.FindStatusCondition(got.Status.Conditions, kind)
	}
	eventually(t, 10*time.Second, "the genuine task tries its source", func() (bool, string) {
		c := condition(genuine, cxv1.ConditionDataUnavailable)
		return c != nil && c.Status == metav1.ConditionTrue, fmt.Sprint(c)
	})
	if c := condition(genuine, cxv1.ConditionFactsDisputed); c != nil {
		t.Fatalf("a genuine task is disputed: %+v", c)
	}
	for _, tc := range []struct {
		task   *cxv1.ImprovementTask
		reason string
	}{{moved, loop.DisputeName}, {mixed, loop.DisputeSegmentValues}} {
		eventually(t, 10*time.Second, tc.task.Name+" disputed", func() (bool, string) {
			c := condition(tc.task, cxv1.ConditionFactsDisputed)
			return c != nil && c.Status == metav1.ConditionTrue && c.Reason == tc.reason, fmt.Sprint(c)
		})
		got := taskPhase(t, tc.task, cxv1.PhaseVerifying)
		if c := meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionDataUnavailable); c != nil {
			t.Fatalf("%s: data was read for a disputed task: %+v", tc.task.Name, c)
		}
		if !strings.Contains(meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionFactsDisputed).Message, "not verified") {
			t.Fatalf("%s: the condition does not say what follows", tc.task.Name)
		}
	}
}
