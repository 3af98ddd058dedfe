package engine

import (
	"math"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/measure"
)

// VerificationPlan is what verifying a task's current attempt needs, known
// before any fresh data: the null the fix must be proven to have left, the
// attempt's share of the task's error level and n*, the fresh volume that
// verifies a fix that restored the target with 80 % probability.
type VerificationPlan struct {
	// Null is the level the fresh mean must be proven to have left
	// (verifyNull).
	Null float64
	// Level is the attempt's share of the task's error level,
	// detect.AttemptLevel.
	Level float64
	// RequiredSamples is n*; zero when the formula's deviation is unknown
	// (a mean on an open scale without a recorded baseline).
	RequiredSamples float64
	// ExpectedDuration is the time the metric's observed volume takes to
	// bring n* fresh units; zero when unknown.
	ExpectedDuration time.Duration

	// The tuning of the test: contribution bounds, planned volume and
	// deviation, fixed for the task so every look reads one sequence.
	min, max, planned, sigma float64
}

// PlanVerification plans the verification of t's current attempt on m
// whose latest window held windowSamples units. n* is the final look's
// (detect.RequiredSamples at half the attempt's level, the other half
// going to the always-valid early looks), for a fix that put the metric
// back at the target, δ/2 beyond the null: for NPS with 45 % promoters
// and 15 % detractors and δ = 5 about 6,400 responses at a level of 0.05,
// 7,500 at the first attempt's 0.030. The deviation once fixed is read from
// the task's recorded window (its interval and volume), else the
// formula's deviation at the target (detect.TargetSigma). The volume is
// the recorded window's over its own span, else windowSamples (the
// metric's latest window).
// A task with the metric's calibration (Task.WithCalibration) counts the
// day-to-day mood its history shows: fresh units are worth fewer then, so
// n* is larger (NPS with D = 28 a day at 2,000 answers a month: about
// 10,200 instead of 7,500). It is pure, so `kubectl cx plan` can state it
// for an episode too.
func PlanVerification(m Metric, t Task, windowSamples int64) VerificationPlan {
	p := VerificationPlan{Null: verifyNull(t), Level: detect.AttemptLevel(detect.DefaultLevel, t.Attempt)}
	p.min, p.max = contributionBounds(m.Definition)
	o := t.Objective
	span := m.Window
	if b := t.Baseline; b != nil && b.Samples > 1 {
		p.sigma = baselineSE(m, b) * math.Sqrt(float64(b.Samples))
		windowSamples = b.Samples
		// A relative objective's baseline spans its own window, which
		// may be longer or shorter than the metric's.
		if d := b.WindowEnd.Sub(b.WindowStart); d > 0 {
			span = d
		}
	}
	if !(p.sigma > 0) {
		if s, err := detect.TargetSigma(m.Definition.Formula, o.Target); err == nil {
			p.sigma = s
		}
	}
	perDay := 0.0
	if days := span.Hours() / 24; days > 0 && windowSamples > 0 {
		perDay = float64(windowSamples) / days
	}
	p.planned = math.Max(4*float64(m.Policy.MinFreshSamples), perDay*m.VerifyWindow.Hours()/24)
	if p.sigma > 0 {
		test, fixed := detect.NullSD(p.Null, o.Target, p.sigma, p.min, p.max), p.sigma
		if k := perDay * m.Interval.Hours() / 24; k > 0 && t.Sigma > 0 && (t.Dispersion > 0 || t.DispersionError > 0) {
			// n units at k an interval span n/k intervals, so the mood adds
			// k·D to each unit's variance: σ²/n + D/(n/k) = (σ² + k·D)/n. The
			// test divides by the dispersion Verify discounts for (with the
			// calibration's error); the power is the estimate's.
			intervals := math.Max(1, float64(m.VerifyWindow)/float64(m.Interval))
			d := detect.VerifyDispersion(p.planned, intervals, t.Sigma, t.Dispersion, t.DispersionError, p.Level/2)
			test = math.Sqrt(test*test + k*d)
			fixed = math.Sqrt(fixed*fixed + k*math.Max(0, t.Dispersion))
		}
		distance := o.Target - p.Null
		if o.Direction == AtMost {
			distance = -distance
		}
		if n := detect.RequiredSamples(test, fixed, distance, p.Level/2, detect.VerifyPower); !math.IsInf(n, 0) {
			p.RequiredSamples = math.Max(n, float64(m.Policy.MinFreshSamples))
		}
	}
	if p.RequiredSamples > 0 && perDay > 0 {
		p.ExpectedDuration = time.Duration(p.RequiredSamples / perDay * float64(24*time.Hour)).Round(time.Hour)
	}
	return p
}

// RequiredFreshSamples is n* of t's current attempt (PlanVerification).
func RequiredFreshSamples(m Metric, t Task, windowSamples int64) float64 {
	return PlanVerification(m, t, windowSamples).RequiredSamples
}

// contributionBounds bounds one unit's contribution: NPS −100..100,
// shares 0..100, a CES score its scale; a mean on an open scale is
// unbounded (0, 0).
func contributionBounds(d measure.Definition) (float64, float64) {
	d = d.WithDefaults()
	switch d.Formula {
	case measure.FormulaNPS:
		return -100, 100
	case measure.FormulaCSAT, measure.FormulaRate, measure.FormulaPercentile:
		return 0, 100
	case measure.FormulaCES:
		return float64(d.ScaleMin), float64(d.ScaleMax)
	}
	return 0, 0
}

// EpisodeTask is the task an episode opens, at its first attempt: what
// PlanVerification needs to state n* before the task exists.
func EpisodeTask(ep Episode) Task {
	return Task{Segment: ep.Segment, SegmentValues: ep.Values, EpisodeStart: second(ep.Start), Objective: ep.Objective,
		ObservedValue: ep.Evidence.ObservedValue, Baseline: ep.Baseline, Attempt: 1}
}
