package loop

import "time"

// Phase is where a task is in the closed loop.
type Phase string

// The phases. Verified, Recovered, Dismissed and Cancelled are final.
const (
	Open       Phase = "Open"
	InProgress Phase = "InProgress"
	Verifying  Phase = "Verifying"
	Verified   Phase = "Verified"
	Reopened   Phase = "Reopened"
	Recovered  Phase = "Recovered"
	Dismissed  Phase = "Dismissed"
	Cancelled  Phase = "Cancelled"
)

// Final reports whether no further transition leaves the phase.
func (p Phase) Final() bool {
	switch p {
	case Verified, Recovered, Dismissed, Cancelled:
		return true
	}
	return false
}

// OwnerState is the owner's word on a task (the task's spec.state).
type OwnerState string

// The owner's states.
const (
	OwnerOpen       OwnerState = "Open"
	OwnerInProgress OwnerState = "InProgress"
	OwnerResolved   OwnerState = "Resolved"
	OwnerDismissed  OwnerState = "Dismissed"
)

// Event is a transition worth telling the owners' tools about.
type Event string

// The events delivered to teams.
const (
	EventOpened    Event = "Opened"
	EventReopened  Event = "Reopened"
	EventEscalated Event = "Escalated"
	EventVerified  Event = "Verified"
	EventRecovered Event = "Recovered"
	EventDismissed Event = "Dismissed"
	EventCancelled Event = "Cancelled"
	// EventReassigned tells the team a task moved to (because its Metric
	// changed owner) that the task is now theirs. It changes no phase.
	EventReassigned Event = "Reassigned"
)

// Reasons recorded with a phase change.
const (
	ReasonOpened            = "EpisodeDetected"
	ReasonStarted           = "OwnerStarted"
	ReasonResolved          = "OwnerResolved"
	ReasonWithdrawn         = "ResolutionWithdrawn"
	ReasonVerified          = "ImprovementProven"
	ReasonPersists          = "DropPersists"
	ReasonNotProven         = "NotProven"
	ReasonRecovered         = "RecoveredWithoutAction"
	ReasonDismissed         = "OwnerDismissed"
	ReasonMetricDeleted     = "MetricDeleted"
	ReasonDefinitionChanged = "DefinitionChanged"
)

// Status is the operator's record of a task (the task's status).
type Status struct {
	Phase       Phase
	Attempt     int32
	ResolvedAt  *time.Time
	ClosedAt    *time.Time
	Reason      string
	Message     string
	Escalated   bool
	Improvement *Improvement
}

// Improvement is the proven change over the baseline, in the metric's units,
// with its interval.
type Improvement struct {
	Value, Lower, Upper float64
	Samples             int64
	Level               float64
}

// Owner is what the owner wrote on the task (its spec).
type Owner struct {
	State OwnerState
	// ResolutionAttempt is the attempt the owner's resolution answers; zero
	// when there is none.
	ResolutionAttempt int32
}

// Policy is the Metric's improvement policy as the state machine needs it.
type Policy struct {
	// MaxAttempts is how many reopenings are allowed before escalation.
	MaxAttempts int32
	// VerifyWindow is how long after a resolution fresh data is collected.
	VerifyWindow time.Duration
}

// Outcome is a statistical verdict on fresh data, from internal/detect.
type Outcome string

// The verdicts a Check carries.
const (
	// Pending: not enough evidence either way yet; keep looking.
	Pending Outcome = "Pending"
	// Proven: the drop that opened the task is gone, at the stated level.
	Proven Outcome = "Proven"
	// Persists: the evidence says the drop is still there.
	Persists Outcome = "Persists"
	// NotProven: the window ended without proof.
	NotProven Outcome = "NotProven"
)

// Check is the verdict of a test on data newer than a point in time, with
// the improvement it measured. A nil *Check means the data could not be
// read: nothing opens, verifies, reopens or closes on missing data.
type Check struct {
	Outcome     Outcome
	Improvement Improvement
	Message     string
}

// Observation is everything the operator saw when it reconciled a task.
type Observation struct {
	Now    time.Time
	Owner  Owner
	Policy Policy
	// MetricDeleted is true when the task's Metric is being deleted.
	MetricDeleted bool
	// DefinitionChanged is true when the Metric's definition hash differs
	// from the one that opened the task.
	DefinitionChanged bool
	// Fresh is the verification test on data newer than Status.ResolvedAt;
	// only consulted while Verifying.
	Fresh *Check
	// SinceOpening is the same test on data newer than the task's opening;
	// only consulted while the owner has not resolved it, to detect
	// recovery without action.
	SinceOpening *Check
	// FactsDisputed is true when the task's facts disagree with its
	// Metric's record of the episode (see CheckFacts): Fresh and
	// SinceOpening are then ignored, so nothing verifies, reopens or
	// recovers on data read for the wrong episode.
	FactsDisputed bool
}
