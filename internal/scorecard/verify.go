package scorecard

import (
	"math"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
)

// Look is one look at an account's fresh data.
type Look struct {
	// Attempt is the task's attempt, from 1; the attempt spends its share
	// of the task's level (detect.AttemptLevel).
	Attempt int32
	// Deadline is true while verifying a resolution, which has a verify
	// window; recovery without action has none and spends the whole level
	// on its one always-valid sequence.
	Deadline bool
	// Final is the look at the verify window's end.
	Final bool
	// Span is how long the fresh data runs, and Planned how long it will
	// run at the verify window's end.
	Span, Planned time.Duration
	// MinSamples is the fewest fresh samples that may decide anything.
	MinSamples int64
}

// Verify judges whether an account's drop is gone on its fresh scores
// (fresh, scored over the data since the resolution or the episode's
// end): the fresh score must be proven above the null, the detector's
// reference Target − Shift/2 or the episode's own score should that lie
// above it, so a fix that changed nothing passes with probability at most
// the level whatever the depth of the drop. The fresh score's error counts
// the window's common spread as Judge does, scaled to the fresh span: a
// mood averages out over a long span, not a short one. An account with no
// fresh score, or too little coverage, is tested on no samples: missing
// data never verifies.
func (p Policy) Verify(ep Episode, fresh Result, spread float64, l Look) detect.Verification {
	in := detect.VerifyInput{Direction: detect.AtLeast, Null: math.Max(p.Target-p.Shift/2, ep.Score),
		Baseline: ep.Score, BaselineSE: ep.StdErr, Level: detect.AttemptLevel(detect.DefaultLevel, l.Attempt),
		Hybrid: l.Deadline, Final: l.Deadline && l.Final, MinSamples: float64(l.MinSamples)}
	if !l.Deadline {
		in.Level = detect.DefaultLevel
	}
	// The plan comes from the episode's window, never the fresh data, so
	// every look reads one sequence.
	if ep.Samples > 0 && p.Window > 0 && l.Planned > 0 {
		in.PlannedSamples = float64(ep.Samples) * float64(l.Planned) / float64(p.Window)
		in.PlannedSigma = ep.StdErr * math.Sqrt(float64(ep.Samples))
	}
	var mean, sd, n float64
	for _, a := range fresh.Accounts {
		if a.Key != ep.Account || a.unjudged || a.Samples < 1 {
			continue
		}
		common := spread
		if l.Span > 0 && l.Span < p.Window {
			common *= math.Sqrt(float64(p.Window) / float64(l.Span))
		}
		n = float64(a.Samples)
		mean, sd = a.Score, math.Hypot(a.StdErr, common)*math.Sqrt(n)
	}
	return detect.VerifySummary(in, mean, sd, n)
}
