package detect

import (
	"math"
	"sort"

	"github.com/cxloop/cxloop/internal/measure"
)

// NullOf is the distribution of one unit's contribution in a window's
// statistics, for Setup.Null: the formula's contribution per score
// weighted by the score's share (NPS, CSAT, rates, shares over a
// threshold, with the unrated policy applied; half a unit of prior over
// the formula's values), or for an effort score,
// whose statistics keep only the first two moments, the distribution on
// the scale's integer points with the window's mean and variance and the
// most entropy. Nil for formulas without a bounded set of values (means
// on an open scale, gauges), which keep the normal approximation, and for
// a window without units.
func NullOf(d measure.Definition, s *measure.Stats) []Atom {
	if s == nil || !(s.Total.W > 0) {
		return nil
	}
	d = d.WithDefaults()
	byValue := map[float64]float64{}
	switch d.Family() {
	case measure.Categorical:
		// Half a unit spread over every value the formula can contribute
		// (Jeffreys' prior), so a small window that saw no detractors
		// still has some at the reference.
		var values []float64
		seen := map[float64]bool{}
		for k := d.ScaleMin; k <= d.ScaleMax; k++ {
			if x, _, ok := d.UnitContribution(measure.Row{Value: float64(k), Valid: true}); ok && !seen[x] {
				seen[x] = true
				values = append(values, x)
			}
		}
		prior(byValue, values, s)
		for k, c := range s.Scores.All() {
			if x, _, ok := d.UnitContribution(measure.Row{Value: float64(k), Valid: true}); ok && c.W > 0 {
				byValue[x] += c.W
			}
		}
		if d.Unrated == measure.UnratedCountAsNegative && s.Unrated.W > 0 {
			if x, _, ok := d.UnitContribution(measure.Row{}); ok {
				byValue[x] += s.Unrated.W
			}
		}
	case measure.Quantile:
		if d.ShareOver == nil {
			return nil
		}
		prior(byValue, []float64{0, 100}, s)
		// Scores holds the over (1) and not-over (0) counts.
		for k, c := range s.Scores.All() {
			if c.W > 0 && (k == 0 || k == 1) {
				byValue[100*float64(k)] += c.W
			}
		}
	case measure.MomentsFamily:
		if d.Formula != measure.FormulaCES {
			return nil
		}
		w := s.Total.W
		mean := s.Moments.SumWX / w
		variance := s.Moments.SumWX2/w - mean*mean
		return maxEntropy(float64(d.ScaleMin), float64(d.ScaleMax), mean, variance)
	default:
		return nil
	}
	return atoms(byValue)
}

// prior adds half an effective unit spread evenly over values, in the
// statistics' weights.
func prior(byValue map[float64]float64, values []float64, s *measure.Stats) {
	w := 0.5 * s.Total.W / s.Total.EffectiveN() / float64(len(values))
	for _, x := range values {
		byValue[x] += w
	}
}

// atoms turns weights by value into a distribution sorted by value.
func atoms(byValue map[float64]float64) []Atom {
	var total float64
	out := make([]Atom, 0, len(byValue))
	for x, w := range byValue {
		out = append(out, Atom{Value: x, P: w})
		total += w
	}
	if !(total > 0) {
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	for i := range out {
		out[i].P /= total
	}
	return out
}

// maxEntropy is the distribution on the integers lo..hi with mean m and
// variance v that has the most entropy, p_x ∝ e^{a·t + b·t²} on t scaled
// to [0, 1], by Newton's method on the convex dual log Z(a, b) − a·m₁ −
// b·m₂, whose Hessian is the covariance of (t, t²). Nil when the moments
// are not those of a distribution on the scale with spread.
func maxEntropy(lo, hi, m, v float64) []Atom {
	if !(hi > lo) || !(m > lo && m < hi) || !(v > 0) || hi-lo > 100 {
		return nil
	}
	span := hi - lo
	var t []float64
	for x := lo; x <= hi; x++ {
		t = append(t, (x-lo)/span)
	}
	m1 := (m - lo) / span
	m2 := v/(span*span) + m1*m1
	if m2 >= m1 {
		// A variance this large only the two ends reach, or none can.
		return nil
	}
	p := make([]float64, len(t))
	dist := func(a, b float64) (logZ, e1, e2, c11, c12, c22 float64) {
		top := math.Inf(-1)
		for _, x := range t {
			top = math.Max(top, a*x+b*x*x)
		}
		var s float64
		for i, x := range t {
			p[i] = math.Exp(a*x + b*x*x - top)
			s += p[i]
		}
		var e3, e4 float64
		for i, x := range t {
			p[i] /= s
			e1 += p[i] * x
			e2 += p[i] * x * x
			e3 += p[i] * x * x * x
			e4 += p[i] * x * x * x * x
		}
		return top + math.Log(s), e1, e2, e2 - e1*e1, e3 - e1*e2, e4 - e2*e2
	}
	a, b := 0.0, 0.0
	dual := func(a, b float64) float64 {
		logZ, _, _, _, _, _ := dist(a, b)
		return logZ - a*m1 - b*m2
	}
	for i := 0; i < 200; i++ {
		_, e1, e2, c11, c12, c22 := dist(a, b)
		g1, g2 := e1-m1, e2-m2
		if math.Abs(g1) < 1e-12 && math.Abs(g2) < 1e-12 {
			break
		}
		det := c11*c22 - c12*c12
		if !(det > 1e-300) {
			break
		}
		da, db := (c22*g1-c12*g2)/det, (c11*g2-c12*g1)/det
		// Backtracking keeps each step a descent of the dual.
		f0, step := dual(a, b), 1.0
		for j := 0; j < 60 && dual(a-step*da, b-step*db) > f0; j++ {
			step /= 2
		}
		a, b = a-step*da, b-step*db
	}
	dist(a, b)
	out := make([]Atom, len(t))
	for i, x := range t {
		out[i] = Atom{Value: lo + x*span, P: p[i]}
	}
	return out
}
