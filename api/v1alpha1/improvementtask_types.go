package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TaskState is the owner's word on a task.
// +kubebuilder:validation:Enum=Open;InProgress;Resolved;Dismissed
type TaskState string

// The owner's states.
const (
	TaskOpen       TaskState = "Open"
	TaskInProgress TaskState = "InProgress"
	TaskResolved   TaskState = "Resolved"
	TaskDismissed  TaskState = "Dismissed"
)

// TaskPhase is where a task is in the closed loop.
// +kubebuilder:validation:Enum=Open;InProgress;Verifying;Verified;Reopened;Recovered;Dismissed;Cancelled
type TaskPhase string

// The task phases. Verified, Recovered, Dismissed and Cancelled are final.
const (
	PhaseOpen       TaskPhase = "Open"
	PhaseInProgress TaskPhase = "InProgress"
	PhaseVerifying  TaskPhase = "Verifying"
	PhaseVerified   TaskPhase = "Verified"
	PhaseReopened   TaskPhase = "Reopened"
	PhaseRecovered  TaskPhase = "Recovered"
	PhaseDismissed  TaskPhase = "Dismissed"
	PhaseCancelled  TaskPhase = "Cancelled"
)

// ImprovementTaskSpec is written once by the operator when an episode opens;
// afterwards only the owner's fields (state, resolution, dismissReason)
// change. The operator's facts (metric through playbook) can be neither
// changed nor removed nor added later: a rule on a field alone runs only
// while the field is present on both sides of an update, so the rules that
// guard presence sit here, on the spec.
// +kubebuilder:validation:XValidation:rule="oldSelf.state != 'Dismissed' || self.state == 'Dismissed'",message="state: a dismissed task stays dismissed"
// +kubebuilder:validation:XValidation:rule="self.state != 'Open' || oldSelf.state == 'Open'",message="state: a task cannot be moved back to Open"
// +kubebuilder:validation:XValidation:rule="self.state != 'Resolved' || (has(self.resolution) && size(self.resolution.note) > 0)",message="resolution.note is required when state is Resolved: say what changed"
// +kubebuilder:validation:XValidation:rule="self.state != 'Dismissed' || (has(self.dismissReason) && size(self.dismissReason) > 0)",message="dismissReason is required when state is Dismissed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.resolution) || has(self.resolution)",message="resolution cannot be removed once set: move state to InProgress to withdraw it",fieldPath=".resolution"
// +kubebuilder:validation:XValidation:rule="has(oldSelf.resolution) || !has(self.resolution) || self.resolution.attempt == 1",message="resolution.attempt of a task's first resolution is 1: a task reaches a later attempt only by reopening after a resolution",fieldPath=".resolution"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.resolution) || !has(self.resolution) || self.resolution.attempt == oldSelf.resolution.attempt || self.resolution.attempt == oldSelf.resolution.attempt + 1",message="resolution.attempt can only stay or move to the next attempt (status.attempt after a reopening); it cannot go back or skip attempts",fieldPath=".resolution"
// +kubebuilder:validation:XValidation:rule="has(self.metric) != has(self.scorecard)",message="a task names its origin: exactly one of metric and scorecard"
// +kubebuilder:validation:XValidation:rule="has(self.metric) == has(oldSelf.metric) && (!has(self.metric) || self.metric == oldSelf.metric)",message="metric is immutable: the operator sets it when the task opens",fieldPath=".metric"
// +kubebuilder:validation:XValidation:rule="has(self.scorecard) == has(oldSelf.scorecard) && (!has(self.scorecard) || self.scorecard == oldSelf.scorecard)",message="scorecard is immutable: the operator sets it when the task opens",fieldPath=".scorecard"
// +kubebuilder:validation:XValidation:rule="has(self.segment) == has(oldSelf.segment) && (!has(self.segment) || self.segment == oldSelf.segment)",message="segment is immutable: the operator sets it when the task opens, and it cannot be changed, removed or added",fieldPath=".segment"
// +kubebuilder:validation:XValidation:rule="has(self.segmentValues) == has(oldSelf.segmentValues) && (!has(self.segmentValues) || self.segmentValues == oldSelf.segmentValues)",message="segmentValues is immutable: the operator sets it when the task opens, and it cannot be changed, removed or added",fieldPath=".segmentValues"
// +kubebuilder:validation:XValidation:rule="self.team == oldSelf.team",message="team is immutable: the operator sets it when the task opens; status.team is the team that owns it now",fieldPath=".team"
// +kubebuilder:validation:XValidation:rule="self.episodeStart == oldSelf.episodeStart",message="episodeStart is immutable: the operator sets it when the task opens",fieldPath=".episodeStart"
// +kubebuilder:validation:XValidation:rule="self.definitionHash == oldSelf.definitionHash",message="definitionHash is immutable: the operator sets it when the task opens",fieldPath=".definitionHash"
// +kubebuilder:validation:XValidation:rule="has(self.baseline) == has(oldSelf.baseline) && (!has(self.baseline) || self.baseline == oldSelf.baseline)",message="baseline is immutable: the operator sets it when the task opens, and it cannot be changed, removed or added",fieldPath=".baseline"
// +kubebuilder:validation:XValidation:rule="self.objective == oldSelf.objective",message="objective is immutable: the operator sets it when the task opens",fieldPath=".objective"
// +kubebuilder:validation:XValidation:rule="has(self.evidence) == has(oldSelf.evidence) && (!has(self.evidence) || self.evidence == oldSelf.evidence)",message="evidence is immutable: the operator sets it when the task opens, and it cannot be changed, removed or added",fieldPath=".evidence"
// +kubebuilder:validation:XValidation:rule="has(self.responseRate) == has(oldSelf.responseRate) && (!has(self.responseRate) || self.responseRate == oldSelf.responseRate)",message="responseRate is immutable: the operator sets it when the task opens, and it cannot be changed, removed or added",fieldPath=".responseRate"
// +kubebuilder:validation:XValidation:rule="has(self.drivers) == has(oldSelf.drivers) && (!has(self.drivers) || self.drivers == oldSelf.drivers)",message="drivers are immutable: the operator sets them when the task opens, and they cannot be changed, removed or added",fieldPath=".drivers"
// +kubebuilder:validation:XValidation:rule="self.priority == oldSelf.priority",message="priority is immutable: the operator sets it when the task opens",fieldPath=".priority"
// +kubebuilder:validation:XValidation:rule="has(self.dueDate) == has(oldSelf.dueDate) && (!has(self.dueDate) || self.dueDate == oldSelf.dueDate)",message="dueDate is immutable: the operator sets it when the task opens, and it cannot be changed, removed or added",fieldPath=".dueDate"
// +kubebuilder:validation:XValidation:rule="has(self.playbook) == has(oldSelf.playbook) && (!has(self.playbook) || self.playbook == oldSelf.playbook)",message="playbook is immutable: the operator sets it when the task opens, and it cannot be changed, removed or added",fieldPath=".playbook"
type ImprovementTaskSpec struct {
	// metric is the name of the Metric, in this namespace, whose episode
	// opened the task; absent on a Scorecard's task.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Metric string `json:"metric,omitempty"`

	// scorecard is the name of the Scorecard, in this namespace, whose
	// account episode opened the task; absent on a Metric's task. The
	// segment is then the account (the Scorecard's key and its value),
	// and verification scores the account's fresh data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Scorecard string `json:"scorecard,omitempty"`

	// segment key of the episode: column=value pairs sorted by column and
	// joined by commas; empty for the whole population.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Segment string `json:"segment,omitempty"`

	// segmentValues are the raw values of the segment's columns.
	// +kubebuilder:validation:MaxProperties=4
	// +optional
	SegmentValues map[string]string `json:"segmentValues,omitempty"`

	// team the task was opened for: the Metric's owner when the episode
	// opened. status.team is the team that owns it now.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Team string `json:"team"`

	// episodeStart is when the change detector's episode started.
	EpisodeStart metav1.Time `json:"episodeStart"`

	// definitionHash of the Metric definition that found the episode.
	// +kubebuilder:validation:MaxLength=64
	DefinitionHash string `json:"definitionHash"`

	// baseline is the value before the episode, with its interval.
	// +optional
	Baseline *TaskBaseline `json:"baseline,omitempty"`

	// objective the task must restore.
	Objective TaskObjective `json:"objective"`

	// evidence is what the change detector saw when it opened the episode.
	// +optional
	Evidence *TaskEvidence `json:"evidence,omitempty"`

	// responseRate is the share of invitations the task's segment
	// answered when the task opened, when the Metric names its
	// invitations; low marks a score that may not represent the segment.
	// +optional
	ResponseRate *SegmentResponseRate `json:"responseRate,omitempty"`

	// drivers are the Metric's strongest supported drivers when the task
	// opened, with their values in the task's segment: a direction for
	// the owner, from association across segments, not a proven cause.
	// +kubebuilder:validation:MaxItems=3
	// +optional
	Drivers []TaskDriver `json:"drivers,omitempty"`

	// priority from 1 (most urgent) to 4, from the gap and the segment's
	// weight.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4
	Priority int32 `json:"priority"`

	// dueDate is when the fix is expected.
	// +optional
	DueDate *metav1.Time `json:"dueDate,omitempty"`

	// playbook is the Metric's advice for this kind of task.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Playbook string `json:"playbook,omitempty"`

	// state is the owner's word: InProgress when work starts, Resolved
	// (with a resolution) when the fix is in, Dismissed (with a reason) for
	// a false alarm. The operator then verifies a resolution on fresh data.
	// +kubebuilder:default=Open
	// +optional
	State TaskState `json:"state,omitempty"`

	// resolution says what changed and which attempt it answers.
	// +optional
	Resolution *Resolution `json:"resolution,omitempty"`

	// dismissReason says why the task is a false alarm.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	DismissReason string `json:"dismissReason,omitempty"`
}

