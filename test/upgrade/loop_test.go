package upgrade

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// days plays the days after the upgrade: Metrics evaluated at midnight,
// owners acting at noon.
type days struct {
	t   *testing.T
	c   client.Client
	clk *clock.Manual
}

// evaluate asks every Metric to be evaluated at midnight of day d and
// waits until each has written its status.
func (l *days) evaluate(d int) {
	l.t.Helper()
	ctx := context.Background()
	l.clk.Set(day(d))
	stamp := day(d).Format(time.RFC3339)
	var ms cxv1.MetricList
	if err := l.c.List(ctx, &ms, client.InNamespace(ns)); err != nil {
		l.t.Fatal(err)
	}
	for i := range ms.Items {
		m := &ms.Items[i]
		patch := client.MergeFrom(m.DeepCopy())
		m.Annotations[cxv1.ReconcileRequestAnnotation] = stamp
		if err := l.c.Patch(ctx, m, patch); err != nil {
			l.t.Fatal(err)
		}
	}
	waitFor(l.t, 30*time.Second, "Metrics evaluated at "+stamp, func() (bool, string) {
		if err := l.c.List(ctx, &ms, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		for _, m := range ms.Items {
			if m.Status.LastHandledReconcileAt != stamp {
				return false, m.Name + " handled " + m.Status.LastHandledReconcileAt
			}
		}
		return true, ""
	})
}

func (l *days) metric(name string) *cxv1.Metric {
	l.t.Helper()
	var m cxv1.Metric
	if err := l.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &m); err != nil {
		l.t.Fatal(err)
	}
	return &m
}

func (l *days) task(name string) *cxv1.ImprovementTask {
	l.t.Helper()
	var task cxv1.ImprovementTask
	if err := l.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &task); err != nil {
		l.t.Fatal(err)
	}
	return &task
}

// ownersAct plays the owner of the task that was Open at the upgrade: it
// takes it the first noon and reports it fixed the next. It reports
// whether that task has come back Reopened and the Verifying one closed.
func (l *days) ownersAct(openTask string) bool {
	l.t.Helper()
	task := l.task(openTask)
	patch := client.MergeFrom(task.DeepCopy())
	switch {
	case task.Status.Phase == cxv1.PhaseOpen && task.Spec.State != cxv1.TaskInProgress:
		task.Spec.State = cxv1.TaskInProgress
	case task.Status.Phase == cxv1.PhaseInProgress:
		task.Spec.State = cxv1.TaskResolved
		task.Spec.Resolution = &cxv1.Resolution{Attempt: task.Status.Attempt, Note: "enablement: the integration guide is rewritten"}
	default:
		return task.Status.Phase == cxv1.PhaseReopened && l.verifyingClosed()
	}
	if err := l.c.Patch(context.Background(), task, patch); err != nil {
		l.t.Fatalf("the owner updates %s: %v", openTask, err)
	}
	return false
}

func (l *days) verifyingClosed() bool {
	var tasks cxv1.ImprovementTaskList
	if err := l.c.List(context.Background(), &tasks, client.InNamespace(ns)); err != nil {
		l.t.Fatal(err)
	}
	for _, task := range tasks.Items {
		if task.Spec.Metric == verifyingMetric && task.Status.Phase == cxv1.PhaseVerified {
			return true
		}
	}
	return false
}

// detectorSegment is one segment's evidence as the manager reads it.
func detectorSegment(t *testing.T, d *cxv1.DetectorStatus, segment string) engine.SegmentState {
	t.Helper()
	det := metricspec.DetectorOf(d)
	if det == nil {
		t.Fatalf("no detector state")
	}
	for _, s := range det.Segments {
		if s.Segment == segment {
			return s
		}
	}
	t.Fatalf("detector holds no evidence for %s: %+v", segment, det.Segments)
	return engine.SegmentState{}
}

// persistedSegment is one segment's evidence as the old release wrote it:
// every segment in the readable list.
func persistedSegment(t *testing.T, m *cxv1.Metric, segment string) engine.SegmentState {
	t.Helper()
	if m.Status.Detector == nil {
		t.Fatalf("%s: no detector state in testdata", m.Name)
	}
	for _, s := range m.Status.Detector.Segments {
		if s.Segment == segment {
			return engine.SegmentState{Segment: s.Segment, Statistic: s.Statistic, Samples: s.Samples,
				Since: timeOf(s.Since), EpisodeStart: timeOf(s.EpisodeStart)}
		}
	}
	t.Fatalf("%s: no evidence for %s in testdata", m.Name, segment)
	return engine.SegmentState{}
}

// tasksByMetric is the name of each Metric's task in the old objects.
func tasksByMetric(t *testing.T, objs map[string][]*unstructured.Unstructured) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, u := range objs["ImprovementTask"] {
		var task cxv1.ImprovementTask
		if err := decodeStrictly(u, &task); err != nil {
			t.Fatal(err)
		}
		out[task.Spec.Metric] = task.Name
	}
	for _, m := range []string{evidenceMetric, verifyingMetric} {
		if out[m] == "" {
			t.Fatalf("testdata holds no task of %s", m)
		}
	}
	return out
}

func describe(task *cxv1.ImprovementTask) string {
	return fmt.Sprintf("%s: phase %s, state %s, attempt %d, verification %+v", task.Name, task.Status.Phase, task.Spec.State,
		task.Status.Attempt, task.Status.Verification)
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}
