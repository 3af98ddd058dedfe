package loop

import (
	"reflect"
	"testing"
	"time"
)

var (
	t0     = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	policy = Policy{MaxAttempts: 2, VerifyWindow: 30 * 24 * time.Hour}
	proof  = Improvement{Value: 6, Lower: 1.5, Upper: 10.5, Samples: 900, Level: 0.05}
)

type statusOpt func(*Status)

func status(phase Phase, attempt int32, opts ...statusOpt) Status {
	s := Status{Phase: phase, Attempt: attempt}
	for _, o := range opts {
		o(&s)
	}
	return s
}

func resolvedAt(t time.Time) statusOpt { return func(s *Status) { s.ResolvedAt = &t } }
func escalated() statusOpt             { return func(s *Status) { s.Escalated = true } }

type obsOpt func(*Observation)

func obs(opts ...obsOpt) Observation {
	o := Observation{Now: t0.Add(48 * time.Hour), Owner: Owner{State: OwnerOpen}, Policy: policy}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func owner(state OwnerState, attempt int32) obsOpt {
	return func(o *Observation) { o.Owner = Owner{State: state, ResolutionAttempt: attempt} }
}
func fresh(out Outcome) obsOpt {
	return func(o *Observation) { o.Fresh = &Check{Outcome: out, Improvement: proof} }
}
func sinceOpening(out Outcome) obsOpt {
	return func(o *Observation) { o.SinceOpening = &Check{Outcome: out, Improvement: proof} }
}
func metricDeleted() obsOpt     { return func(o *Observation) { o.MetricDeleted = true } }
func disputed() obsOpt          { return func(o *Observation) { o.FactsDisputed = true } }
func definitionChanged() obsOpt { return func(o *Observation) { o.DefinitionChanged = true } }

func TestStep(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	cases := []struct {
		name       string
		from       Status
		seen       Observation
		wantPhase  Phase
		wantAtt    int32
		wantReason string
		wantEvents []Event
		wantEsc    bool
	}{
		{"new task opens at attempt 1", Status{}, obs(), Open, 1, ReasonOpened, []Event{EventOpened}, false},
		{"open stays open while the owner is silent", status(Open, 1), obs(), Open, 1, "", nil, false},
		{"owner starts work", status(Open, 1), obs(owner(OwnerInProgress, 0)), InProgress, 1, ReasonStarted, nil, false},
		{"owner resolves: verifying", status(InProgress, 1), obs(owner(OwnerResolved, 1)), Verifying, 1, ReasonResolved, nil, false},
		{"resolution straight from open: verifying", status(Open, 1), obs(owner(OwnerResolved, 1)), Verifying, 1, ReasonResolved, nil, false},
		{"verifying, fresh data pending", status(Verifying, 1, resolvedAt(t0)), obs(owner(OwnerResolved, 1), fresh(Pending)), Verifying, 1, "", nil, false},
		{"verifying, source down: nothing changes", status(Verifying, 1, resolvedAt(t0)), obs(owner(OwnerResolved, 1)), Verifying, 1, "", nil, false},
		{"verifying, proven: verified", status(Verifying, 1, resolvedAt(t0)), obs(owner(OwnerResolved, 1), fresh(Proven)), Verified, 1, ReasonVerified, []Event{EventVerified}, false},
		{"verifying, persists: reopened", status(Verifying, 1, resolvedAt(t0)), obs(owner(OwnerResolved, 1), fresh(Persists)), Reopened, 2, ReasonPersists, []Event{EventReopened}, false},
		{"verifying, window over: reopened as not proven", status(Verifying, 1, resolvedAt(t0)), obs(owner(OwnerResolved, 1), fresh(NotProven)), Reopened, 2, ReasonNotProven, []Event{EventReopened}, false},
		{"second reopening escalates", status(Verifying, 2, resolvedAt(t0)), obs(owner(OwnerResolved, 2), fresh(Persists)), Reopened, 3, ReasonPersists, []Event{EventReopened, EventEscalated}, true},
		{"escalated once only", status(Verifying, 3, resolvedAt(t0), escalated()), obs(owner(OwnerResolved, 3), fresh(Persists)), Reopened, 4, ReasonPersists, []Event{EventReopened}, true},
		{"reopened keeps a stale resolution from counting", status(Reopened, 2), obs(owner(OwnerResolved, 1)), Reopened, 2, "", nil, false},
		{"reopened, resolved again for attempt 2", status(Reopened, 2), obs(owner(OwnerResolved, 2)), Verifying, 2, ReasonResolved, nil, false},
		{"reopened, owner back at work", status(Reopened, 2), obs(owner(OwnerInProgress, 1)), InProgress, 2, ReasonStarted, nil, false},
		{"owner withdraws the resolution", status(Verifying, 1, resolvedAt(t0)), obs(owner(OwnerInProgress, 1)), InProgress, 1, ReasonWithdrawn, nil, false},
		{"recovered before any action", status(Open, 1), obs(sinceOpening(Proven)), Recovered, 1, ReasonRecovered, []Event{EventRecovered}, false},
		{"recovery not proven: still open", status(InProgress, 1), obs(owner(OwnerInProgress, 0), sinceOpening(Pending)), InProgress, 1, "", nil, false},
		{"a resolved task is verified, not recovered", status(Verifying, 1, resolvedAt(t0)), obs(owner(OwnerResolved, 1), fresh(Pending), sinceOpening(Proven)), Verifying, 1, "", nil, false},
		{"owner dismisses", status(InProgress, 1), obs(owner(OwnerDismissed, 0)), Dismissed, 1, ReasonDismissed, []Event{EventDismissed}, false},
		{"metric deleted cancels", status(InProgress, 1), obs(metricDeleted()), Cancelled, 1, ReasonMetricDeleted, []Event{EventCancelled}, false},
		{"definition change cancels", status(Verifying, 1, resolvedAt(t0)), obs(definitionChanged(), owner(OwnerResolved, 1), fresh(Proven)), Cancelled, 1, ReasonDefinitionChanged, []Event{EventCancelled}, false},
		{"verified is final", status(Verified, 1), obs(owner(OwnerInProgress, 0), fresh(Persists), metricDeleted()), Verified, 1, "", nil, false},
		{"dismissed is final", status(Dismissed, 1), obs(owner(OwnerResolved, 1)), Dismissed, 1, "", nil, false},
		{"cancelled is final", status(Cancelled, 1), obs(owner(OwnerDismissed, 0)), Cancelled, 1, "", nil, false},
		{"recovered is final", status(Recovered, 1), obs(owner(OwnerResolved, 1), fresh(Persists)), Recovered, 1, "", nil, false},
		{"a resolution ahead of the attempt does not count", status(InProgress, 1), obs(owner(OwnerResolved, 2)), InProgress, 1, "", nil, false},
		{"a resolution skipping attempts does not count", status(Open, 1), obs(owner(OwnerResolved, 100)), Open, 1, "", nil, false},
		{"reopened, a resolution of a later attempt does not count", status(Reopened, 2), obs(owner(OwnerResolved, 3)), Reopened, 2, "", nil, false},
		{"verifying, the resolution moved ahead: withdrawn", status(Verifying, 1, resolvedAt(t0)), obs(owner(OwnerResolved, 2), fresh(Proven)), InProgress, 1, ReasonWithdrawn, nil, false},
		{"disputed facts: proof on fresh data does not verify", status(Verifying, 1, resolvedAt(t0)), obs(disputed(), owner(OwnerResolved, 1), fresh(Proven)), Verifying, 1, "", nil, false},
		{"disputed facts: a persisting drop does not reopen", status(Verifying, 1, resolvedAt(t0)), obs(disputed(), owner(OwnerResolved, 1), fresh(Persists)), Verifying, 1, "", nil, false},
		{"disputed facts: the window's end does not reopen", status(Verifying, 1, resolvedAt(t0)), obs(disputed(), owner(OwnerResolved, 1), fresh(NotProven)), Verifying, 1, "", nil, false},
		{"disputed facts: recovery does not close", status(Open, 1), obs(disputed(), sinceOpening(Proven)), Open, 1, "", nil, false},
		{"disputed facts: the owner still starts work", status(Open, 1), obs(disputed(), owner(OwnerInProgress, 0)), InProgress, 1, ReasonStarted, nil, false},
		{"disputed facts: the owner still resolves", status(InProgress, 1), obs(disputed(), owner(OwnerResolved, 1)), Verifying, 1, ReasonResolved, nil, false},
		{"disputed facts: the owner still dismisses", status(Verifying, 1, resolvedAt(t0)), obs(disputed(), owner(OwnerDismissed, 1)), Dismissed, 1, ReasonDismissed, []Event{EventDismissed}, false},
		{"disputed facts: the metric's deletion still cancels", status(Open, 1), obs(disputed(), metricDeleted()), Cancelled, 1, ReasonMetricDeleted, []Event{EventCancelled}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, events := Step(tc.from, tc.seen)
			if got.Phase != tc.wantPhase || got.Attempt != tc.wantAtt {
				t.Fatalf("phase/attempt = %s/%d, want %s/%d", got.Phase, got.Attempt, tc.wantPhase, tc.wantAtt)
			}
			if tc.wantReason != "" && got.Reason != tc.wantReason {
				t.Fatalf("reason = %q, want %q", got.Reason, tc.wantReason)
			}
			if !reflect.DeepEqual(events, tc.wantEvents) {
				t.Fatalf("events = %v, want %v", events, tc.wantEvents)
			}
			if got.Escalated != tc.wantEsc {
				t.Fatalf("escalated = %v, want %v", got.Escalated, tc.wantEsc)
			}
			if got.Phase.Final() && !tc.from.Phase.Final() && (got.ClosedAt == nil || !got.ClosedAt.Equal(now)) {
				t.Fatalf("closedAt = %v, want %v", got.ClosedAt, now)
			}
		})
	}
}

