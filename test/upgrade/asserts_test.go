package upgrade

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// typed is an empty object of a kind's current Go type.
func typed(kind string) any {
	switch kind {
	case "DataSource":
		return &cxv1.DataSource{}
	case "Team":
		return &cxv1.Team{}
	case "Metric":
		return &cxv1.Metric{}
	}
	return &cxv1.ImprovementTask{}
}

// assertObjectsDecode reads every old object back from the upgraded API
// server and decodes it, field for field, into the current Go types.
func assertObjectsDecode(ctx context.Context, t *testing.T, c client.Client, old map[string][]*unstructured.Unstructured) {
	t.Helper()
	for _, kind := range fixtureKinds {
		for _, obj := range old[kind] {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(obj.GroupVersionKind())
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
				t.Fatalf("read %s %s after the upgrade: %v", kind, obj.GetName(), err)
			}
			if err := decodeStrictly(got, typed(kind)); err != nil {
				t.Errorf("%s %s does not decode into the current types: %v", kind, obj.GetName(), err)
			}
		}
	}
}

// assertManifestsValidate creates, dry run, every old object's spec
// anew under the new CRDs: no ratcheting applies to a create, so each
// field the old release accepted must still pass validation.
func assertManifestsValidate(ctx context.Context, t *testing.T, c client.Client, old map[string][]*unstructured.Unstructured) {
	t.Helper()
	for _, kind := range fixtureKinds {
		for _, obj := range old[kind] {
			fresh := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": obj.GetAPIVersion(), "kind": kind, "spec": obj.Object["spec"]}}
			fresh.SetName(obj.GetName())
			fresh.SetNamespace(ns + "-reapplied")
			fresh.SetLabels(obj.GetLabels())
			if err := c.Create(ctx, fresh, client.DryRunAll); err != nil {
				t.Errorf("%s %s as the old release accepted it is refused: %v", kind, obj.GetName(), err)
			}
		}
	}
}

// assertEvidenceCarriedOn checks the first evaluation after the upgrade
// continued the old detector's evidence rather than starting over.
func assertEvidenceCarriedOn(t *testing.T, m *cxv1.Metric, old engine.SegmentState) {
	t.Helper()
	if m.Status.Detector == nil || m.Status.Detector.FedUntil == nil || !m.Status.Detector.FedUntil.Time.Equal(day(resumeDay)) {
		t.Fatalf("%s: detector not fed up to day %d: %+v", m.Name, resumeDay, m.Status.Detector)
	}
	got := detectorSegment(t, m.Status.Detector, old.Segment)
	t.Logf("%s %s: statistic %.4g before the upgrade, %.4g after (threshold %.4g)", m.Name, old.Segment, old.Statistic,
		got.Statistic, m.Status.Detector.Threshold)
	if !got.EpisodeStart.Equal(old.EpisodeStart) || !got.Since.Equal(old.Since) {
		t.Errorf("%s %s: episode since %s, evidence since %s; before the upgrade %s, %s", m.Name, old.Segment,
			got.EpisodeStart, got.Since, old.EpisodeStart, old.Since)
	}
	if got.Statistic < old.Statistic && got.Statistic < m.Status.Detector.Threshold {
		t.Errorf("%s %s: statistic %.4g restarted below its old value %.4g and the threshold %.4g", m.Name, old.Segment,
			got.Statistic, old.Statistic, m.Status.Detector.Threshold)
	}
}

// assertLoopsFinished checks the Verifying task was verified on the
// restored data and the Open one, resolved while effort stayed high, was
// reopened.
func assertLoopsFinished(t *testing.T, l *days, tasks map[string]string) {
	t.Helper()
	if v := l.task(tasks[verifyingMetric]); v.Status.Phase != cxv1.PhaseVerified {
		t.Errorf("the task Verifying at the upgrade did not finish Verified: %s", describe(v))
	}
	if o := l.task(tasks[evidenceMetric]); o.Status.Phase != cxv1.PhaseReopened || o.Status.Attempt < 2 {
		t.Errorf("the task Open at the upgrade, resolved while effort stayed high, was not reopened: %s", describe(o))
	}
}

// assertNoDuplicateTasks checks no task was opened beside one the old
// release had opened for the same Metric and segment.
func assertNoDuplicateTasks(t *testing.T, l *days, old map[string][]*unstructured.Unstructured) {
	t.Helper()
	had := map[string]string{}
	for _, u := range old["ImprovementTask"] {
		var task cxv1.ImprovementTask
		if err := decodeStrictly(u, &task); err != nil {
			t.Fatal(err)
		}
		had[task.Spec.Metric+"/"+task.Spec.Segment] = task.Name
	}
	var tasks cxv1.ImprovementTaskList
	if err := l.c.List(context.Background(), &tasks, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks.Items {
		key := task.Spec.Metric + "/" + task.Spec.Segment
		if name, ok := had[key]; ok && name != task.Name {
			t.Errorf("task %s opened for %s, which already had %s", task.Name, key, name)
		}
	}
}

// assertSpecEditValidates edits an old Metric's spec and an old task's
// note, as owners do, through the new validation.
func assertSpecEditValidates(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	var m cxv1.Metric
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "feature-psat"}, &m); err != nil {
		t.Fatal(err)
	}
	m.Spec.Objective.MinSamples++
	if err := c.Update(ctx, &m); err != nil {
		t.Errorf("edit an old Metric's spec: %v", err)
	}
}

// assertScorecardScoresOldMetrics creates a Scorecard, a kind the old
// release did not have, over Metrics it persisted, and waits until the
// upgraded manager scores the accounts.
func assertScorecardScoresOldMetrics(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	sc := &cxv1.Scorecard{ObjectMeta: metav1.ObjectMeta{Name: "account-health", Namespace: ns}, Spec: cxv1.ScorecardSpec{
		Owner: cxv1.ScorecardOwner{Team: "customer-success"}, Key: "account",
		Members: []cxv1.ScorecardMember{
			{Name: "nps", Metric: "account-nps", KeyColumn: "account"},
			{Name: "escalations", Metric: "escalation-rate", KeyColumn: "account"},
		},
		Value:     &cxv1.ScorecardValue{Metric: "average-revenue-per-account", KeyColumn: "account"},
		Objective: cxv1.ScorecardObjective{Target: 70},
	}}
	if err := c.Create(ctx, sc); err != nil {
		t.Fatalf("create a Scorecard over the old Metrics: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got cxv1.Scorecard
		if err := c.Get(ctx, client.ObjectKeyFromObject(sc), &got); err != nil {
			t.Fatal(err)
		}
		if got.Status.Index != nil && got.Status.Accounts > 100 && len(got.Status.Members) == 2 && got.Status.Members[1].Accounts > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Scorecard over the old Metrics was not scored: %+v", got.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
