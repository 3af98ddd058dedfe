package metricspec

import (
	"sort"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// DetectorOf reads a persisted detector: every segment's evidence from
// encodedSegments, or, in a status written before it existed, from the
// segments list, which then held them all. An encoding that does not
// decode (a hand-edited status) leaves the readable list's evidence only.
func DetectorOf(d *cxv1.DetectorStatus) *engine.Detector {
	if d == nil {
		return nil
	}
	out := &engine.Detector{FedUntil: timeOf(d.FedUntil), Threshold: d.Threshold, SegmentsMonitored: d.SegmentsMonitored,
		DetectableShift: d.DetectableShift, DetectionHorizon: d.DetectionHorizon, ExpectedDelay: d.ExpectedDelay,
		DetectableShiftMedianSegment: d.DetectableShiftMedianSegment, DetectableShiftSmallestSegment: d.DetectableShiftSmallestSegment,
		Calibration: calibrationOf(d.Calibration)}
	if d.EncodedSegments != "" {
		if segs, err := DecodeDetectorSegments(d.EncodedSegments); err == nil {
			out.Segments = segs
			return out
		}
	}
	for _, s := range d.Segments {
		out.Segments = append(out.Segments, engine.SegmentState{Segment: s.Segment, Statistic: s.Statistic, Samples: s.Samples,
			Since: timeOf(s.Since), EpisodeStart: timeOf(s.EpisodeStart), Recovery: s.Recovery, RecoverySince: timeOf(s.RecoverySince)})
	}
	// The engine keeps its segments by key.
	sort.SliceStable(out.Segments, func(i, j int) bool { return out.Segments[i].Segment < out.Segments[j].Segment })
	return out
}

// DetectorStatus renders a detector for status: every segment's evidence
// encoded (EncodeDetectorSegments), the largest statistics readably.
func DetectorStatus(d *engine.Detector) *cxv1.DetectorStatus {
	if d == nil {
		return nil
	}
	out := &cxv1.DetectorStatus{FedUntil: TimeRef(d.FedUntil), Threshold: d.Threshold, SegmentsMonitored: d.SegmentsMonitored,
		DetectableShift: d.DetectableShift, DetectionHorizon: d.DetectionHorizon, ExpectedDelay: d.ExpectedDelay,
		DetectableShiftMedianSegment: d.DetectableShiftMedianSegment, DetectableShiftSmallestSegment: d.DetectableShiftSmallestSegment,
		Calibration: calibrationStatus(d.Calibration), SegmentsWithEvidence: int32(len(d.Segments))}
	if len(d.Segments) > 0 {
		out.EncodedSegments = EncodeDetectorSegments(d.Segments)
	}
	for _, s := range worstEvidence(d.Segments, cxv1.MaxReadableDetectorSegments) {
		out.Segments = append(out.Segments, cxv1.DetectorSegment{Segment: s.Segment, Statistic: s.Statistic, Samples: s.Samples,
			Since: TimeRef(s.Since), EpisodeStart: TimeRef(s.EpisodeStart), Recovery: s.Recovery, RecoverySince: TimeRef(s.RecoverySince)})
	}
	return out
}

// worstEvidence is at most n segments with the largest statistics, those
// with an open episode first among equals (an open episode's statistic
// stays at the threshold), then by key.
func worstEvidence(segs []engine.SegmentState, n int) []engine.SegmentState {
	out := append([]engine.SegmentState(nil), segs...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Statistic != b.Statistic {
			return a.Statistic > b.Statistic
		}
		if a.Open() != b.Open() {
			return a.Open()
		}
		return a.Segment < b.Segment
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
