package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DetectorSegmentsEncodingV1 is the prefix of detector.encodedSegments
// and encodedSegmentBaselines in the layouts their fields document.
const DetectorSegmentsEncodingV1 = "v1:"

// DetectorStatus is the change detector's persisted state. Every segment
// with evidence is kept (in encodedSegments), up to the manager's
// --max-segments; a segment without evidence has a statistic of zero and
// needs no entry.
type DetectorStatus struct {
	// fedUntil is the end of the data already fed to the detector; each
	// row is fed exactly once.
	// +optional
	FedUntil *metav1.Time `json:"fedUntil,omitempty"`
	// threshold is the per-segment decision threshold, calibrated so the
	// whole metric stays within its false-task budget.
	// +optional
	Threshold float64 `json:"threshold,omitempty"`
	// segmentsMonitored is how many segments share the budget.
	// +optional
	SegmentsMonitored int32 `json:"segmentsMonitored,omitempty"`
	// detectableShift is the smallest shift found within the horizon with
	// 80 % probability at the observed volume, in the metric's units.
	// +optional
	DetectableShift *float64 `json:"detectableShift,omitempty"`
	// detectableShiftMedianSegment is detectableShift at the volume of the
	// median segment with data in the window: what a typical segment's
	// task can be expected to find.
	// +optional
	DetectableShiftMedianSegment *float64 `json:"detectableShiftMedianSegment,omitempty"`
	// detectableShiftSmallestSegment is detectableShift at the volume of
	// the smallest segment with data in the window; absent when no shift
	// up to 100 times minShift is found within the horizon there.
	// +optional
	DetectableShiftSmallestSegment *float64 `json:"detectableShiftSmallestSegment,omitempty"`
	// detectionHorizon is the horizon detectableShift refers to.
	// +optional
	DetectionHorizon string `json:"detectionHorizon,omitempty"`
	// expectedDelay is the expected time to detect a shift of minShift.
	// +optional
	ExpectedDelay string `json:"expectedDelay,omitempty"`
	// segments lists, readably, the segments with the most evidence: the
	// largest statistics first, at most 10. The evidence of every segment
	// is in encodedSegments; a status written before encodedSegments
	// existed holds here every segment's, up to 200, and is read as such.
	// +kubebuilder:validation:MaxItems=200
	// +optional
	Segments []DetectorSegment `json:"segments,omitempty"`
	// segmentsWithEvidence is how many segments have a non-zero statistic,
	// the whole population counted as one: the entries of encodedSegments.
	// +optional
	SegmentsWithEvidence int32 `json:"segmentsWithEvidence,omitempty"`
	// encodedSegments holds the state of every segment with evidence,
	// compactly, so a metric split by 10,000 accounts keeps each one's in
	// well under 1 MiB. Layout "v1:" followed by the standard, padded
	// base64 of a gzip stream of: a uvarint count, then per segment in
	// ascending key order the key front-coded (uvarint bytes shared with
	// the previous key, uvarint length of the rest, the rest), a flags
	// byte (1 since, 2 samples, 4 episodeStart, 8 recovery, 16
	// recoverySince: which optional fields follow), the statistic, then
	// the flagged fields in that order; numbers as IEEE 754 float64 little
	// endian, times as zigzag varint seconds since 1970-01-01T00:00:00Z.
	// The fields mean what they mean in segments. Absent, segments holds
	// every segment with evidence.
	// +optional
	EncodedSegments string `json:"encodedSegments,omitempty"`
	// calibration is how much more the metric's interval means vary than
	// independent responses would, measured on up to a year of its own
	// history (a common mood, campaigns, weights); the detector counts
	// each interval's responses for fewer accordingly.
	// +optional
	Calibration *DetectorCalibration `json:"calibration,omitempty"`
}

// DetectorCalibration is the dispersion of a metric's data measured on its
// own history.
type DetectorCalibration struct {
	// calibratedAt is the end of the history measured.
	CalibratedAt metav1.Time `json:"calibratedAt"`
	// calibrating is true while less history exists than 180 days (or ten
	// correlation times): a conservative mood is assumed meanwhile, so
	// detection is slower until the history is long enough.
	// +optional
	Calibrating bool `json:"calibrating,omitempty"`
	// history is the span of history measured, as a Go duration.
	// +optional
	History string `json:"history,omitempty"`
	// sigma is the standard deviation of one response's contribution,
	// pooled over the history.
	// +optional
	Sigma float64 `json:"sigma,omitempty"`
	// dispersion is the long-run variance of the metric's level per
	// interval beyond sampling noise, in the metric's units squared: an
	// interval of n responses has a mean whose variance is sigma²/n plus
	// this.
	// +optional
	Dispersion float64 `json:"dispersion,omitempty"`
	// dispersionError is the standard error of dispersion; the detector's
	// threshold is raised to cover it, so a short or noisy history costs
	// detection speed, not false tasks.
	// +optional
	DispersionError float64 `json:"dispersionError,omitempty"`
	// varianceInflation is how many times the variance of the whole
	// population's interval mean exceeds that of independent responses, at
	// its typical volume (1: independent).
	// +optional
	VarianceInflation float64 `json:"varianceInflation,omitempty"`
	// correlationTime is how long the metric's mood persists, as a Go
	// duration.
	// +optional
	CorrelationTime string `json:"correlationTime,omitempty"`
	// windowValues are the whole population's values in the latest closed
	// windows, oldest first, for metrics judged on non-overlapping windows
	// (ratios such as NRR, sums, counts, gauges): their spread is the
	// standard error a window is judged with when the formula's own is
	// smaller, so a value without sampling error is never judged as exact.
	// +kubebuilder:validation:MaxItems=12
	// +optional
	WindowValues []float64 `json:"windowValues,omitempty"`
}

// DetectorSegment is one segment's detector state.
type DetectorSegment struct {
	// segment key.
	Segment string `json:"segment"`
	// statistic is the CUSUM value, in standard units.
	Statistic float64 `json:"statistic"`
	// since is when the statistic last left zero.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
	// samples fed since the statistic last left zero.
	// +optional
	Samples float64 `json:"samples,omitempty"`
	// episodeStart is set while an episode is open.
	// +optional
	EpisodeStart *metav1.Time `json:"episodeStart,omitempty"`
	// recovery is a statistic run towards the target while an episode is
	// open: it rises once the metric is back.
	// +optional
	Recovery float64 `json:"recovery,omitempty"`
	// recoverySince is when recovery last left zero, the detector's
	// estimate of when the metric came back; recovery without action is
	// judged on data newer than it.
	// +optional
	RecoverySince *metav1.Time `json:"recoverySince,omitempty"`
}
