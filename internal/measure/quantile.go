package measure

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// computeQuantile gives the percentile read from the sketch, with a
// distribution-free order-statistics interval widened by the sketch's
// relative error.
//
// With n units (floor of n_eff when weighted) and q the quantile, the
// interval [X(r), X(s)] between order statistics covers the true quantile
// with probability F(s−1) − F(r−1), F the Binomial(n, q) CDF. cxloop takes
// r = F⁻¹(α/2) and s = F⁻¹(1 − α/2) + 1 (F⁻¹ the smallest k with F(k) >= p),
// which covers at least 1 − α up to the discreteness of F. When r < 1 or
// s > n the sample cannot bound the quantile at this confidence (a p90 on
// 30 tickets, for example) and the estimate is not sufficient.
//
// The sketch returns each order statistic within a relative error a, so the
// bounds are X̂(r)/(1+a) and X̂(s)/(1−a): still conservative.
func computeQuantile(d Definition, s *Stats, confidence float64, minSamples int64) Estimate {
	all := s.Sketch.Count()
	e := Estimate{N: all.N, NEff: all.EffectiveN(), Method: MethodOrderStatistics}
	if !(all.N > 0 && all.W > 0 && enough(e.NEff, minSamples, 1)) {
		return e
	}
	q := d.Percentile / 100
	n := math.Floor(e.NEff + 1e-9)
	r, hi, ok := orderStatisticRanks(n, q, confidence)
	if !ok {
		return e
	}
	entries := s.Sketch.sorted()
	e.Value = atFraction(entries, all.W, q)
	e.Lower = atFraction(entries, all.W, r/n) / (1 + SketchRelativeAccuracy)
	e.Upper = atFraction(entries, all.W, hi/n) / (1 - SketchRelativeAccuracy)
	// A normal-theory scale for two-sample comparisons: the half-width of
	// the distribution-free interval in units of z.
	e.StdErr = (e.Upper - e.Lower) / (2 * zFor(confidence))
	e.Sufficient = true
	return e
}

// orderStatisticRanks returns the 1-based ranks r and s of the order
// statistics that bound the q-quantile of n units at the confidence level,
// and false when the sample is too small for them to exist.
func orderStatisticRanks(n, q, confidence float64) (r, s float64, ok bool) {
	if n < 1 {
		return 0, 0, false
	}
	alpha := 1 - confidence
	b := distuv.Binomial{N: n, P: q}
	r = binomialQuantile(b, alpha/2)
	s = binomialQuantile(b, 1-alpha/2) + 1
	if r < 1 || s > n {
		return 0, 0, false
	}
	return r, s, true
}

// binomialQuantile returns the smallest k in 0..N with CDF(k) >= p, by
// bisection on the CDF (gonum's Binomial has no Quantile).
func binomialQuantile(b distuv.Binomial, p float64) float64 {
	lo, hi := 0.0, b.N
	for lo < hi {
		mid := math.Floor((lo + hi) / 2)
		if b.CDF(mid) >= p {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
