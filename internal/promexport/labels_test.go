package promexport

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// Segment values are data: one that is not valid UTF-8, or is hundreds of
// characters long, is exported under a valid, bounded, distinct label
// instead of panicking the operator; so is a long Metric name, and Forget
// still removes its series.
func TestExporterSurvivesAnySegmentValue(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := NewExporter(reg)
	name := strings.Repeat("checkout-conversion-", 10)
	m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Namespace: "cx", Name: name},
		Spec: cxv1.MetricSpec{Owner: cxv1.MetricOwner{Team: "growth"}}}
	long := "account=" + strings.Repeat("x", 200)
	m.Status = cxv1.MetricStatus{Value: ptr(0.31), Samples: 900, State: cxv1.StateBreached,
		WorstSegments: []cxv1.SegmentResult{
			{Segment: "region=s\xe3o-paulo\xff", Value: ptr(0.1), Samples: 40},
			{Segment: long, Value: ptr(0.2), Samples: 40},
			{Segment: long + "y", Value: ptr(0.25), Samples: 40},
			{Segment: "plan=enterprise", Value: ptr(0.3), Samples: 40},
		}}
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("Observe panicked: %v", r)
			}
		}()
		e.Observe(m, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	}()
	if n := testutil.CollectAndCount(e, "cxloop_segment_value"); n != 4 {
		t.Fatalf("segment series = %d, want 4 (one per segment, long ones kept apart)", n)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	segments := map[string]bool{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if v := l.GetValue(); !utf8.ValidString(v) || len(v) > 63 {
					t.Errorf("%s: label %s=%q is invalid UTF-8 or over 63 bytes", f.GetName(), l.GetName(), v)
				}
				if l.GetName() == "segment" {
					segments[l.GetValue()] = true
				}
			}
		}
	}
	if !segments["plan=enterprise"] || len(segments) != 4 {
		t.Fatalf("segment labels %v", segments)
	}

	// Observing again replaces the series rather than adding to them.
	m.Status.WorstSegments = m.Status.WorstSegments[:1]
	e.Observe(m, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	if n := testutil.CollectAndCount(e, "cxloop_segment_value"); n != 1 {
		t.Fatalf("segment series after the worst list shrank = %d, want 1", n)
	}
	e.Forget("cx", name)
	if n := testutil.CollectAndCount(e, "cxloop_metric_value") + testutil.CollectAndCount(e, "cxloop_segment_value"); n != 0 {
		t.Fatalf("%d series left after Forget", n)
	}
}
