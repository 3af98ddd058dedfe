package measure

import (
	"errors"
	"fmt"
	"math"
)

// ErrNoUnits reports a formula without per-unit contributions: ratios of
// sums, totals, gauges and derived expressions. Such metrics open tasks only
// from non-overlapping windows (see DOMAIN, "Deciding when to act").
var ErrNoUnits = errors.New("formula has no per-unit contributions")

// Contribution sums the per-unit contributions of a window, the input of a
// change detector: NPS +100/0/−100 per response, proportions 0/100, means
// the value, quantiles 0/100 for "over the ShareOver threshold". Its mean
// equals the formula's value (for a quantile, the share over the threshold
// in percent), so a detector's reference value is in the metric's unit.
type Contribution struct {
	// Units counts the units with their weights.
	Units Cell `json:"units"`
	// SumWX is Σ w·x over the contributions x.
	SumWX float64 `json:"sumWX"`
	// SumWX2 is Σ w·x².
	SumWX2 float64 `json:"sumWX2"`
	// SumW2X is Σ w²·x and SumW2X2 is Σ w²·x², for the weighted sandwich
	// variance of the mean (see MeanVariance); zero when the source kept
	// no w²-weighted sums.
	SumW2X  float64 `json:"sumW2X,omitempty"`
	SumW2X2 float64 `json:"sumW2X2,omitempty"`
	// Clusters counts the clusters of the units when the query names a
	// cluster column, and ClusterXX, ClusterXW and ClusterWW are Σ_c S_c²,
	// Σ_c S_c·W_c and Σ_c W_c² over them (S_c = Σ_{i∈c} w·x, W_c = Σ_{i∈c} w),
	// for the cluster-robust variance of the mean.
	Clusters  int64   `json:"clusters,omitempty"`
	ClusterXX float64 `json:"clusterXX,omitempty"`
	ClusterXW float64 `json:"clusterXW,omitempty"`
	ClusterWW float64 `json:"clusterWW,omitempty"`
}

// Mean returns the weighted mean contribution, 0 for no units.
func (c Contribution) Mean() float64 {
	if c.Units.W <= 0 {
		return 0
	}
	return c.SumWX / c.Units.W
}

// Variance returns the weighted variance of one contribution,
// Σw(x − m)²/Σw, 0 for no units.
func (c Contribution) Variance() float64 {
	if c.Units.W <= 0 {
		return 0
	}
	m := c.Mean()
	return math.Max(0, c.SumWX2/c.Units.W-m*m)
}

// Merge adds o into c.
func (c *Contribution) Merge(o Contribution) {
	c.Units.Merge(o.Units)
	c.SumWX += o.SumWX
	c.SumWX2 += o.SumWX2
	c.SumW2X += o.SumW2X
	c.SumW2X2 += o.SumW2X2
	c.Clusters += o.Clusters
	c.ClusterXX += o.ClusterXX
	c.ClusterXW += o.ClusterXW
	c.ClusterWW += o.ClusterWW
}

// HasUnits reports whether the definition's formula has per-unit
// contributions; when it has none, the error says why, wrapping ErrNoUnits.
func HasUnits(d Definition) error {
	switch d.Formula {
	case FormulaNPS, FormulaCSAT, FormulaRate, FormulaCES, FormulaMean:
		return nil
	case FormulaPercentile:
		if d.ShareOver != nil {
			return nil
		}
		return fmt.Errorf("%s: %w: name a shareOver threshold to detect changes in the share of units over it", d.Formula, ErrNoUnits)
	case FormulaRatio:
		return fmt.Errorf("%s: %w: a ratio of sums is not an average of units", d.Formula, ErrNoUnits)
	case FormulaSum, FormulaCount:
		return fmt.Errorf("%s: %w: a total grows with volume, not with experience", d.Formula, ErrNoUnits)
	case FormulaValue:
		return fmt.Errorf("%s: %w: a gauge is read, not counted", d.Formula, ErrNoUnits)
	case FormulaDerived:
		return fmt.Errorf("%s: %w: an expression of other metrics", d.Formula, ErrNoUnits)
	}
	return fmt.Errorf("unknown formula %q: %w", d.Formula, ErrNoUnits)
}

