package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// A Metric's status holds the detector evidence of 10,000 segments (the
// default --max-segments) and the whole population, and the 10,000
// segments' own baselines, in under 1 MiB: the API server accepts the
// patch, hands every segment's state and baseline back exactly,
// and the Metric reconciler's own status write (a suspended Metric,
// reconciled on request) keeps it.
func TestMetricStatusHoldsTenThousandSegmentsOfEvidence(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	m := csatMetric(ns)
	m.Spec.Suspend = true
	if err := k8sClient.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	metricAt(t, m, "suspended", func(m *cxv1.Metric) bool {
		c := meta.FindStatusCondition(m.Status.Conditions, cxv1.ConditionReady)
		return c != nil && c.Reason == "Suspended"
	})

	fed := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	det := &engine.Detector{FedUntil: fed, Threshold: 11.2, SegmentsMonitored: 10_001, DetectionHorizon: "336h0m0s"}
	for i := -1; i < 10_000; i++ {
		s := engine.SegmentState{Segment: fmt.Sprintf("account=acct-%05d", i), Statistic: engine.Round(float64(i%997)/100 + 0.01),
			Samples: float64(40 + i%300), Since: fed.Add(-time.Duration(1+i%29) * 24 * time.Hour)}
		if i < 0 {
			s.Segment = ""
		}
		if i%500 == 7 {
			s.Statistic, s.EpisodeStart = det.Threshold, s.Since
			s.Recovery, s.RecoverySince = engine.Round(float64(i)/1e4), fed.Add(-48*time.Hour)
		}
		det.Segments = append(det.Segments, s)
	}

	var bases []engine.SegmentBaseline
	for i := 0; i < 10_000; i++ {
		v := engine.Round(55 + float64(i%4001)/97.3)
		bases = append(bases, engine.SegmentBaseline{Segment: fmt.Sprintf("account=acct-%05d", i), Baseline: engine.Baseline{
			WindowStart: fed.Add(-60 * 24 * time.Hour), WindowEnd: fed.Add(-30 * 24 * time.Hour), Value: v,
			Lower: engine.Round(v - 3.3 - float64(i%17)/7), Upper: engine.Round(v + 3.1 + float64(i%13)/7), Samples: int64(30 + i%977)}})
	}

	var got cxv1.Metric
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(m), &got); err != nil {
		t.Fatal(err)
	}
	before := got.DeepCopy()
	got.Status.Detector = metricspec.DetectorStatus(det)
	got.Status.SegmentBaselines, got.Status.EncodedSegmentBaselines = metricspec.SegmentBaselinesStatus(bases, det)
	if err := k8sClient.Status().Patch(ctx, &got, client.MergeFrom(before)); err != nil {
		t.Fatalf("patch 10,000 segments of evidence: %v", err)
	}

	check := func(what string) {
		t.Helper()
		var back cxv1.Metric
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(m), &back); err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(back.Status)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) >= 1<<20 {
			t.Fatalf("%s: the status takes %d bytes, want under 1 MiB", what, len(raw))
		}
		t.Logf("%s: %d segments of evidence and %d baselines in %d bytes of status", what, len(det.Segments), len(bases), len(raw))
		prior := metricspec.PriorOf(&back.Status)
		if !reflect.DeepEqual(prior.Detector.Segments, det.Segments) {
			t.Fatalf("%s: %d segments came back, not the %d written", what, len(prior.Detector.Segments), len(det.Segments))
		}
		if !reflect.DeepEqual(prior.SegmentBaselines, bases) {
			t.Fatalf("%s: %d segment baselines came back, not the %d written", what, len(prior.SegmentBaselines), len(bases))
		}
		if d := back.Status.Detector; d.SegmentsWithEvidence != 10_001 || len(d.Segments) != cxv1.MaxReadableDetectorSegments ||
			d.Segments[0].Statistic != det.Threshold || d.Segments[0].EpisodeStart == nil {
			t.Fatalf("%s: readable detector %d of %d segments, first %+v", what, len(d.Segments), d.SegmentsWithEvidence, d.Segments[0])
		}
	}
	check("patched")

	now := fed.Add(time.Hour).Format(time.RFC3339)
	requestEvaluation(t, m, fed.Add(time.Hour))
	metricAt(t, m, "reconciled", func(m *cxv1.Metric) bool { return m.Status.LastHandledReconcileAt == now })
	check("reconciled")
}
