package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/source"
)

// The events a replay reports.
const (
	EventTaskOpened   = "TaskOpened"
	EventHeldBack     = "HeldBack"
	EventEpisodeEnded = "EpisodeEnded"
	EventResolved     = "Resolved"
)

// ReplayEvent is something that would have happened.
type ReplayEvent struct {
	Metric  string    `json:"metric"`
	Segment string    `json:"segment"`
	Event   string    `json:"event"`
	At      time.Time `json:"at"`
	// EpisodeStart is the episode's start, the detector's estimate of when
	// the change began.
	EpisodeStart time.Time `json:"episodeStart"`
	// Task is the name the operator would give the episode's task.
	Task  string   `json:"task,omitempty"`
	Value *float64 `json:"value,omitempty"`
	// Reason says why a task was held back, or why a task moved.
	Reason string `json:"reason,omitempty"`
	// Attempt is the task's attempt after the event.
	Attempt int32 `json:"attempt,omitempty"`
}

// ReplayOptions shape a replay.
type ReplayOptions struct {
	// Prior is the metric's state at the start (zero: none).
	Prior Prior
	// Team is the owning team's capacity; Team.Open counts tasks of other
	// metrics, this metric's own replayed tasks are added to it.
	Team TeamLoad
	// TeamEscalation is the owning team's escalation team.
	TeamEscalation string
	// ResolveAfter, when positive, plays the owner: each open or reopened
	// task is resolved this long after it opened or reopened, and its fix
	// is verified on the data that follows.
	ResolveAfter time.Duration
	// Progress, when set, is called after each evaluation with the
	// evaluations done and the replay's total (ReplayEvaluations).
	Progress func(done, total int)
}

// ReplayEvaluations is how many evaluations a replay of m over (from, to]
// runs: one at every interval-aligned window end.
func ReplayEvaluations(m Metric, from, to time.Time) int {
	if m.Interval <= 0 {
		return 0
	}
	n := 0
	for end := NextBoundary(from, m.Interval, m.Location); !end.After(to); end = AddWall(end, m.Interval, m.Location) {
		n++
	}
	return n
}

// ReplayResult is a replay's timeline and where it ended.
type ReplayResult struct {
	Events []ReplayEvent
	// Last is the last evaluation; nil when there was none.
	Last *Evaluation
}

// replayTask is a task as the task reconciler would hold it.
type replayTask struct {
	name      string
	task      Task
	status    loop.Status
	since     time.Time // when it opened or last reopened
	ended     *time.Time
	resolveOf int32
}

// Replay evaluates a metric at every aligned window end in (from, to]
// through exactly the operator's decisions, in the operator's order. At
// each boundary the task reconciler's requeue fires: every task looks
// again, on the last evaluation's status and the data up to the latest
// window end at that time (with a settle delay, still the previous one).
// settleDelay after the boundary the Metric reconciler evaluates
// (Evaluate with the state carried from one evaluation to the next, as
// status persists it) and plans new tasks (PlanTasks) against the tasks
// as they stand; its status write then wakes every task, new ones
// included, for the state machine with Verify on the fresh data. So the
// capacity a task frees on a day's data goes to a held-back episode that
// same evaluation without a settle delay, and at the next one with a
// settle delay. Without one the tasks' wake and the evaluation fall due
// at the same instant; the tasks go first, as their pass is the shorter.
func Replay(ctx context.Context, src source.Source, m Metric, from, to time.Time, opts ReplayOptions) (*ReplayResult, error) {
	if m.Interval <= 0 {
		return nil, rejected(fmt.Errorf("interval %s must be positive", m.Interval))
	}
	// Verification reads through it too: exclusions apply everywhere.
	src = ExcludeFrom(prefetch(src, m, from, to), m)
	prior := opts.Prior
	out := &ReplayResult{}
	var tasks []*replayTask
	open := map[string]time.Time{}
	held := map[string]string{}
	var excluded Occurrence
	total, done := 0, 0
	if opts.Progress != nil {
		total = ReplayEvaluations(m, from, to)
	}
	for end := NextBoundary(from, m.Interval, m.Location); !end.After(to); end = AddWall(end, m.Interval, m.Location) {
		emit := func(ev ReplayEvent) {
			ev.Metric, ev.At = m.Name, end
			out.Events = append(out.Events, ev)
		}
		// The task reconciler's pass over the tasks that exist, at now,
		// on the Metric's status of the evaluation res.
		pass := func(res *Evaluation, now time.Time) {
			for _, rt := range tasks {
				for _, ev := range advanceTask(ctx, src, m, res, rt, now, opts) {
					ev.Segment, ev.EpisodeStart, ev.Task = rt.task.Segment, rt.task.EpisodeStart, rt.name
					emit(ev)
				}
			}
		}
		if out.Last != nil {
			pass(out.Last, end)
		}

		// The Metric reconciler, settleDelay after the boundary.
		now := end.Add(m.SettleDelay)
		res, err := Evaluate(ctx, src, m, prior, end)
		if err != nil {
			return out, fmt.Errorf("evaluate %s: %w", end.UTC().Format(time.RFC3339), err)
		}
		out.Last, prior = res, res.Prior()
		if ev, ok := excludedEvent(res, &excluded); ok {
			emit(ev)
		}
		current := map[string]time.Time{}
		for _, ep := range res.Episodes {
			current[ep.Segment] = ep.Start
		}
		for seg, start := range open {
			if s, ok := current[seg]; !ok || !s.Equal(start) {
				emit(ReplayEvent{Segment: seg, Event: EventEpisodeEnded, EpisodeStart: start})
			}
		}
		open = current

		mine := 0
		existing := make([]ExistingTask, 0, len(tasks))
		for _, rt := range tasks {
			if rt.status.Phase.Open() {
				mine++
			}
			existing = append(existing, ExistingTask{Name: rt.name, Open: rt.status.Phase.Open()})
		}
		team := opts.Team
		team.Open += mine
		plan := PlanTasks(m, res.Episodes, existing, team, now)
		nowHeld := map[string]string{}
		for _, h := range plan.Held {
			k := fmt.Sprintf("%s\x00%d", h.Segment, h.EpisodeStart.Unix())
			nowHeld[k] = string(h.Reason)
			if held[k] != string(h.Reason) {
				emit(ReplayEvent{Segment: h.Segment, Event: EventHeldBack, EpisodeStart: h.EpisodeStart, Reason: string(h.Reason),
					Task: loop.TaskName(m.Name, m.UID, h.Segment, h.EpisodeStart)})
			}
		}
		held = nowHeld
		for _, nt := range plan.Create {
			ep := nt.Episode
			rt := &replayTask{name: nt.Name, since: now, task: EpisodeTask(ep)}
			rt.status, _ = loop.Advance(loop.Status{}, loop.Observation{Now: now, Owner: loop.Owner{State: loop.OwnerOpen}})
			tasks = append(tasks, rt)
			emit(ReplayEvent{Segment: ep.Segment, Event: EventTaskOpened, EpisodeStart: ep.Start, Task: nt.Name,
				Value: ep.Evidence.ObservedValue, Attempt: rt.status.Attempt})
		}

		// The status write wakes the metric's tasks, new ones included.
		pass(res, now)
		if opts.Progress != nil {
			done++
			opts.Progress(done, total)
		}
	}
	return out, nil
}

