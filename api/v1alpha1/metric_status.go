package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WindowState judges a window's value against the objective.
// +kubebuilder:validation:Enum=Met;Warning;Breached;Inconclusive;InsufficientData
type WindowState string

// The window states.
const (
	StateMet              WindowState = "Met"
	StateWarning          WindowState = "Warning"
	StateBreached         WindowState = "Breached"
	StateInconclusive     WindowState = "Inconclusive"
	StateInsufficientData WindowState = "InsufficientData"
)

// Bounds on the lists kept in a Metric's status, so it stays small whatever
// the data's cardinality.
const (
	MaxWorstSegments = 10
	MaxHistory       = 30
	// MaxDetectorSegments is how many entries detector.segments and
	// segmentBaselines held before the encodings; the schema admits them.
	MaxDetectorSegments = 200
	MaxHeldBackTasks    = 20
	// MaxReadableDetectorSegments bounds detector.segments and
	// segmentBaselines, the readable lists of the segments with the most
	// evidence; every segment's is in detector.encodedSegments and
	// encodedSegmentBaselines.
	MaxReadableDetectorSegments = 10
)

// DetectorSegmentsEncodingV1 is the prefix of detector.encodedSegments
// and encodedSegmentBaselines in the layouts their fields document.
const DetectorSegmentsEncodingV1 = "v1:"

// MetricStatus is the operator's last measurement of a Metric.
type MetricStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (the operator measured the metric: source reachable,
	// evaluation succeeded), ChangeDetected (the change detector has an open
	// episode; never makes the metric unhealthy), InsufficientData and
	// SourceUnavailable.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// definitionHash identifies everything that defines the number; values
	// computed under another definition are never compared with this one.
	// +optional
	DefinitionHash string `json:"definitionHash,omitempty"`

	// state of the latest window against the objective.
	// +optional
	State WindowState `json:"state,omitempty"`

	// value of the latest window; absent while data is insufficient.
	// +optional
	Value *float64 `json:"value,omitempty"`
	// lower bound of the value's confidence interval.
	// +optional
	Lower *float64 `json:"lower,omitempty"`
	// upper bound of the value's confidence interval.
	// +optional
	Upper *float64 `json:"upper,omitempty"`
	// samples behind the value (the Kish effective size when weighted,
	// rounded down).
	// +optional
	Samples int64 `json:"samples,omitempty"`
	// target the value is judged against: the fixed target, or the frozen
	// baseline moved by the allowed change.
	// +optional
	Target *float64 `json:"target,omitempty"`

	// episode is when the currently open change episode of the whole
	// population started; empty when in control.
	// +optional
	Episode *metav1.Time `json:"episode,omitempty"`

	// lastEvaluation records how the latest result was reached. It changes
	// only when the result does, so an evaluation that finds nothing new
	// writes nothing; the time of every evaluation is exported as the
	// cxloop_metric_last_evaluation_timestamp_seconds gauge instead.
	// +optional
	LastEvaluation *Evaluation `json:"lastEvaluation,omitempty"`

	// lastHandledReconcileAt is the value of the
	// reconcile.cxloop.dev/requestedAt annotation last acted on: set the
	// annotation to any new value (a timestamp) to evaluate at once.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// consecutiveSourceErrors counts evaluations in a row that failed to
	// read the source. The last good value stays meanwhile.
	// +optional
	ConsecutiveSourceErrors int32 `json:"consecutiveSourceErrors,omitempty"`

	// worstSegments lists the segments furthest on the wrong side of the
	// target, worst first, weighted by segment weight where given.
	// +kubebuilder:validation:MaxItems=10
	// +optional
	WorstSegments []SegmentResult `json:"worstSegments,omitempty"`

	// history of recent evaluations, newest last.
	// +kubebuilder:validation:MaxItems=30
	// +optional
	History []HistoryPoint `json:"history,omitempty"`

	// baseline is the frozen window a relative objective compares the
	// whole population with.
	// +optional
	Baseline *Baseline `json:"baseline,omitempty"`

	// segmentBaselines lists, readably, the frozen baselines of the
	// segments with the most detector evidence, at most 10, under a
	// relative objective: each segment is judged against its own level,
	// and a segment without one is not judged until its baseline window
	// holds objective.minSamples. Every segment's baseline is in
	// encodedSegmentBaselines; a status written before that existed holds
	// here up to 200, and is read as such.
	// +kubebuilder:validation:MaxItems=200
	// +listType=map
	// +listMapKey=segment
	// +optional
	SegmentBaselines []SegmentBaseline `json:"segmentBaselines,omitempty"`

	// encodedSegmentBaselines holds every segment's frozen baseline, up to
	// the manager's --max-segments, compactly. Layout "v1:" followed by
	// the standard, padded base64 of a gzip stream of: a uvarint count,
	// then per segment in ascending key order the key front-coded (as in
	// detector.encodedSegments), windowStart and windowEnd as zigzag
	// varint seconds since 1970-01-01T00:00:00Z, value, lower and upper as
	// IEEE 754 float64 little endian, and samples as a zigzag varint.
	// Absent, segmentBaselines holds every kept baseline.
	// +optional
	EncodedSegmentBaselines string `json:"encodedSegmentBaselines,omitempty"`

	// detector is the change detector's persisted state.
	// +optional
	Detector *DetectorStatus `json:"detector,omitempty"`

	// heldBackTasks lists the tasks that would open but were not created:
	// dry run, the metric's maxOpenTasks or the team's capacity.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	HeldBackTasks []HeldBackTask `json:"heldBackTasks,omitempty"`

	// exclusion is the occurrence of spec.exclusions that covered the
	// latest evaluated interval; its data was left out. Absent otherwise.
	// +optional
	Exclusion *ExclusionStatus `json:"exclusion,omitempty"`
}

