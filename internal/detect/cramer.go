package detect

import (
	"math"
)

// Siegmund's approximation prices the in-control run length of a CUSUM
// whose increments are normal: the statistic's excursions above zero grow
// like e^{2k·h}. A share near the end of its scale (a rate of 2 %, CSAT
// near 90 %, effort scores piled at the top) contributes skewed units:
// rare large steps towards the threshold and many small ones away from
// it. Such a walk climbs more easily than a normal one with the same mean
// and variance, and the exponent that governs its run length is the
// Cramér (adjustment) exponent θ*, the positive root of E[e^{θZ}] = 1 for
// the increment Z. For a normal increment with drift −k and unit variance
// per unit θ* = 2k exactly, so replacing 2k by θ* generalises Siegmund's
// formula:
//
//	ARL0 ≈ (e^{θ*b} − θ*b − 1)/(θ*·μ), b = h + 1.166·sd(Z),
//
// in units, μ being the magnitude of the drift per unit in standard
// units. The overshoot correction b − h is kept at its normal value: it is
// the sum of the expected overshoot over the threshold and the undershoot
// below zero at the reflection, and to first order a skewness raises the
// one by κ₃/(6σ²) as much as it lowers the other; what remains is a
// fraction of one step's deviation, worth θ*·sd(Z) ≪ 1 in the exponent for
// the batches and shifts a detector sees, while the exponent's own error
// under the normal approximation grows with h.

// Atom is one value a unit's contribution takes and its probability.
type Atom struct {
	Value, P float64
}

// UnitLaw is the in-control distribution of one unit's contribution,
// standardised and signed so that a positive value pushes the statistic
// towards the threshold: (x − reference)/sd for AtMost, its negative for
// AtLeast. Only its shape enters the calibration; its scale is the
// detector's σ.
type UnitLaw struct {
	u, p []float64
	// max is the largest value with positive probability.
	max float64
}

