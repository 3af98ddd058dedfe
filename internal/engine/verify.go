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
	// Baseline is the window judged when the task opened, if recorded.
	Baseline *TaskBaseline
	// Attempt is the task's current attempt, from 1; zero counts as 1.
	Attempt int32
	// Sigma, Dispersion and DispersionError are the metric's calibration
	// (Calibration) when it has one: fresh data spread over intervals that
	// share a mood is worth fewer units than it counts, and the fewer the
	// less surely the history measured the mood (WithCalibration).
	Sigma, Dispersion, DispersionError float64
}

// WithCalibration returns the task with the metric's detector calibration,
// so its fresh data is discounted for the dispersion the metric's history
// shows; without one the task is unchanged.
func (t Task) WithCalibration(d *Detector) Task {
	if d != nil && d.Calibration != nil {
		c := d.Calibration
		t.Sigma, t.Dispersion, t.DispersionError = c.Sigma, c.Dispersion, c.DispersionError
	}
	return t
}

// discount is c worth the independent units a mean over intervals
// intervals has under dispersion D per interval: n' = 1/(1/n + D/(σ²·I)).
// Mean and per-unit variance stay; the weights shrink, so the effective
// number of units, and with it every bound, does.
//
// Why every look stays at its level: the final look divides by
// σ²/n' = σ²/n + D/I, at least the fresh mean's variance when the mood's
// autocovariances are nonnegative (detect.VerifyDispersion). The early
// looks' capital process on discounted units reads
// log K = λ·n'·(ȳ − m) − ψ(λ)·n'·s² with s² ≥ σ² the spread around the
// null and ψ(λ) ≥ λ²/2; in information time V = n'σ², X = n'·(ȳ − m) is a
// sum of independent increments of variance V when the intervals' moods are
// independent (each interval's mean then varies σ²/n_i + D), so
// exp(λX − λ²V/2) ≥ K is a nonnegative martingale and Ville's inequality
// bounds every look at once. A mood correlated across intervals has the
// long-run variance D per interval by definition, the variance its
// partial sums grow at (to which they converge as Brownian motion); over
// fewer intervals than its correlation time its mean varies less than D/I,
// which the discount overstates. The bet itself is fixed by the task's
// plan, not by the data.
func discount(c measure.Contribution, intervals, sigma, dispersion float64) measure.Contribution {
	n := c.Units.EffectiveN()
	if !(n > 0) || !(intervals > 0) {
		return c
	}
	// The dispersion of a mean over I intervals is D/I.
	f := detect.Effective(n, sigma, dispersion/intervals) / n
	if f == 1 {
		return c
	}
	c.Units.W *= f
	c.Units.W2 *= f
	c.SumWX *= f
	c.SumWX2 *= f
	return c
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
// The deadline is the end of the verify window (zero: no final look, as
// for recovery without action). It returns nil when there is nothing yet
// to look at. A metric with per-unit contributions is tested on them; one
// without (a ratio of sums, a gauge) on its estimate over the fresh data.
// Both test against verifyNull, never target − δ; for tumbling windows
// it is the same reference the windows were judged against. With a deadline the
// attempt spends its share of the task's level (detect.AttemptLevel);
// recovery without action, one always-valid sequence from the episode's
// end, spends the whole level on its own claim. The improvement is
// measured from the level before the episode (preEpisode).
func Verify(ctx context.Context, src source.Source, m Metric, t Task, since, deadline, now time.Time, windowSamples int64) (*loop.Check, *Measurement, error) {
	if m.Derived != nil || src == nil {
		return nil, nil, nil
	}
	to := m.WindowEnd(now)
	if !to.After(since) {
		return nil, nil, nil
	}
	q := ForSegment(m.Query, t.SegmentValues)
	// The fresh data is one contiguous range read in one query (and the
	// level before the episode another): a history of its intervals
	// would read the same rows in more pieces. A replay answers both
	// from its prefetched buckets when they fall on the interval grid.
	r, err := src.Query(ctx, m.Definition, q, since, to)
	if err != nil {
		return nil, nil, unavailable("fresh data", err)
	}
	p := PlanVerification(m, t, windowSamples)
	base, err := preEpisode(ctx, src, m, t, q)
	if err != nil {
		return nil, nil, err
	}
	in := detect.VerifyInput{Direction: detect.Direction(t.Objective.Direction), Null: p.Null, Min: p.min, Max: p.max,
		Baseline: base.value, BaselineSE: base.se, Level: p.Level, Hybrid: !deadline.IsZero(),
		MinSamples: float64(m.Policy.MinFreshSamples), PlannedSamples: p.planned, PlannedSigma: p.sigma,
		Final: !deadline.IsZero() && !to.Before(deadline)}
	if deadline.IsZero() {
		in.Level = detect.DefaultLevel
	}
	var v detect.Verification
	if measure.HasUnits(m.Definition) == nil {
		fresh, err := measure.Contributions(m.Definition, r.Overall)
		if err != nil {
			return nil, nil, rejected(err)
		}
		if m.Interval > 0 {
			intervals := math.Max(1, float64(to.Sub(since))/float64(m.Interval))
			d := detect.VerifyDispersion(fresh.Units.EffectiveN(), intervals, t.Sigma, t.Dispersion, t.DispersionError, finalLevel(in))
			fresh = discount(fresh, intervals, t.Sigma, d)
		}
		in.Fresh = fresh
		v = detect.Verify(in)
	} else {
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
		Message: fmt.Sprintf("fresh mean %.3g on %.0f samples since %s against %.3g, improvement measured from %s",
			v.Mean, v.Samples, since.UTC().Format(time.RFC3339), p.Null, base.what)}
	return check, meas, nil
}

// finalLevel is the one-sided level of a task's final look: half the
// attempt's with a deadline (the other half is the early looks'), the
// whole without one. The dispersion the fresh data is discounted for is
// the one at which a test at this level holds over the calibration's
// error (detect.VerifyDispersion).
func finalLevel(in detect.VerifyInput) float64 {
	if in.Hybrid {
		return in.Level / 2
	}
	return in.Level
}

// verifyNull is the level a task must be proven to have left: the
// detector's reference, target − δ/2 (+ for AtMost), or the level the
// episode was opened on should that lie on the good side of it. The
// detector opens on drops from δ/2, so a lower null such as target − δ
// would verify a fix that changed nothing whenever the drop was shallower
// than δ; at the reference, a fix that changed nothing passes with
// probability at most the level whatever the depth of the drop. The
// episode's own value is not a null when it is worse than the reference:
// it is biased low by the very selection that opened the task.
func verifyNull(t Task) float64 {
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

// baseline is the level the improvement is measured from.
type baseline struct {
	value, se float64
	what      string
}

// preEpisode is the metric's level before the episode, the start of the
// improvement record: the task's recorded baseline when its window ended
// by the episode's start, otherwise the segment's data in the metric's
// window before the episode's start (data that no longer changes, and that
// the selection which opened the task did not pick). Where that holds too
// few units the objective's reference level, the target, stands in with no
// error of its own, and the message says so.
func preEpisode(ctx context.Context, src source.Source, m Metric, t Task, q source.Query) (baseline, error) {
	if b := t.Baseline; b != nil && !b.WindowEnd.After(t.EpisodeStart) && b.Samples > 1 {
		return baseline{value: b.Value, se: baselineSE(m, b), what: "the baseline window before the episode"}, nil
	}
	fallback := baseline{value: t.Objective.Target, what: "the target (too little data before the episode)"}
	if t.EpisodeStart.IsZero() || m.Window <= 0 {
		return fallback, nil
	}
	from := AddWall(t.EpisodeStart, -m.Window, m.Location)
	r, err := src.Query(ctx, m.Definition, q, from, t.EpisodeStart)
	if err != nil {
		return baseline{}, unavailable("data before the episode", err)
	}
	least := math.Max(float64(m.Objective.MinSamples), 2)
	if measure.HasUnits(m.Definition) == nil {
		c, err := measure.Contributions(m.Definition, r.Overall)
		n := c.Units.EffectiveN()
		if err != nil || n < least {
			return fallback, nil
		}
		return baseline{value: c.Mean(), se: math.Sqrt(c.Variance() / (n - 1)), what: "the window before the episode"}, nil
	}
	est, err := measure.Compute(m.Definition, r.Overall, m.Objective.Confidence, 1)
	if err != nil || !est.Sufficient || est.NEff < least || math.IsNaN(est.Value) {
		return fallback, nil
	}
	return baseline{value: est.Value, se: est.StdErr, what: "the window before the episode"}, nil
}

// baselineSE is a recorded window's standard error, read back from its
// interval at the metric's confidence.
func baselineSE(m Metric, b *TaskBaseline) float64 {
	conf := m.Objective.Confidence
	if !(conf > 0 && conf < 1) {
		conf = 0.95
	}
	z := math.Sqrt2 * math.Erfinv(conf)
	return math.Max(0, b.Upper-b.Lower) / (2 * z)
}

// RecoverySince is where data for judging recovery without action starts:
// when the episode ended, the detector's statistic back at zero. ok is
// false while the episode is open: a time chosen because the data started
// to look good would let a drop that persists close as Recovered whenever
// a few good days came by chance, and the closed task would silence the
// episode still open. A drop that persists keeps its episode, and its
// task, open; after a Recovered close a drop that returns starts a new
// episode, and so a new task.
func RecoverySince(_ *Detector, _ Task, episodeEnded *time.Time) (time.Time, bool) {
	if episodeEnded != nil {
		return *episodeEnded, true
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