// Evaluation records how a result was reached.
type Evaluation struct {
	// windowStart is the inclusive start of the evaluated window.
	WindowStart metav1.Time `json:"windowStart"`
	// windowEnd is the exclusive end of the evaluated window, a multiple of
	// the interval.
	WindowEnd metav1.Time `json:"windowEnd"`
	// query as run, with bound values shown as placeholders and secrets
	// redacted.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	Query string `json:"query,omitempty"`
	// reason summarises the outcome in a word, such as Measured or
	// SourceUnavailable.
	// +optional
	Reason string `json:"reason,omitempty"`
	// message explains the outcome.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// SegmentResult is a segment's value in the latest window.
type SegmentResult struct {
	// segment key: column=value pairs sorted by column, joined by commas.
	Segment string `json:"segment"`
	// value of the segment; absent while its data is insufficient.
	// +optional
	Value *float64 `json:"value,omitempty"`
	// lower bound of the confidence interval.
	// +optional
	Lower *float64 `json:"lower,omitempty"`
	// upper bound of the confidence interval.
	// +optional
	Upper *float64 `json:"upper,omitempty"`
	// samples behind the value.
	Samples int64 `json:"samples"`
	// state of the segment's window against the objective.
	State WindowState `json:"state"`
	// weight of the segment (sum of its response weights) when weighted.
	// +optional
	Weight *float64 `json:"weight,omitempty"`
}

// HistoryPoint is one past evaluation.
type HistoryPoint struct {
	// windowEnd is the exclusive end of the evaluated window.
	WindowEnd metav1.Time `json:"windowEnd"`
	// value of the window; absent while data was insufficient.
	// +optional
	Value *float64 `json:"value,omitempty"`
	// lower bound of the confidence interval.
	// +optional
	Lower *float64 `json:"lower,omitempty"`
	// upper bound of the confidence interval.
	// +optional
	Upper *float64 `json:"upper,omitempty"`
	// samples behind the value.
	Samples int64 `json:"samples"`
	// state of the window.
	State WindowState `json:"state"`
	// definitionHash the value was computed under.
	DefinitionHash string `json:"definitionHash"`
}

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

// HeldBackTask is a task that would open but was not created.
type HeldBackTask struct {
	// segment key of the episode.
	Segment string `json:"segment"`
	// episodeStart is when the episode started.
	EpisodeStart metav1.Time `json:"episodeStart"`
	// reason is DryRun, MetricCapacity, TeamCapacity or TeamNotFound (the
	// owning Team does not exist, so nobody would receive the task).
	Reason string `json:"reason"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cxm;cxmetric,categories=cxloop
// +kubebuilder:printcolumn:name="Formula",type=string,JSONPath=`.spec.formula`
// +kubebuilder:printcolumn:name="Value",type=number,JSONPath=`.status.value`
// +kubebuilder:printcolumn:name="Target",type=number,JSONPath=`.status.target`
// +kubebuilder:printcolumn:name="Samples",type=integer,JSONPath=`.status.samples`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Episode",type=date,JSONPath=`.status.episode`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Team",type=string,JSONPath=`.spec.owner.team`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Metric is one customer-experience measure (NPS, CSAT, CES, FCR, churn,
// resolution time, ...) with where its data lives, what good looks like and
// which team owns it. The operator measures it on schedule and opens an
// ImprovementTask for the owner when its change detector finds a drop.
type Metric struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the metric.
	Spec MetricSpec `json:"spec"`
	// status is the operator's latest measurement.
	// +optional
	Status MetricStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// MetricList is a list of Metrics.
type MetricList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Metric `json:"items"`
}

func init() {
	register(&Metric{}, &MetricList{})
}
