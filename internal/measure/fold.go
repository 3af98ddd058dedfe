package measure

import (
	"math"
	"sort"
)

// Row is one unit as an in-process source reads it (CSV, HTTP JSON, tests,
// simulations): a response, a ticket, an account.
type Row struct {
	// Value is the score, time or amount. Ignored by ratio formulas.
	Value float64
	// Valid is false for a NULL or skipped value (an unrated unit).
	Valid bool
	// Weight is the unit's weight; 0 means 1.
	Weight float64
	// Num and Den are a ratio formula's numerator and denominator for this
	// unit (an account's revenue at the end and at the start).
	Num, Den float64
}

// Fold counts one row into s under the definition d. Rows the definition
// cannot count (a score off the scale, a non-finite value, a negative
// weight) go to s.Rejected, never silently into a number. Fold does no
// validation of d itself: call Validate once, not per row.
func (d Definition) Fold(s *Stats, r Row) {
	w := r.Weight
	if w == 0 {
		w = 1
	}
	if !(w > 0) || math.IsInf(w, 1) {
		s.Rejected.Add(1)
		return
	}
	fam := d.Family()
	if !r.Valid {
		if fam == Derived || fam == 0 {
			s.Rejected.Add(w)
			return
		}
		s.Unrated.Add(w)
		return
	}
	switch fam {
	case Categorical:
		lo, hi := d.scale()
		k := int64(r.Value)
		if float64(k) != r.Value || k < lo || k > hi {
			s.Rejected.Add(w)
			return
		}
		s.AddScore(k, w)
	case MomentsFamily, Gauge:
		x := r.Value
		if math.IsNaN(x) || math.IsInf(x, 0) || !d.onScale(x) {
			s.Rejected.Add(w)
			return
		}
		if s.Total.N == 0 {
			s.Moments.Min, s.Moments.Max = x, x
		} else {
			if x < s.Moments.Min {
				s.Moments.Min = x
			}
			if x > s.Moments.Max {
				s.Moments.Max = x
			}
		}
		s.Moments.SumWX += w * x
		s.Moments.SumWX2 += w * x * x
		s.Moments.SumW2X += w * w * x
		s.Moments.SumW2X2 += w * w * x * x
	case Quantile:
		x := r.Value
		if math.IsNaN(x) || math.IsInf(x, 0) {
			s.Rejected.Add(w)
			return
		}
		s.Sketch.Add(x, w)
		if d.ShareOver != nil {
			over := int64(0)
			if x > *d.ShareOver {
				over = 1
			}
			s.AddScore(over, w)
		}
	case RatioOfSums:
		n, m := r.Num, r.Den
		if math.IsNaN(n) || math.IsInf(n, 0) || math.IsNaN(m) || math.IsInf(m, 0) {
			s.Rejected.Add(w)
			return
		}
		s.Ratio.SumNum += w * n
		s.Ratio.SumDen += w * m
		s.Ratio.SumNum2 += w * n * n
		s.Ratio.SumDen2 += w * m * m
		s.Ratio.SumNumDen += w * n * m
		s.Ratio.SumW2Num2 += w * w * n * n
		s.Ratio.SumW2Den2 += w * w * m * m
		s.Ratio.SumW2NumDen += w * w * n * m
	default:
		s.Rejected.Add(w)
		return
	}
	s.Total.Add(w)
}

// scale returns the integer score range a categorical formula accepts.
func (d Definition) scale() (lo, hi int64) {
	switch d.Formula {
	case FormulaNPS:
		return 0, 10
	case FormulaRate:
		return 0, 1
	}
	if d.ScaleMin == 0 && d.ScaleMax == 0 {
		// The defaults of WithDefaults, without copying the definition per row.
		if d.Formula == FormulaCES {
			return 1, 7
		}
		return 1, 5
	}
	return d.ScaleMin, d.ScaleMax
}

// onScale reports whether a ces answer lies on its scale; other moment
// formulas have none.
func (d Definition) onScale(x float64) bool {
	if d.Formula != FormulaCES {
		return true
	}
	lo, hi := d.scale()
	return x >= float64(lo) && x <= float64(hi)
}

func sortStrings(s []string) { sort.Strings(s) }