// TaskBaseline is the value before an episode.
type TaskBaseline struct {
	// value of the baseline window.
	Value float64 `json:"value"`
	// lower bound of the confidence interval.
	Lower float64 `json:"lower"`
	// upper bound of the confidence interval.
	Upper float64 `json:"upper"`
	// samples behind the value.
	Samples int64 `json:"samples"`
	// windowStart is the inclusive start of the baseline window.
	WindowStart metav1.Time `json:"windowStart"`
	// windowEnd is the exclusive end of the baseline window.
	WindowEnd metav1.Time `json:"windowEnd"`
}

// TaskObjective is what a task must restore.
type TaskObjective struct {
	// direction says which side of the target is good.
	Direction Direction `json:"direction"`
	// target value the metric should hold again.
	Target float64 `json:"target"`
	// minShift (δ) is the shift that counts as the drop persisting.
	MinShift float64 `json:"minShift"`
}

// TaskEvidence is what the change detector saw.
type TaskEvidence struct {
	// statistic of the detector when the episode opened, in standard units.
	Statistic float64 `json:"statistic"`
	// threshold it crossed.
	Threshold float64 `json:"threshold"`
	// samples fed since the episode started.
	Samples float64 `json:"samples"`
	// observedValue of the metric over the episode's data.
	// +optional
	ObservedValue *float64 `json:"observedValue,omitempty"`
}

