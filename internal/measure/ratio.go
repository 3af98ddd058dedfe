package measure

import "math"

// computeRatio gives R = Σw·num / Σw·den with a delta-method interval.
// Linearising R around the sums, each unit contributes the residual
// e = num − R·den, and
//
//	Var(R) ≈ s_e² / (n_eff · d̄²),  s_e² = Σw·e²/Σw · n_eff/(n_eff − 1),  d̄ = Σw·den/Σw,
//
// where Σw·e² = Σw·num² − 2R·Σw·num·den + R²·Σw·den², all kept in RatioSums.
// With unit weights this is the textbook ratio-estimator variance.
func computeRatio(s *Stats, confidence float64, minSamples int64) Estimate {
	t := s.Total
	r := s.Ratio
	e := Estimate{N: t.N, NEff: t.EffectiveN(), Method: MethodDelta}
	if !(t.N > 1 && t.W > 0 && r.SumDen != 0 && enough(e.NEff, minSamples, 2) && e.NEff > 1) {
		return e
	}
	R := r.SumNum / r.SumDen
	see := math.Max(0, r.SumNum2-2*R*r.SumNumDen+R*R*r.SumDen2)
	se2 := see / t.W * e.NEff / (e.NEff - 1)
	dbar := r.SumDen / t.W
	e.Value = R
	e.StdErr = math.Sqrt(se2 / (e.NEff * dbar * dbar))
	half := zFor(confidence) * e.StdErr
	e.Lower, e.Upper = R-half, R+half
	e.Sufficient = true
	return e
}