// NewUnitLaw shifts the observed per-unit distribution null to the
// reference by exponential tilting (the distribution on the same values
// closest to the observed one with the reference as its mean: for a share
// exactly the Bernoulli at the reference, for NPS or a score the observed
// mix moved as little as it can be) and standardises it. It returns nil,
// for the normal approximation, when the reference is not strictly inside
// the values' range or the distribution has no spread.
func NewUnitLaw(null []Atom, reference float64, dir Direction) *UnitLaw {
	var x, q []float64
	var total float64
	for _, a := range null {
		if a.P > 0 && !math.IsInf(a.P, 0) && !math.IsNaN(a.Value) && !math.IsInf(a.Value, 0) {
			x = append(x, a.Value)
			q = append(q, a.P)
			total += a.P
		}
	}
	if len(x) < 2 || !(total > 0) {
		return nil
	}
	lo, hi := x[0], x[0]
	for _, v := range x {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if !(reference > lo && reference < hi) {
		return nil
	}
	p := tilt(x, q, reference, hi-lo)
	var m2 float64
	for i, v := range x {
		m2 += p[i] * (v - reference) * (v - reference)
	}
	if !(m2 > 0) {
		return nil
	}
	sd := math.Sqrt(m2)
	sign := 1.0
	if dir == AtLeast {
		sign = -1
	}
	law := &UnitLaw{u: make([]float64, len(x)), p: p, max: math.Inf(-1)}
	for i, v := range x {
		law.u[i] = sign * (v - reference) / sd
		if p[i] > 0 {
			law.max = math.Max(law.max, law.u[i])
		}
	}
	return law
}

// tilt returns q·e^{λx}, normalised, with mean m: the mean grows with λ,
// so bisection on λ finds it; span scales λ to the values' range.
func tilt(x, q []float64, m, span float64) []float64 {
	p := make([]float64, len(x))
	mean := func(l float64) float64 {
		// Exponents relative to their largest, so no term overflows.
		top := math.Inf(-1)
		for i, v := range x {
			top = math.Max(top, math.Log(q[i])+l*v/span)
		}
		var s, sx float64
		for i, v := range x {
			p[i] = math.Exp(math.Log(q[i]) + l*v/span - top)
			s += p[i]
			sx += p[i] * v
		}
		for i := range p {
			p[i] /= s
		}
		return sx / s
	}
	lo, hi := -1.0, 1.0
	for mean(lo) > m && lo > -1e6 {
		lo *= 2
	}
	for mean(hi) < m && hi < 1e6 {
		hi *= 2
	}
	for i := 0; i < 200 && hi-lo > 1e-13*math.Max(1, math.Abs(lo)+math.Abs(hi)); i++ {
		mid := (lo + hi) / 2
		if mean(mid) < m {
			lo = mid
		} else {
			hi = mid
		}
	}
	mean((lo + hi) / 2)
	return p
}

// cgf is the law's cumulant generating function, log E[e^{tU}], and its
// derivative.
func (l *UnitLaw) cgf(t float64) (k, dk float64) {
	top := math.Inf(-1)
	for i, u := range l.u {
		if l.p[i] > 0 {
			top = math.Max(top, t*u)
		}
	}
	var s, su float64
	for i, u := range l.u {
		if l.p[i] > 0 {
			e := l.p[i] * math.Exp(t*u-top)
			s += e
			su += e * u
		}
	}
	return top + math.Log(s), su / s
}

// walk prices the in-control run length of one segment at one node of the
// calibration's errors: the statistic's increments have Cramér exponent
// theta, drift −mu per unit and variance v per unit, all in standard
// units, and the statistic overshoots by over.
type walk struct {
	theta, mu, v, over float64
}

// normalWalk is the walk of a normal increment: θ* = 2μ/v.
func normalWalk(mu, v, batch float64) walk {
	return walk{theta: 2 * mu / v, mu: mu, v: v, over: siegmundCorrection * math.Sqrt(v*math.Max(batch, 1))}
}

// cramerWalk is the walk of a batch of n units counted as ne effective
// units, the true variance of the batch's mean being ratio times the
// assumed one, and the drift per unit −mu. With x̄ = reference + mood +
// the mean of n units, the increment Z = ne·(±(x̄ − reference)/σ − mu)
// has the cumulant generating function
//
//	K_Z(θ) = −θ·ne·mu + θ²·ne²·d/2 + n·K_U(θ·ne/n),
//
// d being the mood's variance in σ² (ratio/ne − 1/n, from σ²/ne = σ²/n + D)
// and K_U the law's. θ* is its root of the sign of mu: K_Z is convex and
// zero at 0, so Newton's method from a point beyond the root converges
// to it monotonically.
func (l *UnitLaw) cramerWalk(n, ne, ratio, mu float64) walk {
	w := normalWalk(mu, ratio, ne)
	if l == nil || !(n > 0) || !(ne > 0) || math.Abs(mu) < 1e-12 {
		return w
	}
	d := math.Max(0, ratio/ne-1/n)
	f := func(th float64) (float64, float64) {
		k, dk := l.cgf(th * ne / n)
		return -th*ne*mu + th*th*ne*ne*d/2 + n*k, -ne*mu + th*ne*ne*d + ne*dk
	}
	if mu > 0 && d == 0 && l.max <= mu {
		// No increment can rise: the statistic never reaches the threshold.
		return walk{theta: math.Inf(1), mu: mu, v: ratio, over: w.over}
	}
	th := w.theta
	for i := 0; i < 200; i++ {
		if v, _ := f(th); v > 0 {
			break
		}
		th *= 2
	}
	for i := 0; i < 100; i++ {
		v, dv := f(th)
		if !(dv != 0) || math.IsInf(v, 0) || math.IsNaN(v) {
			break
		}
		next := th - v/dv
		if math.Abs(next-th) <= 1e-12*math.Abs(th) {
			th = next
			break
		}
		th = next
	}
	w.theta = th
	return w
}

// arl0 is the walk's in-control run length in units for threshold h.
func (w walk) arl0(h float64) float64 {
	b := h + w.over
	if math.IsInf(w.theta, 1) {
		return math.Inf(1)
	}
	x := w.theta * b
	if math.Abs(x) < 1e-6 {
		return b * b / w.v
	}
	return (math.Expm1(x) - x) / (w.theta * w.mu)
}