// Resolution is the owner's account of a fix.
type Resolution struct {
	// note says what changed.
	// +kubebuilder:validation:MaxLength=2048
	Note string `json:"note"`
	// attempt this resolution answers (status.attempt at the time), so a
	// reopened task is resolved again with the next attempt. Once set, the
	// attempt can only stay or move to the next one, never back and never
	// past it. The operator ignores a resolution whose attempt is not the
	// task's current one (condition ResolutionIgnored when it is ahead);
	// since it cannot be lowered, write status.attempt, as
	// `kubectl cx resolve` does.
	// +kubebuilder:validation:Minimum=1
	Attempt int32 `json:"attempt"`
}

// ImprovementTaskStatus is the operator's record of a task; only the
// operator writes it.
type ImprovementTaskStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready, and Escalated on a task reopened more often than
	// its policy allows.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// phase of the task in the closed loop.
	// +optional
	Phase TaskPhase `json:"phase,omitempty"`
	// attempt counts the owner's tries, starting at 1; a reopening adds one.
	// +optional
	Attempt int32 `json:"attempt,omitempty"`
	// resolvedAt is when the operator first observed a resolution of the
	// current attempt; fresh data for verification starts there. It is
	// stamped once per attempt: withdrawing the resolution (state back to
	// InProgress) and resolving again keeps it, and only a reopening, which
	// starts the next attempt, clears it.
	// +optional
	ResolvedAt *metav1.Time `json:"resolvedAt,omitempty"`
	// episodeEndedAt is when the operator first saw the change detector
	// close the task's episode. Recovery without action is judged only on
	// data newer than this, so the bad days at the episode's start cannot
	// hide a recovery, and a recovery is never declared while the detector
	// still sees the drop.
	// +optional
	EpisodeEndedAt *metav1.Time `json:"episodeEndedAt,omitempty"`
	// closedAt is when the task reached a final phase.
	// +optional
	ClosedAt *metav1.Time `json:"closedAt,omitempty"`
	// reason for the latest phase change, such as NotProven, Persists or
	// DefinitionChanged.
	// +optional
	Reason string `json:"reason,omitempty"`
	// message explains the latest phase change.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
	// team that owns the task now. It starts as spec.team, the team the
	// task was opened for, and follows the Metric's spec.owner.team while
	// the task is not closed: when a Metric changes owner, its open tasks
	// move to the new team (event Reassigned), which then counts them,
	// receives their deliveries and escalates them through its own
	// escalation team. A closed task stays with the team that had it. The
	// label cxloop.dev/team follows this field.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Team string `json:"team,omitempty"`
	// previousTeam is the team the task last moved away from; empty while
	// it has never moved.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PreviousTeam string `json:"previousTeam,omitempty"`
	// reassignedAt is when the task last moved to another team.
	// +optional
	ReassignedAt *metav1.Time `json:"reassignedAt,omitempty"`
	// escalatedTo is the team the task was escalated to.
	// +optional
	EscalatedTo string `json:"escalatedTo,omitempty"`
	// measurements of fresh data since the resolution, newest last.
	// +kubebuilder:validation:MaxItems=30
	// +optional
	Measurements []TaskMeasurement `json:"measurements,omitempty"`
	// verification is the proof that closed the task.
	// +optional
	Verification *Verification `json:"verification,omitempty"`
	// verificationPlan states, before any fresh data, what proving a fix
	// for the current attempt needs: the level fresh data must leave, the
	// attempt's share of the error level, the fresh volume that proves a
	// fix which restored the target, and how long the metric's volume takes
	// to bring it. Kept as it was when the task closed.
	// +optional
	VerificationPlan *VerificationPlan `json:"verificationPlan,omitempty"`
	// deliveries records each attempt to deliver the task to the team's
	// tools, newest last.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Deliveries []DeliveryRecord `json:"deliveries,omitempty"`
}

