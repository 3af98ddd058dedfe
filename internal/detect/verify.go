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
	// Persists: the fresh data puts the mean at or beyond the null.
	Persists Verdict = "Persists"
	// NotProven: the verify window ended without proof.
	NotProven Verdict = "NotProven"
)

// DefaultLevel is the default error level of verification.
const DefaultLevel = 0.05

// VerifyInput is what a verification looks at.
//
// The question is "is the drop that opened the task gone?": the null
// hypothesis is that the fresh mean is still at or beyond Null, which the
// caller sets at the detector's reference (target − δ/2 for AtLeast,
// target + δ/2 for AtMost) or at the level the evidence put the metric,
// whichever is on the good side. A fix that changed nothing then passes
// with probability at most Level whatever the depth of the drop.
type VerifyInput struct {
	// Fresh holds the contributions of data newer than the resolution (or
	// the episode's end, for recovery without action).
	Fresh measure.Contribution
	// Direction says which side of Null is good.
	Direction Direction
	// Null is the level the fresh mean must be proven to have left.
	Null float64
	// Min and Max bound one contribution (NPS −100..100, shares 0..100, a
	// scale's minimum and maximum). Min == Max means unbounded: no
	// small-sample guarantee is available and the asymptotic sequence is
	// used with the standard deviation floored at PlannedSigma.
	Min, Max float64
	// Baseline is the level before the episode and BaselineSE its standard
	// error: the improvement is measured from it, and its interval counts
	// both errors.
	Baseline, BaselineSE float64
	// Level is the error level of this family of looks: the chance of
	// proving a fix that did nothing. The caller spends the task's level
	// over its attempts (AttemptLevel).
	Level float64
	// Hybrid splits Level between the always-valid early looks and a final
	// fixed-horizon look at the end of the verify window, half each; without
	// it every look is an early look at the whole Level (recovery without
	// action has no window end).
	Hybrid bool
	// MinSamples is the fewest fresh units that may decide anything.
	MinSamples float64
	// PlannedSamples and PlannedSigma are the fresh volume expected over the
	// window and the standard deviation of one unit expected there. They
	// tune the early looks' sequence to be tightest at the planned volume,
	// so they must not depend on the fresh data: the caller derives them
	// from the task's facts.
	PlannedSamples, PlannedSigma float64
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
	// Improvement over the baseline, with a fixed-horizon interval at
	// 1 − Level that counts the fresh and the baseline's errors.
	Improvement      float64 `json:"improvement"`
	ImprovementLower float64 `json:"improvementLower"`
	ImprovementUpper float64 `json:"improvementUpper"`
	// Samples are the fresh effective units.
	Samples float64 `json:"samples"`
	Level   float64 `json:"level"`
	// Message says in words what decided.
	Message string `json:"message"`
}

// AttemptLevel is the error level attempt j (from 1) of a task may spend
// when the task as a whole may spend alpha: α·6/(π²j²). The levels sum to
// alpha over every attempt there can be, escalated ones included, so a task
// reopened again and again cannot verify a fix that did nothing by trying
// often: the chance that any attempt is verified by luck stays at most
// alpha. The first attempt gets 61 % of it, the second 15 %.
func AttemptLevel(alpha float64, attempt int32) float64 {
	if alpha <= 0 {
		alpha = DefaultLevel
	}
	j := math.Max(1, float64(attempt))
	return alpha * 6 / (math.Pi * math.Pi * j * j)
}

