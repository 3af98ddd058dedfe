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