// prefetch wraps src for a replay over (from, to]: a source that answers
// ranges evaluates each window query at every aligned end in one request
// (source.Prefetch); one that answers histories reads each query's
// interval buckets over the replay's span once, from the earliest read of
// its first evaluation (the calibration's year, or the baseline window,
// before the first window) to the last window end, and merges the
// buckets of every window, baseline and interval read from them
// (source.PrefetchHistory). Reads outside the span go to src.
func prefetch(src source.Source, m Metric, from, to time.Time) source.Source {
	if _, ok := src.(source.RangeSource); ok {
		return source.Prefetch(src, m.Interval, m.WindowEnd(to))
	}
	if _, ok := src.(source.HistorySource); !ok {
		return src
	}
	// The last evaluation's window ends at the last boundary by to.
	last := Align(to, m.Interval, m.Location)
	first := NextBoundary(from, m.Interval, m.Location)
	back := max(detect.CalibrationHistory, m.BaselineWindow)
	start := Align(AddWall(AddWall(first, -m.Window, m.Location), -back, m.Location), m.Interval, m.Location)
	return source.PrefetchHistory(src, replayBounds(m, start, last))
}

// replayBounds are the interval bounds from start to last on m's grid.
func replayBounds(m Metric, start, last time.Time) []time.Time {
	var bounds []time.Time
	for b := start; !b.After(last); b = AddWall(b, m.Interval, m.Location) {
		if len(bounds) == 0 || b.After(bounds[len(bounds)-1]) {
			bounds = append(bounds, b)
		}
	}
	return bounds
}

// advanceTask runs the task reconciler's step for one replayed task at
// the window end now, the owner resolving as the options say.
func advanceTask(ctx context.Context, src source.Source, m Metric, res *Evaluation, rt *replayTask, now time.Time, opts ReplayOptions) []ReplayEvent {
	cur := rt.status
	if cur.Phase.Final() {
		return nil
	}
	var events []ReplayEvent
	owner := loop.Owner{State: loop.OwnerOpen, ResolutionAttempt: rt.resolveOf}
	if rt.resolveOf > 0 {
		owner.State = loop.OwnerResolved
	}
	if opts.ResolveAfter > 0 && rt.resolveOf < cur.Attempt && !now.Before(rt.since.Add(opts.ResolveAfter)) {
		rt.resolveOf = cur.Attempt
		owner = loop.Owner{State: loop.OwnerResolved, ResolutionAttempt: cur.Attempt}
		events = append(events, ReplayEvent{Event: EventResolved, Attempt: cur.Attempt})
	}
	if rt.ended == nil && EpisodeClosed(res.Detector, rt.task) {
		t := now
		rt.ended = &t
	}
	rt.task.Attempt = cur.Attempt
	rt.task = rt.task.WithCalibration(res.Detector)
	obs := loop.Observation{Now: now, Owner: owner, Policy: loop.Policy{MaxAttempts: m.Policy.MaxAttempts, VerifyWindow: m.VerifyWindow}}
	switch {
	case cur.Phase == loop.Verifying && cur.ResolvedAt != nil:
		obs.Fresh, _, _ = Verify(ctx, src, m, rt.task, *cur.ResolvedAt, cur.ResolvedAt.Add(m.VerifyWindow), now, res.Overall.Samples)
	case owner.State != loop.OwnerResolved:
		if since, ok := RecoverySince(res.Detector, rt.task, rt.ended); ok {
			obs.SinceOpening, _, _ = Verify(ctx, src, m, rt.task, since, time.Time{}, now, res.Overall.Samples)
		}
	}
	next, evs := loop.Advance(cur, obs)
	rt.status = next
	for _, ev := range evs {
		e := ReplayEvent{Event: string(ev), Reason: next.Reason, Attempt: next.Attempt}
		switch ev {
		case loop.EventReopened:
			rt.since = now
		case loop.EventEscalated:
			e.Reason = "escalated to team " + EscalationTeam(m, opts.TeamEscalation)
		}
		events = append(events, e)
	}
	return events
}
