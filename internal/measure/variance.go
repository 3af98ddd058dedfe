package measure

import "math"

// MeanVariance returns the variance of the batch's weighted mean
// contribution, the sampling noise a detector has to expect of it:
//
//   - cluster-robust, Σ_c (S_c − m·W_c)²/(Σw)², when the source kept
//     cluster sums (responses of one account move together);
//   - else the weighted sandwich, Σw²(x − m)²/(Σw)², when it kept the
//     w²-weighted sums (weights that track the values, such as polarised
//     strategic accounts, make it larger than Kish's);
//   - else Variance()/n_eff, which is Variance()/N for unit weights.
//
// With unit weights and one unit per cluster the three are the same
// number. No small-sample factor G/(G − 1) is applied, so that they are,
// and so that DesignUnits is a pure ratio.
func (c Contribution) MeanVariance() float64 {
	w := c.Units.W
	if w <= 0 || c.Units.N == 0 {
		return 0
	}
	m := c.Mean()
	var ss float64
	switch {
	case c.Clusters > 0:
		ss = c.ClusterXX - 2*m*c.ClusterXW + m*m*c.ClusterWW
	case c.SumW2X2 > 0 || c.SumWX2 == 0:
		// Σw²x² is positive whenever Σwx² is, unless the source kept no
		// w²-weighted sums at all.
		ss = c.SumW2X2 - 2*m*c.SumW2X + m*m*c.Units.W2
	default:
		n := c.Units.EffectiveN()
		if n <= 0 {
			return 0
		}
		return c.Variance() / n
	}
	return math.Max(0, ss/(w*w))
}

// DesignUnits returns the independent units the batch counts for,
// Variance()/MeanVariance(): N for independent unit-weighted units, fewer
// when clusters or weights make the mean noisier. It is never more than N,
// and Kish's n_eff when the data cannot tell (no spread at all).
func (c Contribution) DesignUnits() float64 {
	v, mv := c.Variance(), c.MeanVariance()
	if !(v > 0) || !(mv > 0) {
		return c.Units.EffectiveN()
	}
	return math.Min(float64(c.Units.N), v/mv)
}

// addPairs turns a categorical formula's cluster score pairs into the
// contribution's cluster sums: S_c = Σ_s x_s·W_{c,s}, so
// Σ_c S_c² = Σ_{s,t} x_s·x_t·P_st, Σ_c S_c·W_c = Σ_{s,t} x_s·P_st and
// Σ_c W_c² = Σ_{s,t} P_st over ordered pairs, P being symmetric.
func (c *Contribution) addPairs(d Definition, k *Clusters) {
	if k == nil {
		return
	}
	c.Clusters = k.G
	for p, v := range k.Pairs {
		xa, ok1 := d.scoreContribution(p.Lo)
		xb, ok2 := d.scoreContribution(p.Hi)
		if !ok1 || !ok2 {
			continue
		}
		if p.Lo == p.Hi {
			c.ClusterXX += xa * xa * v
			c.ClusterXW += xa * v
			c.ClusterWW += v
			continue
		}
		c.ClusterXX += 2 * xa * xb * v
		c.ClusterXW += (xa + xb) * v
		c.ClusterWW += 2 * v
	}
}

// scoreContribution is the contribution of a unit with score k (or
// UnratedScore) under a categorical formula or a ShareOver percentile
// (score 1 is over the threshold); ok is false for a unit outside the
// formula's denominator. d has its defaults applied.
func (d Definition) scoreContribution(k int64) (x float64, ok bool) {
	if k == UnratedScore {
		if d.Family() != Categorical || d.Unrated != UnratedCountAsNegative {
			return 0, false
		}
		if d.Formula == FormulaNPS {
			return -100, true
		}
		return 0, true
	}
	if d.Family() == Quantile {
		return 100 * float64(k), k == 0 || k == 1
	}
	lo, hi := d.scale()
	if k < lo || k > hi {
		return 0, false
	}
	switch {
	case d.Formula == FormulaNPS && k >= d.PromoterMin:
		return 100, true
	case d.Formula == FormulaNPS && k <= d.DetractorMax:
		return -100, true
	case d.Formula == FormulaCSAT && k >= d.SatisfiedMin:
		return 100, true
	case d.Formula == FormulaRate && k == 1:
		return 100, true
	}
	return 0, true
}

// RatioVariance returns the variance of a ratio of sums R = Σw·num/Σw·den
// linearised around its sums (each unit contributes num − R·den), with
// the same choice as MeanVariance: cluster-robust
// Σ_c (Num_c − R·Den_c)²/(Σw·den)² with cluster sums, else the weighted
// sandwich Σw²(num − R·den)²/(Σw·den)², else 0 (the sums were not kept;
// Compute's delta-method interval still applies). It is 0 without units
// or with a zero denominator.
func (s *Stats) RatioVariance() float64 {
	r := s.Ratio
	if s.Total.N == 0 || r.SumDen == 0 {
		return 0
	}
	R := r.SumNum / r.SumDen
	var ss float64
	if k := s.Clusters; k != nil && k.G > 0 {
		ss = k.SumNumNum - 2*R*k.SumNumDen + R*R*k.SumDenDen
	} else {
		ss = r.SumW2Num2 - 2*R*r.SumW2NumDen + R*R*r.SumW2Den2
	}
	return math.Max(0, ss/(r.SumDen*r.SumDen))
}
