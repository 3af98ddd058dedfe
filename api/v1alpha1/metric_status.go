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

	// display is the latest value and target as people read them, rounded
	// to the formula's precision with their unit; kubectl get shows it.
	// +optional
	Display *MetricDisplay `json:"display,omitempty"`

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

	// responseRate is the share of spec.invitations answered over the
	// latest window, when spec.invitations is set.
	// +optional
	ResponseRate *ResponseRateStatus `json:"responseRate,omitempty"`

	// drivers is the latest driver analysis, when spec.drivers is set.
	// +optional
	Drivers *DriversStatus `json:"drivers,omitempty"`

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

// MetricDisplay is a Metric's latest result in words: the numbers of
// value, lower, upper and target rounded to the precision the formula
// has (NPS and percentages to a tenth, an effort score to a hundredth,
// other values to three significant digits), with the unit, and
// durations as 2h47m.
type MetricDisplay struct {
	// value with its confidence interval, such as "30.4 [28.2, 32.6]",
	// "84.2% [83.1, 85.3]" or "2h47m [2h31m, 3h02m]".
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Value string `json:"value,omitempty"`
	// target with the side that is good, such as ">= 30.0" or "<= 4h".
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Target string `json:"target,omitempty"`
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

// HeldBackTask is a task that would open but was not created.
type HeldBackTask struct {
	// segment key of the episode.
	Segment string `json:"segment"`
	// episodeStart is when the episode started.
	EpisodeStart metav1.Time `json:"episodeStart"`
	// reason is DryRun, MetricCapacity (the Metric's or Scorecard's own
	// maxOpenTasks), TeamCapacity, TeamNotFound (the owning Team does not
	// exist, so nobody would receive the task) or, on a Scorecard,
	// MemberTaskOpen (a member Metric has a task open for the account).
	Reason string `json:"reason"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=cxm;cxmetric,categories=cxloop
// +kubebuilder:printcolumn:name="Formula",type=string,JSONPath=`.spec.formula`
// +kubebuilder:printcolumn:name="Value",type=string,JSONPath=`.status.display.value`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.status.display.target`
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
