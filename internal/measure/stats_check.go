package measure

import (
	"errors"
	"fmt"
	"math"
)

// ErrInconsistentStats reports statistics whose parts disagree, which only a
// faulty source produces (a Total that is not the sum of the score cells, a
// score off the scale). Compute refuses them rather than derive a number.
var ErrInconsistentStats = errors.New("inconsistent statistics")

// CheckStats reports statistics that cannot have come from folding rows
// under d: score cells that do not add up to Total or lie off the scale, a
// sketch that does not hold every unit, extremes out of order, or sums that
// are not finite. Sources that build Stats from SQL aggregates call it in
// their tests; Compute calls it on every computation.
func (d Definition) CheckStats(s *Stats) error {
	d = d.WithDefaults()
	for _, c := range []struct {
		name string
		cell Cell
	}{{"total", s.Total}, {"unrated", s.Unrated}, {"rejected", s.Rejected}} {
		if err := checkCell(c.name, c.cell); err != nil {
			return err
		}
	}
	fam := d.Family()
	var scores Cell
	for k, c := range s.Scores.All() {
		if err := checkCell(fmt.Sprintf("score %d", k), c); err != nil {
			return err
		}
		lo, hi := d.scale()
		if fam == Quantile {
			lo, hi = 0, 1
		}
		if fam != Categorical && fam != Quantile || k < lo || k > hi {
			return fmt.Errorf("%w: score %d is off the %s scale %d..%d", ErrInconsistentStats, k, d.Formula, lo, hi)
		}
		scores.Merge(c)
	}
	if (fam == Categorical || len(s.Scores) > 0) && scores.N != s.Total.N {
		return fmt.Errorf("%w: score cells count %d units, total %d", ErrInconsistentStats, scores.N, s.Total.N)
	}
	if fam == Quantile {
		if n := s.Sketch.Count().N; n != s.Total.N {
			return fmt.Errorf("%w: the sketch holds %d units, total %d", ErrInconsistentStats, n, s.Total.N)
		}
		for i, c := range s.Sketch.Buckets {
			if err := checkCell(fmt.Sprintf("bucket %d", i), c); err != nil {
				return err
			}
		}
	}
	if s.Total.N > 0 && (fam == MomentsFamily || fam == Gauge) && !(s.Moments.Min <= s.Moments.Max) {
		return fmt.Errorf("%w: min %v above max %v", ErrInconsistentStats, s.Moments.Min, s.Moments.Max)
	}
	for _, v := range []float64{s.Moments.SumWX, s.Moments.SumWX2, s.Moments.SumW2X, s.Moments.SumW2X2,
		s.Ratio.SumNum, s.Ratio.SumDen, s.Ratio.SumNum2, s.Ratio.SumDen2, s.Ratio.SumNumDen,
		s.Ratio.SumW2Num2, s.Ratio.SumW2Den2, s.Ratio.SumW2NumDen} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: a sum is %v", ErrInconsistentStats, v)
		}
	}
	if s.Moments.SumW2X2 < 0 || s.Ratio.SumW2Num2 < 0 || s.Ratio.SumW2Den2 < 0 {
		return fmt.Errorf("%w: a sum of squares is negative", ErrInconsistentStats)
	}
	return d.checkClusters(s)
}

// checkCell reports a cell with a negative count or impossible weight sums.
func checkCell(name string, c Cell) error {
	switch {
	case c.N < 0:
		return fmt.Errorf("%w: %s has %d units", ErrInconsistentStats, name, c.N)
	case math.IsNaN(c.W) || math.IsNaN(c.W2) || math.IsInf(c.W, 0) || math.IsInf(c.W2, 0):
		return fmt.Errorf("%w: %s weights are not finite", ErrInconsistentStats, name)
	case c.W < 0 || c.W2 < 0:
		return fmt.Errorf("%w: %s has negative weight sums", ErrInconsistentStats, name)
	case c.N == 0 && (c.W != 0 || c.W2 != 0):
		return fmt.Errorf("%w: %s has weights but no units", ErrInconsistentStats, name)
	}
	return nil
}