// Contributions derives a window's per-unit contributions from its
// statistics, so detectors never see raw rows. For percentile formulas the
// exact over/not-over counts in s.Scores are used; a source that filled only
// the sketch gets an approximation in which the units of the threshold's
// own bucket count as not over (an error below SketchRelativeAccuracy of
// the threshold).
func Contributions(d Definition, s *Stats) (Contribution, error) {
	if err := HasUnits(d); err != nil {
		return Contribution{}, err
	}
	if err := d.Validate(); err != nil {
		return Contribution{}, err
	}
	if err := d.CheckStats(s); err != nil {
		return Contribution{}, fmt.Errorf("contributions of %s: %w", d.Formula, err)
	}
	d = d.WithDefaults()
	var c Contribution
	switch d.Family() {
	case Categorical:
		total, pos, neg := categoricalCells(d, s)
		c.Units = total
		c.SumWX = 100 * pos.W
		c.SumWX2 = 1e4 * pos.W
		c.SumW2X, c.SumW2X2 = 100*pos.W2, 1e4*pos.W2
		if d.Formula == FormulaNPS {
			c.SumWX -= 100 * neg.W
			c.SumWX2 += 1e4 * neg.W
			c.SumW2X -= 100 * neg.W2
			c.SumW2X2 += 1e4 * neg.W2
		}
		c.addPairs(d, s.Clusters)
	case MomentsFamily:
		c.Units = s.Total
		c.SumWX, c.SumWX2 = s.Moments.SumWX, s.Moments.SumWX2
		c.SumW2X, c.SumW2X2 = s.Moments.SumW2X, s.Moments.SumW2X2
		if k := s.Clusters; k != nil {
			c.Clusters, c.ClusterXX, c.ClusterXW, c.ClusterWW = k.G, k.SumSS, k.SumSW, k.SumWW
		}
	case Quantile:
		over := s.scoreRange(1, 1)
		if len(s.Scores) > 0 {
			c.Units = s.scoreRange(0, 1)
		} else {
			c.Units = s.Sketch.Count()
			over = s.Sketch.countAbove(SketchIndex(*d.ShareOver), *d.ShareOver)
		}
		c.SumWX, c.SumWX2 = 100*over.W, 1e4*over.W
		c.SumW2X, c.SumW2X2 = 100*over.W2, 1e4*over.W2
		if len(s.Scores) > 0 {
			c.addPairs(d, s.Clusters)
		}
	}
	return c, nil
}

// countAbove sums the cells strictly above bucket i (and, for a threshold
// below zero, the Zero cell).
func (k *Sketch) countAbove(i int32, threshold float64) Cell {
	var c Cell
	if threshold < 0 {
		c.Merge(k.Zero)
	}
	for j, v := range k.Buckets {
		if threshold <= 0 || j > i {
			c.Merge(v)
		}
	}
	return c
}

// UnitContribution returns one row's contribution and weight, for detectors
// fed row by row (simulations, backtests of in-process sources); summed over
// rows it equals Contributions of the folded statistics. ok is false for
// rows that contribute nothing: unrated under the Exclude policy, rows Fold
// would reject, or a formula without units. d should be validated once
// beforehand.
func (d Definition) UnitContribution(r Row) (x, w float64, ok bool) {
	w = r.Weight
	if w == 0 {
		w = 1
	}
	if !(w > 0) || math.IsInf(w, 1) {
		return 0, 0, false
	}
	d = d.WithDefaults()
	switch d.Formula {
	case FormulaNPS, FormulaCSAT, FormulaRate:
		if !r.Valid {
			if d.Unrated != UnratedCountAsNegative {
				return 0, 0, false
			}
			if d.Formula == FormulaNPS {
				return -100, w, true
			}
			return 0, w, true
		}
		lo, hi := d.scale()
		k := int64(r.Value)
		if float64(k) != r.Value || k < lo || k > hi {
			return 0, 0, false
		}
		switch {
		case d.Formula == FormulaNPS && k >= d.PromoterMin:
			return 100, w, true
		case d.Formula == FormulaNPS && k <= d.DetractorMax:
			return -100, w, true
		case d.Formula == FormulaNPS:
			return 0, w, true
		case d.Formula == FormulaCSAT && k >= d.SatisfiedMin:
			return 100, w, true
		case d.Formula == FormulaRate && k == 1:
			return 100, w, true
		}
		return 0, w, true
	case FormulaCES, FormulaMean:
		if !r.Valid || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || !d.onScale(r.Value) {
			return 0, 0, false
		}
		return r.Value, w, true
	case FormulaPercentile:
		if d.ShareOver == nil || !r.Valid || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			return 0, 0, false
		}
		if r.Value > *d.ShareOver {
			return 100, w, true
		}
		return 0, w, true
	}
	return 0, 0, false
}