// Verify judges whether the drop persists, on fresh data only.
//
// Early looks are always valid for bounded contributions by betting: the
// empirical-Bernstein capital process of Waudby-Smith and Ramdas
// ("Estimating means of bounded random variables by betting", Theorem 2,
// with a fixed bet), on contributions rescaled to [0, 1],
//
//	K_n = exp(λ·Σ(y_i − m) − ψ(λ)·Σ(y_i − m)²),  ψ(λ) = −log(1 − λ) − λ,
//
// is a nonnegative supermartingale while the mean is at or below the null
// m, so by Ville's inequality it ever reaches 1/a with probability at most
// a: looking at every evaluation cannot verify by luck. It needs no
// plug-in standard deviation, so a few quiet units cannot prove anything
// (30 tickets without a reopen, against a null of 7.5 %, leave K at most
// (1/0.925)^30 ≈ 10, short of 1/a); and it uses only the sums the sources
// return. The bet λ is fixed for the task, tuned to the planned volume and
// deviation, so every look reads one and the same process. This was chosen
// over the hedged capital process because a source returns sums, not the
// units in order.
//
// The final look, at the end of the verify window with the level left, is
// a one-sided z-test whose standard deviation is never the plug-in alone:
// it is at least the null variance, the variance a bounded variable with
// the fresh data's shape has at the null mean (for shares exactly the
// binomial 100²·p0(1 − p0), a score test; in general the fresh variance's
// share of its largest possible value, by Bhatia–Davis (max − μ)(μ − min),
// moved to the null mean). Weighted units enter by their effective number.
func Verify(in VerifyInput) Verification {
	c := in.Fresh
	n := c.Units.EffectiveN()
	mean := c.Mean()
	sd := 0.0
	if n > 1 {
		sd = math.Sqrt(c.Variance() * n / (n - 1))
	}
	if !(in.Max > in.Min) || n > 0 && (mean < in.Min || mean > in.Max) {
		// No bounds, or data that breaks them: the asymptotic sequence.
		return VerifySummary(in, mean, sd, n)
	}
	in.Level = level(in.Level)
	v := Verification{Verdict: Pending, Samples: n, Level: in.Level, Mean: mean}
	if small(&v, in, n) {
		return v
	}
	early, final := split(in)
	r := in.Max - in.Min
	// Rescaled to [0, 1] with the good side up.
	ybar, m := (mean-in.Min)/r, (in.Null-in.Min)/r
	sign := 1.0
	if in.Direction == AtMost {
		ybar, m, sign = 1-ybar, 1-m, -1
	}
	// Σ(y − m)² from the sums: n·(variance + (ȳ − m)²).
	q := n * (c.Variance()/(r*r) + (ybar-m)*(ybar-m))
	lambda := bet(in, m, early)
	// The sequence's half-width around ȳ in [0, 1] units: the set of means
	// the process has not rejected at level early on either side.
	hw := (math.Log(1/early) + psi(lambda)*q) / (lambda * n)
	lo, hi := ybar-hw, ybar+hw
	v.Lower, v.Upper = unscale(lo, hi, in.Min, r, in.Direction)
	sdTest := math.Max(sd, nullSD(in.Null, mean, sd, in.Min, in.Max))
	v.improvement(in, sdTest, n, sign)
	switch {
	case lo > m:
		v.Verdict = Proven
	case hi <= m:
		v.Verdict = Persists
	case in.Final && in.Hybrid:
		z := normalQuantile(1 - final)
		se := sdTest / math.Sqrt(n)
		v.Lower, v.Upper = mean-z*se, mean+z*se
		if sign*(mean-in.Null)-z*se > 0 {
			v.Verdict = Proven
		} else {
			v.Verdict = NotProven
		}
	case in.Final:
		v.Verdict = NotProven
	}
	v.Message = fmt.Sprintf("%s: fresh mean %.4g on %.0f units, bounds [%.4g, %.4g] against the null %.4g at level %.3g",
		v.Verdict, v.Mean, n, v.Lower, v.Upper, in.Null, in.Level)
	return v
}

// VerifySummary is Verify on a summary of the fresh data for a metric
// without bounded per-unit contributions: its mean, the standard deviation
// of one unit and the effective number of units. A metric without per-unit
// contributions (a ratio of sums) passes its estimate, with sd = standard
// error × √n. Without bounds no small-sample guarantee exists: the early
// looks use the asymptotic confidence sequence of Waudby-Smith et al., and
// the standard deviation is never below PlannedSigma, the deviation known
// before the fix, so quiet fresh data cannot prove a fix on its own.
func VerifySummary(in VerifyInput, mean, sd, n float64) Verification {
	in.Level = level(in.Level)
	v := Verification{Verdict: Pending, Samples: n, Level: in.Level, Mean: mean}
	if small(&v, in, n) {
		return v
	}
	early, final := split(in)
	sd = math.Max(sd, in.PlannedSigma)
	if sd == 0 {
		sd = 1e-9
	}
	planned := math.Max(in.PlannedSamples, in.MinSamples)
	if planned <= 0 {
		planned = n
	}
	sign := 1.0
	if in.Direction == AtMost {
		sign = -1
	}
	// A two-sided sequence at 2a bounds each side at a.
	hw := sd * csHalfWidth(n, planned, 2*early)
	v.Lower, v.Upper = mean-hw, mean+hw
	v.improvement(in, sd, n, sign)
	good := sign * (mean - in.Null)
	switch {
	case good-hw > 0:
		v.Verdict = Proven
	case good+hw <= 0:
		v.Verdict = Persists
	case in.Final && in.Hybrid:
		z := normalQuantile(1 - final)
		se := sd / math.Sqrt(n)
		v.Lower, v.Upper = mean-z*se, mean+z*se
		if good-z*se > 0 {
			v.Verdict = Proven
		} else {
			v.Verdict = NotProven
		}
	case in.Final:
		v.Verdict = NotProven
	}
	v.Message = fmt.Sprintf("%s: fresh mean %.4g on %.0f units, bounds [%.4g, %.4g] against the null %.4g at level %.3g",
		v.Verdict, v.Mean, n, v.Lower, v.Upper, in.Null, in.Level)
	return v
}

