package loop

import (
	"fmt"
	"time"
)

// Step returns the task's next status and the events to deliver, given its
// current status and what the operator observed. It applies at most one
// transition; the reconciler calls it again until nothing changes. Repeating
// a Step on its own output with the same observation changes nothing, so a
// crash between writing the status and delivering is safe to retry.
func Step(s Status, o Observation) (Status, []Event) {
	next, events, _ := stepOnce(s, admissible(o))
	return next, events
}

// rule is one policy of the chain: it either applies (ok) and returns the
// next status, or leaves the decision to the rules after it.
type rule func(Status, Observation) (Status, []Event, bool)

// rules are tried in order; the first that applies decides.
var rules = []rule{
	initialise,
	stayFinal,
	cancelOnMetricDeleted,
	cancelOnDefinitionChange,
	dismissByOwner,
	verifyFreshData,
	withdrawResolution,
	startVerifying,
	recoverWithoutAction,
	startWork,
}

func initialise(s Status, o Observation) (Status, []Event, bool) {
	if s.Phase != "" {
		return s, nil, false
	}
	s.Phase, s.Attempt = Open, 1
	s.Reason, s.Message = ReasonOpened, "the change detector found a drop; the owning team has a task"
	return s, []Event{EventOpened}, true
}

func stayFinal(s Status, _ Observation) (Status, []Event, bool) {
	return s, nil, s.Phase.Final()
}

func closeAs(s Status, o Observation, p Phase, reason, msg string) Status {
	s.Phase, s.Reason, s.Message = p, reason, msg
	now := o.Now
	s.ClosedAt = &now
	return s
}

func cancelOnMetricDeleted(s Status, o Observation) (Status, []Event, bool) {
	if !o.MetricDeleted {
		return s, nil, false
	}
	return closeAs(s, o, Cancelled, ReasonMetricDeleted, "the metric was deleted"), []Event{EventCancelled}, true
}

func cancelOnDefinitionChange(s Status, o Observation) (Status, []Event, bool) {
	if !o.DefinitionChanged {
		return s, nil, false
	}
	return closeAs(s, o, Cancelled, ReasonDefinitionChanged,
		"the metric's definition changed, so its values are no longer comparable with the episode's"), []Event{EventCancelled}, true
}

func dismissByOwner(s Status, o Observation) (Status, []Event, bool) {
	if o.Owner.State != OwnerDismissed {
		return s, nil, false
	}
	return closeAs(s, o, Dismissed, ReasonDismissed, "the owner dismissed the task as a false alarm"), []Event{EventDismissed}, true
}

// currentResolution reports whether the owner's resolution answers the
// task's current attempt. A resolution of an earlier, reopened attempt does
// not count, and neither does one claiming a later attempt: counting it
// would let one resolution answer attempts that have not happened yet, so
// a reopening would go straight back to verifying without the owner's word.
func currentResolution(s Status, o Observation) bool {
	return o.Owner.State == OwnerResolved && o.Owner.ResolutionAttempt == s.Attempt
}

func verifyFreshData(s Status, o Observation) (Status, []Event, bool) {
	if s.Phase != Verifying || !currentResolution(s, o) || o.Fresh == nil {
		return s, nil, false
	}
	switch o.Fresh.Outcome {
	case Proven:
		imp := o.Fresh.Improvement
		s = closeAs(s, o, Verified, ReasonVerified, describeImprovement(imp))
		s.Improvement = &imp
		return s, []Event{EventVerified}, true
	case Persists, NotProven:
		return reopen(s, o, o.Fresh.Outcome)
	}
	return s, nil, false
}

func reopen(s Status, o Observation, why Outcome) (Status, []Event, bool) {
	s.Phase = Reopened
	s.Attempt++
	s.ResolvedAt = nil
	if why == Persists {
		s.Reason, s.Message = ReasonPersists, "fresh data after the resolution shows the drop persists"
	} else {
		s.Reason, s.Message = ReasonNotProven, "the verify window ended without proof that the drop is gone"
	}
	if o.Fresh != nil && o.Fresh.Message != "" {
		s.Message += ": " + o.Fresh.Message
	}
	events := []Event{EventReopened}
	if reopenings := s.Attempt - 1; !s.Escalated && reopenings >= o.Policy.MaxAttempts {
		s.Escalated = true
		events = append(events, EventEscalated)
	}
	return s, events, true
}

