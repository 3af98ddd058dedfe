// Package drivers measures how strongly operational metrics (on-time
// shipment, first-contact resolution, time to first value, reopen rate)
// move with an outcome (NPS, renewal, NRR) across segments, typically
// accounts, and over time, so a task for a fallen outcome can name where
// to act. It measures association, not causation: a driver that moves with
// the outcome across accounts may share a cause with it; the number of
// segments behind each estimate says how much the evidence holds.
package drivers

import (
	"cmp"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Association is one driver's association with the outcome.
type Association struct {
	Name string
	// Segments is how many keys have both values.
	Segments int
	// Spearman's rank correlation across the segments, with its interval
	// (Fisher's z with Fieller, Hartley and Pearson's variance 1.06/(n−3)).
	Spearman, SpearmanLower, SpearmanUpper float64
	// Pearson's correlation across the segments, with its interval
	// (Fisher's z, variance 1/(n−3)).
	Pearson, PearsonLower, PearsonUpper float64
	// Supported is true when the Spearman interval excludes 0.
	Supported bool
	// Lag is the lag, in intervals, at which the driver's history
	// correlates most with the outcome's (the driver leading), and
	// LagCorrelation that correlation over LagIntervals pairs; LagIntervals
	// is 0 without a history.
	Lag            int
	LagCorrelation float64
	LagIntervals   int
}

// MinSegments is the fewest segments an association is estimated from.
const MinSegments = 10

// Associate measures the driver's association with the outcome across the
// keys both have a finite value for; ok is false below MinSegments.
func Associate(name string, outcome, driver map[string]float64, confidence float64) (Association, bool) {
	keys := make([]string, 0, len(outcome))
	for k, y := range outcome {
		if x, ok := driver[k]; ok && finite(x) && finite(y) {
			keys = append(keys, k)
		}
	}
	a := Association{Name: name, Segments: len(keys)}
	if len(keys) < MinSegments {
		return a, false
	}
	slices.Sort(keys)
	xs, ys := make([]float64, len(keys)), make([]float64, len(keys))
	for i, k := range keys {
		xs[i], ys[i] = driver[k], outcome[k]
	}
	z := distuv.UnitNormal.Quantile(0.5 + confidence/2)
	n := float64(len(keys))
	a.Pearson = correlation(xs, ys)
	a.PearsonLower, a.PearsonUpper = fisherInterval(a.Pearson, z*math.Sqrt(1/(n-3)))
	a.Spearman = correlation(ranks(xs), ranks(ys))
	a.SpearmanLower, a.SpearmanUpper = fisherInterval(a.Spearman, z*math.Sqrt(1.06/(n-3)))
	a.Supported = a.SpearmanLower > 0 || a.SpearmanUpper < 0
	return a, true
}

// Lagged finds the lag in 0..maxLag at which driver[t−lag] correlates most
// (in absolute value) with outcome[t], over the intervals where both are
// finite; series are aligned by interval, oldest first, NaN where missing.
// A lag needs at least MinSegments pairs.
func Lagged(outcome, driver []float64, maxLag int) (lag int, r float64, pairs int) {
	best := -1.0
	for l := 0; l <= maxLag; l++ {
		var xs, ys []float64
		for t := l; t < len(outcome) && t-l < len(driver); t++ {
			if finite(outcome[t]) && finite(driver[t-l]) {
				xs, ys = append(xs, driver[t-l]), append(ys, outcome[t])
			}
		}
		if len(xs) < MinSegments {
			continue
		}
		if c := correlation(xs, ys); finite(c) && math.Abs(c) > best {
			best, lag, r, pairs = math.Abs(c), l, c, len(xs)
		}
	}
	return lag, r, pairs
}

// Rank orders associations strongest first: supported before unsupported,
// then by |Spearman|, then by name.
func Rank(as []Association) {
	slices.SortStableFunc(as, func(a, b Association) int {
		if a.Supported != b.Supported {
			if a.Supported {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(math.Abs(b.Spearman), math.Abs(a.Spearman)), cmp.Compare(a.Name, b.Name))
	})
}

// correlation is Pearson's r; 0 when either side does not vary.
func correlation(xs, ys []float64) float64 {
	r := stat.Correlation(xs, ys, nil)
	if !finite(r) {
		return 0
	}
	return math.Max(-1, math.Min(1, r))
}

// ranks are the values' ranks, 1 for the smallest, ties given their mean;
// values equal but for rounding (24 of 30 and 8 of 10) are tied.
func ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(xs[a], xs[b]) })
	out := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && math.Abs(xs[idx[j+1]]-xs[idx[i]]) <= 1e-9*math.Max(1, math.Abs(xs[idx[i]])) {
			j++
		}
		mean := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			out[idx[k]] = mean
		}
		i = j + 1
	}
	return out
}

// fisherInterval is r's interval from a half-width h on Fisher's z scale.
func fisherInterval(r, h float64) (float64, float64) {
	zr := math.Atanh(math.Max(-0.999999, math.Min(0.999999, r)))
	return math.Tanh(zr - h), math.Tanh(zr + h)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
