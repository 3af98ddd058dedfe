package detect

import "math"

// VerifyPower is the probability with which the stated fresh volume
// verifies a fix that restored the target.
const VerifyPower = 0.8

// RequiredSamples is n*, the fresh units the final look needs to prove a
// fix that put the mean back distance beyond the null with probability
// power, at the one-sided level: ((z_{1−level}·σ_test + z_power·σ_fixed) /
// distance)², where σ_test is the deviation the test divides by (at least
// the null variance's) and σ_fixed the deviation of one unit once fixed.
// For NPS with 45 % promoters and 15 % detractors (σ ≈ 71.4), δ = 5 so the
// distance δ/2 = 2.5, and the final look at 0.025 it is about 6,400. It
// is +Inf when the distance or a deviation is not positive.
func RequiredSamples(sigmaTest, sigmaFixed, distance, level, power float64) float64 {
	if !(distance > 0) || !(sigmaTest > 0) || !(sigmaFixed > 0) || !(level > 0 && level < 1) || !(power > 0 && power < 1) {
		return math.Inf(1)
	}
	k := (normalQuantile(1-level)*sigmaTest + normalQuantile(power)*sigmaFixed) / distance
	return math.Ceil(k * k)
}

// NullSD is the deviation the final look divides by when a bounded unit's
// deviation is sigma at mean: its share of the Bhatia–Davis maximum moved
// to the null, or sigma where that is larger. Unbounded (min == max): sigma.
func NullSD(null, mean, sigma, min, max float64) float64 {
	if !(max > min) {
		return sigma
	}
	return math.Max(sigma, nullSD(null, mean, sigma, min, max))
}

// VerifyDispersion is the dispersion per interval a test at one-sided
// level a must assume for a mean of n units of deviation sigma over
// intervals intervals when the metric's dispersion is estimated as d with
// standard error se: the smallest D' ≥ d at which the test's error,
// averaged over the estimate's error, is at most a.
//
// Why the level holds: the fresh mean's variance is σ²/n + V_I, where V_I,
// the variance of the mood's mean over I intervals, is at most D/I for a
// mood whose autocovariances are nonnegative (V_I = (1/I)·Σ_{|k|<I}
// (1 − |k|/I)·γ_k ≤ (1/I)·Σ_k γ_k = D/I). A one-sided test that divides
// by σ²/n + D'/I errs with probability Φ̄(z_a·√((σ²/n + D'/I)/(σ²/n + D/I)))
// when the true dispersion is D; averaged over D = d + z·se (z standard
// normal, D never negative, by the Gauss–Hermite rule the detector's
// threshold is averaged with) that is at most a at D'. Without an error
// (se = 0) D' is d itself. The error matters most where it is largest
// relative to d: an estimate of zero from a history whose campaigns or
// moods a year shows only faintly still carries the error that would let
// them in, and a plug-in zero would verify by their luck.
func VerifyDispersion(n, intervals, sigma, d, se, a float64) float64 {
	d = math.Max(0, d)
	if !(se > 0) || !(n > 0) || !(intervals > 0) || !(sigma > 0) || !(a > 0 && a < 0.5) {
		return d
	}
	z := normalQuantile(1 - a)
	s2 := sigma * sigma / n
	errAt := func(assumed float64) float64 {
		v := s2 + assumed/intervals
		var e float64
		for i, x := range hermiteNodes {
			truth := s2 + math.Max(0, d+x*se)/intervals
			e += hermiteWeights[i] * 0.5 * math.Erfc(z*math.Sqrt(v/truth)/math.Sqrt2)
		}
		return e
	}
	if errAt(d) <= a {
		return d
	}
	lo, hi := d, d+se
	for errAt(hi) > a {
		lo, hi = hi, hi+2*(hi-d)
		if hi > d+1e3*se {
			return hi
		}
	}
	for hi-lo > 1e-6*hi {
		mid := (lo + hi) / 2
		if errAt(mid) > a {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
