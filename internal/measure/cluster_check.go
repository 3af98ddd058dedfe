package measure

import (
	"fmt"
	"math"
)

// clusterSlack is the relative rounding allowed when cluster sums are
// compared with the unit sums they bound.
const clusterSlack = 1e-9

// checkClusters reports cluster sums that cannot come from the units of
// s: more clusters than rated units, sums that are not finite, negative
// products of weights, or Σ_c W_c² outside [Σw², (Σw)²], which is where
// every partition of the units into clusters puts it. The lower bound is
// also what catches statistics merged from a clustered and an unclustered
// shard.
func (d Definition) checkClusters(s *Stats) error {
	k := s.Clusters
	if k == nil {
		return nil
	}
	if k.G < 0 || k.G > s.Total.N || (k.G == 0) != (s.Total.N == 0) {
		return fmt.Errorf("%w: %d clusters of %d rated units", ErrInconsistentStats, k.G, s.Total.N)
	}
	for _, v := range []float64{k.SumSS, k.SumSW, k.SumWW, k.SumNumNum, k.SumDenDen, k.SumNumDen} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: a cluster sum is %v", ErrInconsistentStats, v)
		}
	}
	if k.SumSS < 0 || k.SumWW < 0 || k.SumNumNum < 0 || k.SumDenDen < 0 {
		return fmt.Errorf("%w: a cluster sum of squares is negative", ErrInconsistentStats)
	}
	lo, hi := d.WithDefaults().scale()
	if d.Family() == Quantile {
		lo, hi = 0, 1
	}
	rated := 0.0
	for p, v := range k.Pairs {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("%w: cluster pair %d,%d is %v", ErrInconsistentStats, p.Lo, p.Hi, v)
		}
		if p.Lo > p.Hi {
			return fmt.Errorf("%w: cluster pair %d,%d is out of order", ErrInconsistentStats, p.Lo, p.Hi)
		}
		if off := func(x int64) bool { return x != UnratedScore && (x < lo || x > hi) }; off(p.Lo) || off(p.Hi) {
			return fmt.Errorf("%w: cluster pair %d,%d is off the %s scale %d..%d", ErrInconsistentStats, p.Lo, p.Hi, d.Formula, lo, hi)
		}
		switch {
		case p.Lo == UnratedScore:
		case p.Lo == p.Hi:
			rated += v
		default:
			rated += 2 * v
		}
	}
	var ww float64
	switch d.Family() {
	case Categorical:
		ww = rated
	case Quantile:
		if len(s.Scores) == 0 {
			return nil
		}
		ww = rated
	case MomentsFamily, Gauge:
		ww = k.SumWW
	default:
		return nil
	}
	t := s.Total
	if ww < t.W2*(1-clusterSlack) || ww > t.W*t.W*(1+clusterSlack) {
		return fmt.Errorf("%w: clusters' Σ W_c² = %v is outside [Σw², (Σw)²] = [%v, %v]", ErrInconsistentStats, ww, t.W2, t.W*t.W)
	}
	return nil
}