// withdrawResolution moves a task whose resolution no longer answers the
// current attempt back to InProgress. It keeps resolvedAt: the attempt was
// resolved at that time, and resolving it again verifies from there, so
// toggling Resolved → InProgress → Resolved neither restarts the verify
// window nor drops the fresh data already seen.
func withdrawResolution(s Status, o Observation) (Status, []Event, bool) {
	if s.Phase != Verifying || currentResolution(s, o) {
		return s, nil, false
	}
	s.Phase = InProgress
	s.Reason, s.Message = ReasonWithdrawn, "the owner withdrew the resolution"
	return s, nil, true
}

// startVerifying stamps resolvedAt once per attempt, from the operator's
// clock, the first time it sees the attempt resolved; only a reopening
// (a new attempt) clears it.
func startVerifying(s Status, o Observation) (Status, []Event, bool) {
	if s.Phase == Verifying || !currentResolution(s, o) {
		return s, nil, false
	}
	if s.ResolvedAt == nil {
		now := o.Now
		s.ResolvedAt = &now
	}
	s.Phase, s.Reason = Verifying, ReasonResolved
	s.Message = fmt.Sprintf("verifying attempt %d on data newer than %s, for up to %s",
		s.Attempt, s.ResolvedAt.UTC().Format(time.RFC3339), o.Policy.VerifyWindow)
	return s, nil, true
}

func recoverWithoutAction(s Status, o Observation) (Status, []Event, bool) {
	if o.SinceOpening == nil || o.SinceOpening.Outcome != Proven || currentResolution(s, o) {
		return s, nil, false
	}
	imp := o.SinceOpening.Improvement
	s = closeAs(s, o, Recovered, ReasonRecovered, "the metric recovered before a fix was reported: "+describeImprovement(imp))
	s.Improvement = &imp
	return s, []Event{EventRecovered}, true
}

func startWork(s Status, o Observation) (Status, []Event, bool) {
	if o.Owner.State != OwnerInProgress || s.Phase == InProgress {
		return s, nil, false
	}
	s.Phase = InProgress
	s.Reason, s.Message = ReasonStarted, "the owner started work"
	return s, nil, true
}

func describeImprovement(imp Improvement) string {
	return fmt.Sprintf("improvement %.3g over the baseline (%.3g to %.3g) on %d fresh samples at level %.3g",
		imp.Value, imp.Lower, imp.Upper, imp.Samples, imp.Level)
}

// maxSteps bounds Advance; the chain reaches a fixed point in at most four
// transitions (initialise, start, verify, close).
const maxSteps = 8

// Advance applies Step until the status stops changing and returns the
// final status with every event on the way, in order.
func Advance(s Status, o Observation) (Status, []Event) {
	o = admissible(o)
	var all []Event
	for i := 0; i < maxSteps; i++ {
		next, events, changed := stepOnce(s, o)
		if !changed {
			break
		}
		s, all = next, append(all, events...)
	}
	return s, all
}

// admissible drops the data checks of a task whose facts disagree with its
// Metric's record: such a task still follows its owner's word and its
// Metric's deletion or definition change, but it is never verified,
// reopened or recovered on data read for facts that are not the episode's.
func admissible(o Observation) Observation {
	if o.FactsDisputed {
		o.Fresh, o.SinceOpening = nil, nil
	}
	return o
}

func stepOnce(s Status, o Observation) (Status, []Event, bool) {
	for _, rule := range rules {
		if next, events, ok := rule(s, o); ok {
			return next, events, !s.Phase.Final() || next.Phase != s.Phase
		}
	}
	return s, nil, false
}