func TestVerifyingStampsResolvedAtOnceAndVerifiedRecordsTheImprovement(t *testing.T) {
	o := obs(owner(OwnerResolved, 1))
	s, _ := Step(status(InProgress, 1), o)
	if s.ResolvedAt == nil || !s.ResolvedAt.Equal(o.Now) {
		t.Fatalf("resolvedAt = %v, want %v", s.ResolvedAt, o.Now)
	}
	later := o
	later.Now = o.Now.Add(time.Hour)
	again, events := Step(s, later)
	if !reflect.DeepEqual(again, s) || events != nil {
		t.Fatalf("a second look without data changed the task: %+v %v", again, events)
	}
	later.Fresh = &Check{Outcome: Proven, Improvement: proof}
	done, _ := Step(again, later)
	if done.Improvement == nil || *done.Improvement != proof {
		t.Fatalf("improvement = %+v, want %+v", done.Improvement, proof)
	}
	if !done.ResolvedAt.Equal(o.Now) {
		t.Fatalf("resolvedAt moved to %v", done.ResolvedAt)
	}
}

func TestReopenClearsTheResolutionTime(t *testing.T) {
	s, _ := Step(status(Verifying, 1, resolvedAt(t0)), obs(owner(OwnerResolved, 1), fresh(Persists)))
	if s.ResolvedAt != nil {
		t.Fatalf("resolvedAt = %v after reopening, want nil", s.ResolvedAt)
	}
}

