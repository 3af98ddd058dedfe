package detect

import (
	"fmt"
	"math"

	"github.com/cxloop/cxloop/internal/measure"
)

// Verdict is the outcome of verifying a fix on fresh data.
type Verdict string

// The verdicts.
const (
	// Pending: not enough evidence yet.
	Pending Verdict = "Pending"
	// Proven: the drop that opened the task is gone, at the stated level.
	Proven Verdict = "Proven"
	// Persists: the fresh data puts the mean at or beyond the bad level.
	Persists Verdict = "Persists"
	// NotProven: the verify window ended without proof.
	NotProven Verdict = "NotProven"
)

// DefaultLevel is the default error level of verification.
const DefaultLevel = 0.05

// VerifyInput is what a verification looks at.
type VerifyInput struct {
	// Fresh holds the contributions of data newer than the resolution.
	Fresh measure.Contribution
	// Direction, Reference and Shift come from the task's objective: the
	// bad level is Reference − Shift for AtLeast (+ for AtMost).
	Direction Direction
	Reference float64
	Shift     float64
	// From is the level the episode was opened on; the improvement is
	// measured against it.
	From float64
	// Level is α, the chance of verifying a fix that did nothing.
	Level float64
	// MinSamples is the fewest fresh units that may decide anything.
	MinSamples float64
	// PlannedSamples is the fresh volume expected over the verify window;
	// it tunes the confidence sequence to be tightest there.
	PlannedSamples float64
	// Final is true at the end of the verify window: the fixed-horizon look.
	Final bool
}

// Verification is a verdict with its evidence.
type Verification struct {
	Verdict Verdict `json:"verdict"`
	// Mean of the fresh data, and the bounds that decided: the confidence
	// sequence's on early looks, the fixed-horizon interval's on the final.
	Mean  float64 `json:"mean"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// Improvement over From, with a fixed-horizon interval at 1 − Level.
	Improvement      float64 `json:"improvement"`
	ImprovementLower float64 `json:"improvementLower"`
	ImprovementUpper float64 `json:"improvementUpper"`
	// Samples are the fresh effective units.
	Samples float64 `json:"samples"`
	Level   float64 `json:"level"`
	// Message says in words what decided.
	Message string `json:"message"`
}

// csHalfWidth is the half-width, in standard units of one observation, of
// the two-sided asymptotic confidence sequence at level alpha after n
// observations, tuned to be tightest at planned observations.
func csHalfWidth(n, planned, alpha float64) float64 {
	l := -2 * math.Log(alpha)
	rho2 := (l + math.Log(l+1)) / planned
	return math.Sqrt(2 * (n*rho2 + 1) / (n * n * rho2) * math.Log(math.Sqrt(n*rho2+1)/alpha))
}

// Verify judges whether the drop persists, on fresh data only. Half of the
// level goes to always-valid early looks, half to the final look.
func Verify(in VerifyInput) Verification {
	n := in.Fresh.Units.EffectiveN()
	sd := 0.0
	if n > 1 {
		sd = math.Sqrt(in.Fresh.Variance() * n / (n - 1))
	}
	return VerifySummary(in, in.Fresh.Mean(), sd, n)
}

// VerifySummary is Verify on a summary of the fresh data: its mean, the
// standard deviation of one unit and the effective number of units. A
// metric without per-unit contributions (a ratio of sums) passes its
// estimate, with sd = standard error × √n.
func VerifySummary(in VerifyInput, mean, sd, n float64) Verification {
	if in.Level <= 0 {
		in.Level = DefaultLevel
	}
	v := Verification{Verdict: Pending, Samples: n, Level: in.Level, Mean: mean}
	if n < math.Max(in.MinSamples, 2) {
		v.Message = fmt.Sprintf("%.0f fresh units, fewer than the %.0f needed to decide", n, math.Max(in.MinSamples, 2))
		if in.Final {
			v.Verdict = NotProven
		}
		return v
	}
	if sd == 0 {
		sd = 1e-9
	}
	planned := math.Max(in.PlannedSamples, n)
	bad := in.Reference - in.Shift
	sign := 1.0
	if in.Direction == AtMost {
		bad, sign = in.Reference+in.Shift, -1
	}
	// A two-sided sequence at α bounds each side at α/2.
	hw := sd * csHalfWidth(n, planned, in.Level)
	v.Lower, v.Upper = v.Mean-hw, v.Mean+hw
	se := sd / math.Sqrt(n)
	z := normalQuantile(1 - in.Level/2)
	v.Improvement = sign * (v.Mean - in.From)
	v.ImprovementLower, v.ImprovementUpper = v.Improvement-z*se, v.Improvement+z*se
	// Distance of the bounds from the bad level, positive on the good side.
	goodLower := sign * (v.Mean - bad)
	switch {
	case goodLower-hw > 0:
		v.Verdict = Proven
	case goodLower+hw <= 0:
		v.Verdict = Persists
	case in.Final:
		v.Lower, v.Upper = v.Mean-z*se, v.Mean+z*se
		if goodLower-z*se > 0 {
			v.Verdict = Proven
		} else {
			v.Verdict = NotProven
		}
	}
	v.Message = fmt.Sprintf("%s: fresh mean %.4g on %.0f units, bounds [%.4g, %.4g] against the bad level %.4g at level %g",
		v.Verdict, v.Mean, n, v.Lower, v.Upper, bad, in.Level)
	return v
}

// normalQuantile is the standard normal quantile function.
func normalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}