func level(l float64) float64 {
	if l <= 0 {
		return DefaultLevel
	}
	return l
}

// small reports (and records) a look with too few fresh units to decide.
func small(v *Verification, in VerifyInput, n float64) bool {
	least := math.Max(in.MinSamples, 2)
	if n >= least {
		return false
	}
	v.Message = fmt.Sprintf("%.0f fresh units, fewer than the %.0f needed to decide", n, least)
	if in.Final {
		v.Verdict = NotProven
	}
	return true
}

// split is the one-sided level of the early looks and of the final look.
func split(in VerifyInput) (early, final float64) {
	if in.Hybrid {
		return in.Level / 2, in.Level / 2
	}
	return in.Level, 0
}

// psi is the empirical-Bernstein penalty −log(1 − λ) − λ.
func psi(l float64) float64 { return -math.Log1p(-l) - l }

// maxBet keeps the bet where the penalty stays moderate, as Waudby-Smith
// and Ramdas truncate their predictable plug-in.
const maxBet = 0.5

// bet is the fixed bet, tuned so the boundary is tightest after the planned
// volume at the planned variance: λ = sqrt(2·log(1/a)/(σ²·n)) in [0, 1]
// units. Without a planned deviation the null's largest variance m(1 − m)
// is used.
func bet(in VerifyInput, m, a float64) float64 {
	r := in.Max - in.Min
	v := in.PlannedSigma * in.PlannedSigma / (r * r)
	if !(v > 0) {
		v = m * (1 - m)
	}
	v = math.Max(v, 1e-6)
	planned := math.Max(in.PlannedSamples, math.Max(in.MinSamples, 2))
	return math.Min(maxBet, math.Sqrt(2*math.Log(1/a)/(v*planned)))
}

// unscale maps bounds in [0, 1] units (good side up) back to the metric's.
func unscale(lo, hi, min, r float64, dir Direction) (float64, float64) {
	if dir == AtMost {
		lo, hi = 1-hi, 1-lo
	}
	return min + lo*r, min + hi*r
}

// nullSD is the deviation a bounded variable of the fresh data's shape has
// at the null mean: the fresh variance's share of its Bhatia–Davis maximum
// (max − μ)(μ − min), applied to the maximum at the null. Data at a bound
// (thirty quiet tickets) shows no shape and takes the whole maximum, which
// for shares is exactly the binomial variance at the null.
func nullSD(null, mean, sd, min, max float64) float64 {
	bd := func(mu float64) float64 { return math.Max(0, (max-mu)*(mu-min)) }
	share := 1.0
	if b := bd(mean); b > 1e-9*(max-min)*(max-min) {
		share = math.Min(1, sd*sd/b)
	}
	return math.Sqrt(share * bd(null))
}

// improvement records the change from the baseline with its interval.
func (v *Verification) improvement(in VerifyInput, sd, n, sign float64) {
	z := normalQuantile(1 - in.Level/2)
	se := math.Hypot(sd/math.Sqrt(n), in.BaselineSE)
	v.Improvement = sign * (v.Mean - in.Baseline)
	v.ImprovementLower, v.ImprovementUpper = v.Improvement-z*se, v.Improvement+z*se
}

// csHalfWidth is the half-width, in standard units of one observation, of
// the two-sided asymptotic confidence sequence at level alpha after n
// observations, tuned to be tightest at planned observations.
func csHalfWidth(n, planned, alpha float64) float64 {
	l := -2 * math.Log(alpha)
	rho2 := (l + math.Log(l+1)) / planned
	return math.Sqrt(2 * (n*rho2 + 1) / (n * n * rho2) * math.Log(math.Sqrt(n*rho2+1)/alpha))
}

// normalQuantile is the standard normal quantile function.
func normalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}
