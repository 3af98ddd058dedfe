package promexport

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// observed is an exporter of n Metrics of segments worst segments each,
// with detectors, registered with reg.
func observed(reg prometheus.Registerer, n, segments int) *Exporter {
	e := NewExporter(reg)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%02d", i%20), Name: fmt.Sprintf("m%04d", i)},
			Spec: cxv1.MetricSpec{Owner: cxv1.MetricOwner{Team: "support"}}}
		m.Status = cxv1.MetricStatus{Value: ptr(30), Lower: ptr(28), Upper: ptr(32), Samples: 900, State: cxv1.StateMet,
			Detector: &cxv1.DetectorStatus{Threshold: 9, Segments: []cxv1.DetectorSegment{{Statistic: 2}}}}
		for s := range segments {
			m.Status.WorstSegments = append(m.Status.WorstSegments, cxv1.SegmentResult{
				Segment: fmt.Sprintf("account=a%02d", s), Value: ptr(float64(s)), Samples: 90})
		}
		e.Observe(m, now)
	}
	return e
}

// A pedantic registry checks every series against its description: label
// names as described, sorted, none repeated; and a series read twice is
// the same series.
func TestExporterSeriesAreConsistentWithTheirDescriptions(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	observed(reg, 3, 4)
	for range 2 {
		families, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		n := 0
		for _, f := range families {
			n += len(f.GetMetric())
		}
		// Per Metric: value, lower, upper, samples, 5 states, the last
		// evaluation, 2 detector series and 2 per segment.
		if want := 3 * (4 + 5 + 1 + 2 + 2*4); n != want {
			t.Fatalf("%d series, want %d", n, want)
		}
	}
	if got := gauge(t, reg, "cxloop_metric_detector_statistic", "ns-01", "m0001", "support", "threshold"); got != 9 {
		t.Fatalf("threshold = %v", got)
	}
	if got := gauge(t, reg, "cxloop_segment_value", "ns-02", "m0002", "support", "account=a03"); got != 3 {
		t.Fatalf("segment value = %v", got)
	}
}

// BenchmarkExporterGather is one scrape's gathering at 2,000 Metrics of
// 10 worst segments (65,000 series); its bytes per operation are what a
// scrape allocates.
func BenchmarkExporterGather(b *testing.B) {
	reg := prometheus.NewRegistry()
	observed(reg, 2000, 10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
