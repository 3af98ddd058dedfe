package measure

import "math"

// computeMean gives the weighted mean with a Student's t interval on
// n_eff − 1 degrees of freedom. The variance is the weighted one,
// Σw(x − m)²/Σw, scaled by n_eff/(n_eff − 1); with unit weights this is the
// usual sample variance and the usual s/√n.
func computeMean(s *Stats, confidence float64, minSamples int64) Estimate {
	t := s.Total
	e := Estimate{N: t.N, NEff: t.EffectiveN(), Method: MethodStudentT}
	e.Sufficient = t.N > 1 && t.W > 0 && enough(e.NEff, minSamples, 2) && e.NEff > 1
	if !e.Sufficient {
		return e
	}
	m := s.Moments.SumWX / t.W
	e.Value = m
	// Σw(x−m)² = Σwx² − m·Σwx; clamp the rounding of near-constant data.
	ss := math.Max(0, s.Moments.SumWX2-m*s.Moments.SumWX)
	variance := ss / t.W * e.NEff / (e.NEff - 1)
	e.StdErr = math.Sqrt(variance / e.NEff)
	e.DF = e.NEff - 1
	half := tFor(confidence, e.DF) * e.StdErr
	e.Lower, e.Upper = m-half, m+half
	return e
}

// computeTotal gives sums and counts. They are totals of the window's units,
// not samples of a larger population, so their interval is the value itself.
func computeTotal(d Definition, s *Stats) Estimate {
	e := Estimate{N: s.Total.N, NEff: s.Total.EffectiveN(), Method: MethodExact, Sufficient: true}
	if d.Formula == FormulaCount {
		e.Value = s.Total.W
	} else {
		e.Value = s.Moments.SumWX
	}
	e.Lower, e.Upper = e.Value, e.Value
	return e
}

// computeGauge gives the weighted mean of a gauge's readings (usually one
// per segment). A gauge is not a sample of units: it has no interval and
// needs one reading.
func computeGauge(s *Stats) Estimate {
	e := Estimate{N: s.Total.N, NEff: s.Total.EffectiveN(), Method: MethodNone}
	e.Sufficient = s.Total.N > 0 && s.Total.W > 0
	if e.Sufficient {
		e.Value = s.Moments.SumWX / s.Total.W
		e.Lower, e.Upper = e.Value, e.Value
	}
	return e
}
