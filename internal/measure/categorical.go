package measure

import "math"

// categoricalCells returns the denominator and the positive and negative
// cells of a categorical formula, with the unrated policy applied: NPS's
// promoters and detractors, or csat's and rate's satisfied units (negative
// is then the rest).
func categoricalCells(d Definition, s *Stats) (total, positive, negative Cell) {
	total = s.Total
	switch d.Formula {
	case FormulaNPS:
		positive = s.scoreRange(d.PromoterMin, 10)
		negative = s.scoreRange(0, d.DetractorMax)
	case FormulaCSAT:
		positive = s.scoreRange(d.SatisfiedMin, d.ScaleMax)
		negative = s.scoreRange(d.ScaleMin, d.SatisfiedMin-1)
	case FormulaRate:
		positive = s.scoreRange(1, 1)
		negative = s.scoreRange(0, 0)
	}
	if d.Unrated == UnratedCountAsNegative {
		total.Merge(s.Unrated)
		negative.Merge(s.Unrated)
	}
	return total, positive, negative
}

// computeNPS gives NPS = 100(p − d) with the adjusted-Wald interval of
// Rocks (2016): n' = n + 3, p' = (promoters + ¾)/n', d' = (detractors + ¾)/n',
// 100((p' − d') ± z·sqrt((p' + d' − (p' − d')²)/n')), clipped to ±100.
// Weighted, n is Kish's n_eff and the counts are p·n_eff and d·n_eff.
func computeNPS(d Definition, s *Stats, confidence float64, minSamples int64) Estimate {
	total, pro, det := categoricalCells(d, s)
	e := Estimate{N: total.N, NEff: total.EffectiveN(), Method: MethodAdjustedWald}
	e.Sufficient = total.N > 0 && total.W > 0 && enough(e.NEff, minSamples, 1)
	if !e.Sufficient {
		return e
	}
	n := e.NEff
	p, q := pro.W/total.W, det.W/total.W
	e.Value = 100 * (p - q)
	e.StdErr = 100 * math.Sqrt(math.Max(0, p+q-(p-q)*(p-q))/n)
	na := n + 3
	pa, qa := (p*n+0.75)/na, (q*n+0.75)/na
	half := zFor(confidence) * math.Sqrt(math.Max(0, pa+qa-(pa-qa)*(pa-qa))/na)
	e.Lower = clip(100*(pa-qa-half), -100, 100)
	e.Upper = clip(100*(pa-qa+half), -100, 100)
	return e
}

// computeProportion gives a share in percent with the Wilson score
// interval: centre (p̂ + z²/2n)/(1 + z²/n), half-width
// z·sqrt(p̂(1−p̂)/n + z²/4n²)/(1 + z²/n), n being n_eff when weighted.
func computeProportion(d Definition, s *Stats, confidence float64, minSamples int64) Estimate {
	total, pos, _ := categoricalCells(d, s)
	e := Estimate{N: total.N, NEff: total.EffectiveN(), Method: MethodWilson}
	e.Sufficient = total.N > 0 && total.W > 0 && enough(e.NEff, minSamples, 1)
	if !e.Sufficient {
		return e
	}
	lo, hi, p := wilson(pos.W/total.W, e.NEff, zFor(confidence))
	e.Value, e.Lower, e.Upper = 100*p, 100*lo, 100*hi
	e.StdErr = 100 * math.Sqrt(p*(1-p)/e.NEff)
	return e
}

// wilson returns the Wilson score interval of a proportion p observed on n
// units, and p itself.
func wilson(p, n, z float64) (lo, hi, pOut float64) {
	z2 := z * z
	den := 1 + z2/n
	centre := (p + z2/(2*n)) / den
	half := z * math.Sqrt(p*(1-p)/n+z2/(4*n*n)) / den
	lo, hi = clip(centre-half, 0, 1), clip(centre+half, 0, 1)
	// At the extremes the bound is exactly the observed share; rounding
	// would otherwise leave 1e-16 where 0 belongs.
	if p == 0 {
		lo = 0
	}
	if p == 1 {
		hi = 1
	}
	return lo, hi, p
}
