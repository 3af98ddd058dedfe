package metricspec

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// baselines are n segments' frozen baselines as the engine keeps them,
// sorted by key, most sharing their window as new segments do.
func baselines(n int) []engine.SegmentBaseline {
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([]engine.SegmentBaseline, 0, n)
	for i := 0; i < n; i++ {
		e := end
		if i%10 == 0 {
			e = end.Add(-time.Duration(i%70) * 24 * time.Hour)
		}
		v := engine.Round(20 + float64(i%613)/9.7)
		out = append(out, engine.SegmentBaseline{Segment: fmt.Sprintf("account=acct-%05d", i), Baseline: engine.Baseline{
			WindowStart: e.Add(-30 * 24 * time.Hour), WindowEnd: e, Value: v, Lower: engine.Round(v - 4.1), Upper: engine.Round(v + 3.9),
			Samples: int64(30 + i%900)}})
	}
	return out
}

// Every segment's baseline survives status exactly at the default
// --max-segments, beside every segment's detector evidence, in under
// 1 MiB; the readable list holds those of the segments with the most
// evidence.
func TestSegmentBaselinesSurviveStatus(t *testing.T) {
	bs := baselines(10_000)
	det := &engine.Detector{Threshold: 9, Segments: evidence(10_000)}
	// The segment with the most evidence is one with a baseline.
	det.Segments[5000].Statistic = 9
	det.Segments[5000].Segment = bs[7777].Segment
	det.Segments = sortedByKey(det.Segments)
	var st cxv1.MetricStatus
	st.SegmentBaselines, st.EncodedSegmentBaselines = SegmentBaselinesStatus(bs, det)
	st.Detector = DetectorStatus(det)
	back, size := storedStatus(t, st)
	t.Logf("10,000 baselines and evidence: %d bytes of status (baselines %d)", size, len(st.EncodedSegmentBaselines))
	if size >= 1<<20 {
		t.Fatalf("%d bytes of status, want under 1 MiB", size)
	}
	prior := PriorOf(&back)
	if !reflect.DeepEqual(prior.SegmentBaselines, bs) {
		t.Fatalf("%d baselines came back, not the %d written, or changed", len(prior.SegmentBaselines), len(bs))
	}
	if len(back.SegmentBaselines) != cxv1.MaxReadableDetectorSegments || !containsBaseline(back.SegmentBaselines, bs[7777].Segment) {
		t.Fatalf("readable baselines %+v, want %d with %s's among them", back.SegmentBaselines, cxv1.MaxReadableDetectorSegments, bs[7777].Segment)
	}
	if _, err := DecodeSegmentBaselines(st.EncodedSegmentBaselines[:len(st.EncodedSegmentBaselines)-8]); err == nil {
		t.Fatal("a truncated encoding decoded")
	}
}

// A status written before the encoding (up to 200 baselines in the list)
// reads as it did.
func TestSegmentBaselinesReadTheOldLayout(t *testing.T) {
	want := baselines(200)
	var st cxv1.MetricStatus
	for _, b := range want {
		st.SegmentBaselines = append(st.SegmentBaselines, cxv1.SegmentBaseline{Segment: b.Segment, Baseline: cxv1.Baseline{
			WindowStart: metav1.NewTime(b.WindowStart), WindowEnd: metav1.NewTime(b.WindowEnd), Value: b.Value, Lower: b.Lower,
			Upper: b.Upper, Samples: b.Samples}})
	}
	back, _ := storedStatus(t, st)
	if got := PriorOf(&back).SegmentBaselines; !reflect.DeepEqual(got, want) {
		t.Fatalf("old baselines read as %d, want %d unchanged", len(got), len(want))
	}
}

func containsBaseline(bs []cxv1.SegmentBaseline, key string) bool {
	for _, b := range bs {
		if b.Segment == key {
			return true
		}
	}
	return false
}