// DeliveryRecord is one attempt to deliver a task event to a channel.
type DeliveryRecord struct {
	// channel name on the Team.
	Channel string `json:"channel"`
	// event delivered: Opened, Reopened, Escalated, Verified, Recovered,
	// Dismissed, Cancelled, or Reassigned (to the team the task moved to).
	Event string `json:"event"`
	// attempt of the task the event belongs to.
	Attempt int32 `json:"attempt"`
	// time of the delivery attempt.
	Time metav1.Time `json:"time"`
	// succeeded is true when the tool accepted the event.
	Succeeded bool `json:"succeeded"`
	// tries counts delivery attempts of this event.
	Tries int32 `json:"tries"`
	// retryable is true when a failed delivery will be tried again.
	// +optional
	Retryable bool `json:"retryable,omitempty"`
	// message from the tool, or the error.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Message string `json:"message,omitempty"`
	// externalRef is the tool's identifier, such as a GitHub issue URL.
	// +optional
	ExternalRef string `json:"externalRef,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=itask;cxtask,categories=cxloop
// +kubebuilder:printcolumn:name="Team",type=string,JSONPath=`.status.team`
// +kubebuilder:printcolumn:name="Metric",type=string,JSONPath=`.spec.metric`
// +kubebuilder:printcolumn:name="Scorecard",type=string,JSONPath=`.spec.scorecard`,priority=1
// +kubebuilder:printcolumn:name="Segment",type=string,JSONPath=`.spec.segment`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Attempt",type=integer,JSONPath=`.status.attempt`
// +kubebuilder:printcolumn:name="Due",type=date,JSONPath=`.spec.dueDate`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ImprovementTask is work for a team, opened when a Metric's change
// detector finds a drop, and closed only when fresh data proves the fix.
type ImprovementTask struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the task as opened, plus the owner's state.
	Spec ImprovementTaskSpec `json:"spec"`
	// status is the operator's record of the task.
	// +optional
	Status ImprovementTaskStatus `json:"status,omitempty"`
}

// CurrentTeam is the team that owns the task now: status.team once the
// operator has recorded it, otherwise spec.team, the team it was opened
// for.
func (t *ImprovementTask) CurrentTeam() string {
	if t.Status.Team != "" {
		return t.Status.Team
	}
	return t.Spec.Team
}

// Origin names what opened the task, for people: "metric NAME" or
// "scorecard NAME".
func (t *ImprovementTask) Origin() string {
	if t.Spec.Scorecard != "" {
		return "scorecard " + t.Spec.Scorecard
	}
	return "metric " + t.Spec.Metric
}

// +kubebuilder:object:root=true

// ImprovementTaskList is a list of ImprovementTasks.
type ImprovementTaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ImprovementTask `json:"items"`
}

func init() {
	register(&ImprovementTask{}, &ImprovementTaskList{})
}
