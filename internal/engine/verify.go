package engine

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// Task is what verification needs of a task: its segment and the
// objective and evidence it was opened with.
type Task struct {
	Segment       string
	SegmentValues map[string]string
	EpisodeStart  time.Time
	Objective     TaskObjective
	// ObservedValue is the level the episode was opened on.
	ObservedValue *float64
}

// Measurement is one look at a task's fresh data.
type Measurement struct {
	// Time is the end of the data looked at.
	Time                time.Time
	Samples             int64
	Value, Lower, Upper *float64
}

// Verify answers the loop's question for a task: is the drop that opened
// it gone, judged only on data in [since, the latest window end at now)?
// The deadline is the end of the verify window (zero: no final look).
// It returns nil when there is nothing yet to look at. A metric with
// per-unit contributions is tested on them; one without (a ratio of sums,
// a gauge) on its estimate over the fresh data, against tumblingNull.
func Verify(ctx context.Context, src source.Source, m Metric, t Task, since, deadline, now time.Time, windowSamples int64) (*loop.Check, *Measurement, error) {
	if m.Derived != nil || src == nil {
		return nil, nil, nil
	}
	to := m.WindowEnd(now)
	if !to.After(since) {
		return nil, nil, nil
	}
	q := ForSegment(m.Query, t.SegmentValues)
	r, err := src.Query(ctx, m.Definition, q, since, to)
	if err != nil {
		return nil, nil, unavailable("fresh data", err)
	}
	in := detect.VerifyInput{Direction: detect.Direction(t.Objective.Direction),
		Reference: t.Objective.Target, Shift: t.Objective.MinShift, From: t.Objective.Target - t.Objective.MinShift,
		MinSamples: float64(m.Policy.MinFreshSamples), Final: !deadline.IsZero() && !to.Before(deadline)}
	if t.Objective.Direction == AtMost {
		in.From = t.Objective.Target + t.Objective.MinShift
	}
	if t.ObservedValue != nil {
		in.From = *t.ObservedValue
	}
	in.PlannedSamples = float64(m.Policy.MinFreshSamples) * 4
	if windowSamples > 0 {
		in.PlannedSamples = math.Max(in.PlannedSamples, float64(windowSamples)*m.VerifyWindow.Hours()/m.Window.Hours())
	}
	var v detect.Verification
	if measure.HasUnits(m.Definition) == nil {
		fresh, err := measure.Contributions(m.Definition, r.Overall)
		if err != nil {
			return nil, nil, rejected(err)
		}
		in.Fresh = fresh
		v = detect.Verify(in)
	} else {
		// The bad level is the null itself: detect's Reference − Shift
		// with no shift.
		in.Reference, in.Shift = tumblingNull(t), 0
		est, err := measure.Compute(m.Definition, r.Overall, m.Objective.Confidence, 1)
		if err != nil {
			return nil, nil, rejected(err)
		}
		n := est.NEff
		if !est.Sufficient || math.IsNaN(est.Value) {
			n = 0
		}
		v = detect.VerifySummary(in, est.Value, est.StdErr*math.Sqrt(n), n)
	}
	meas := &Measurement{Time: to, Samples: int64(v.Samples)}
	if v.Samples > 0 {
		meas.Value, meas.Lower, meas.Upper = ptr(Round(v.Mean)), ptr(Round(v.Lower)), ptr(Round(v.Upper))
	}
	check := &loop.Check{Outcome: loop.Outcome(v.Verdict),
		Improvement: loop.Improvement{Value: Round(v.Improvement), Lower: Round(v.ImprovementLower), Upper: Round(v.ImprovementUpper),
			Samples: int64(v.Samples), Level: v.Level},
		Message: fmt.Sprintf("fresh mean %.3g on %.0f samples since %s", v.Mean, v.Samples, since.UTC().Format(time.RFC3339))}
	return check, meas, nil
}

// tumblingNull is the level a task opened from tumbling windows must be
// proven to have left: the detector's reference, target − δ/2 (+ for
// AtMost), or the level the episode was opened on should that lie on the
// good side of it. A window opened the task because its upper bound lay
// below the reference; the fix is proven when the fresh estimate's lower
// bound lies above it. A lower null, such as target − δ, would verify a
// fix that changed nothing whenever the drop was shallower than δ, and
// the window's own value is too noisy a null: a window that happened to
// come out low would let an unchanged metric pass for improved.
func tumblingNull(t Task) float64 {
	o := t.Objective
	if o.Direction == AtMost {
		null := o.Target + o.MinShift/2
		if t.ObservedValue != nil {
			null = math.Min(null, *t.ObservedValue)
		}
		return null
	}
	null := o.Target - o.MinShift/2
	if t.ObservedValue != nil {
		null = math.Max(null, *t.ObservedValue)
	}
	return null
}

// RecoverySince is where data for judging recovery without action starts:
// when the episode ended, or, while it is open, when the detector
// estimates the metric came back. ok is false when there is no such point
// yet.
func RecoverySince(det *Detector, t Task, episodeEnded *time.Time) (time.Time, bool) {
	if episodeEnded != nil {
		return *episodeEnded, true
	}
	if s, ok := det.Episode(t.Segment, t.EpisodeStart); ok && !s.RecoverySince.IsZero() {
		return s.RecoverySince, true
	}
	return time.Time{}, false
}

// EpisodeClosed reports whether the metric's detector no longer holds the
// task's episode open. Tasks are created only after their episode is
// recorded, so a missing episode means it ended; before any detector state
// exists nothing has ended.
func EpisodeClosed(det *Detector, t Task) bool {
	if det == nil {
		return false
	}
	_, open := det.Episode(t.Segment, t.EpisodeStart)
	return !open
}

// EscalationTeam is where an escalated task goes: the metric's escalation
// team, else the owning team's own escalation team, else the owner.
func EscalationTeam(m Metric, ownerEscalation string) string {
	switch {
	case m.Policy.EscalationTeam != "":
		return m.Policy.EscalationTeam
	case ownerEscalation != "":
		return ownerEscalation
	}
	return m.Team
}