func TestAdvanceReachesAFixedPointAndIsIdempotent(t *testing.T) {
	o := obs(owner(OwnerResolved, 1), fresh(Proven))
	s, events := Advance(Status{}, o)
	if s.Phase != Verified {
		t.Fatalf("phase = %s, want Verified after open, verify and prove in one pass", s.Phase)
	}
	if !reflect.DeepEqual(events, []Event{EventOpened, EventVerified}) {
		t.Fatalf("events = %v", events)
	}
	again, more := Advance(s, o)
	if !reflect.DeepEqual(again, s) || len(more) != 0 {
		t.Fatalf("advancing a settled task changed it: %+v %v", again, more)
	}
}

// The full loop of the closed-loop scenario: resolved, persists, resolved
// again, persists again, escalated, and still open.
func TestReopenTwiceEscalatesAndStaysOpen(t *testing.T) {
	s, _ := Advance(Status{}, obs())
	for attempt := int32(1); attempt <= 2; attempt++ {
		s, _ = Advance(s, obs(owner(OwnerResolved, attempt)))
		if s.Phase != Verifying {
			t.Fatalf("attempt %d: phase %s, want Verifying", attempt, s.Phase)
		}
		var events []Event
		s, events = Advance(s, obs(owner(OwnerResolved, attempt), fresh(Persists)))
		if s.Phase != Reopened || s.Attempt != attempt+1 {
			t.Fatalf("attempt %d: %s/%d, want Reopened/%d", attempt, s.Phase, s.Attempt, attempt+1)
		}
		if wantEsc := attempt == 2; s.Escalated != wantEsc || (wantEsc && events[len(events)-1] != EventEscalated) {
			t.Fatalf("attempt %d: escalated=%v events=%v", attempt, s.Escalated, events)
		}
	}
	if s.Phase.Final() {
		t.Fatal("an escalated task must stay open")
	}
}

// resolvedAt is stamped once per attempt: a withdrawal and a new resolution
// within the attempt keep it, and only a reopening clears it, so the next
// attempt's resolution stamps its own.
func TestResolvedAtIsStampedOncePerAttempt(t *testing.T) {
	at := func(d time.Duration, opts ...obsOpt) Observation {
		o := obs(opts...)
		o.Now = t0.Add(d)
		return o
	}
	steps := []struct {
		name      string
		seen      Observation
		wantPhase Phase
		wantAt    *time.Time // nil: no resolvedAt
	}{
		{"resolved", at(time.Hour, owner(OwnerResolved, 1)), Verifying, ptr(t0.Add(time.Hour))},
		{"withdrawn", at(2*time.Hour, owner(OwnerInProgress, 1)), InProgress, ptr(t0.Add(time.Hour))},
		{"resolved again", at(3*time.Hour, owner(OwnerResolved, 1)), Verifying, ptr(t0.Add(time.Hour))},
		{"withdrawn again", at(4*time.Hour, owner(OwnerInProgress, 1)), InProgress, ptr(t0.Add(time.Hour))},
		{"resolved a third time", at(5*time.Hour, owner(OwnerResolved, 1)), Verifying, ptr(t0.Add(time.Hour))},
		{"persists: reopened", at(6*time.Hour, owner(OwnerResolved, 1), fresh(Persists)), Reopened, nil},
		{"a stale resolution stamps nothing", at(7*time.Hour, owner(OwnerResolved, 1)), Reopened, nil},
		{"the next attempt resolved", at(8*time.Hour, owner(OwnerResolved, 2)), Verifying, ptr(t0.Add(8 * time.Hour))},
	}
	s, _ := Advance(Status{}, at(0))
	for _, step := range steps {
		s, _ = Advance(s, step.seen)
		if s.Phase != step.wantPhase {
			t.Fatalf("%s: phase %s, want %s", step.name, s.Phase, step.wantPhase)
		}
		switch {
		case step.wantAt == nil && s.ResolvedAt != nil:
			t.Fatalf("%s: resolvedAt %v, want none", step.name, s.ResolvedAt)
		case step.wantAt != nil && (s.ResolvedAt == nil || !s.ResolvedAt.Equal(*step.wantAt)):
			t.Fatalf("%s: resolvedAt %v, want %v", step.name, s.ResolvedAt, *step.wantAt)
		}
	}
}

func ptr(t time.Time) *time.Time { return &t }
