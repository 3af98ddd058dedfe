package measure

import (
	"math"
	"slices"
)

// Cell is a count of units with the sums of their weights (Σw, Σw²), so
// Kish's effective size n_eff = (Σw)²/Σw² survives merging. Unweighted rows
// have w = 1, which keeps W and W2 exact integers.
type Cell struct {
	// N is the number of units.
	N int64 `json:"n"`
	// W is the sum of the units' weights.
	W float64 `json:"w"`
	// W2 is the sum of the squared weights.
	W2 float64 `json:"w2"`
}

// Add counts one unit of weight w.
func (c *Cell) Add(w float64) {
	c.N++
	c.W += w
	c.W2 += w * w
}

// Merge adds o into c.
func (c *Cell) Merge(o Cell) {
	c.N += o.N
	c.W += o.W
	c.W2 += o.W2
}

// Plus returns the sum of c and o without changing either.
func (c Cell) Plus(o Cell) Cell {
	c.Merge(o)
	return c
}

// EffectiveN is Kish's effective sample size (Σw)²/Σw²; it equals N when
// every weight is 1 and is 0 for an empty cell.
func (c Cell) EffectiveN() float64 {
	if c.W2 <= 0 {
		return 0
	}
	return c.W * c.W / c.W2
}

// Moments holds the weighted power sums behind means (CES, handoffs, mean
// resolution time, gauges, sums of money). Min and Max are the extremes of
// the unweighted values and are meaningful only when the owning Stats has
// Total.N > 0.
type Moments struct {
	// SumWX is Σ w·x.
	SumWX float64 `json:"sumWX"`
	// SumWX2 is Σ w·x².
	SumWX2 float64 `json:"sumWX2"`
	// SumW2X is Σ w²·x and SumW2X2 is Σ w²·x²: with Total.W2 they give the
	// weighted sandwich variance of the mean, Σw²(x − x̄)²/(Σw)², which is
	// right where Kish's n_eff is not (weights that track the values).
	SumW2X  float64 `json:"sumW2X,omitempty"`
	SumW2X2 float64 `json:"sumW2X2,omitempty"`
	// Min is the smallest value folded.
	Min float64 `json:"min"`
	// Max is the largest value folded.
	Max float64 `json:"max"`
}

// RatioSums holds the weighted sums a ratio of sums (NRR, GRR, revenue
// coverage, any Σnum/Σden) needs for its value and its delta-method
// variance: the cross product is what makes the interval possible.
type RatioSums struct {
	// SumNum is Σ w·num.
	SumNum float64 `json:"sumNum"`
	// SumDen is Σ w·den.
	SumDen float64 `json:"sumDen"`
	// SumNum2 is Σ w·num².
	SumNum2 float64 `json:"sumNum2"`
	// SumDen2 is Σ w·den².
	SumDen2 float64 `json:"sumDen2"`
	// SumNumDen is Σ w·num·den.
	SumNumDen float64 `json:"sumNumDen"`
	// SumW2Num2, SumW2Den2 and SumW2NumDen are the same sums weighted by
	// w²: the weighted sandwich variance of the linearised ratio,
	// Σw²(num − R·den)²/(Σw·den)².
	SumW2Num2   float64 `json:"sumW2Num2,omitempty"`
	SumW2Den2   float64 `json:"sumW2Den2,omitempty"`
	SumW2NumDen float64 `json:"sumW2NumDen,omitempty"`
}

// Merge adds o into r.
func (r *RatioSums) Merge(o RatioSums) {
	r.SumNum += o.SumNum
	r.SumDen += o.SumDen
	r.SumNum2 += o.SumNum2
	r.SumDen2 += o.SumDen2
	r.SumNumDen += o.SumNumDen
	r.SumW2Num2 += o.SumW2Num2
	r.SumW2Den2 += o.SumW2Den2
	r.SumW2NumDen += o.SumW2NumDen
}

// Stats is the mergeable sufficient statistics of one segment over one time
// range. A source returns one per segment, computed where the data lives;
// the engine derives values from it. Merge is associative and commutative:
// counts merge exactly, floating-point sums up to rounding in the last bits.
//
// Which parts are filled depends on the Definition's Family: Categorical
// fills Scores, Moments and Gauge fill Moments, Quantile fills Sketch (and
// Scores {0: at or under, 1: over} when the definition names a ShareOver
// threshold), RatioOfSums fills Ratio. Every family fills Total and Unrated.
// Clusters is filled when the query names a cluster column.
type Stats struct {
	// Total counts every rated unit (a response with a score, a ticket with
	// a time, an account with revenue).
	Total Cell `json:"total"`
	// Unrated counts units whose value was NULL or skipped; the
	// definition's UnratedPolicy decides whether they enter a denominator.
	Unrated Cell `json:"unrated"`
	// Rejected counts units that could not be counted at all: a score off
	// the definition's scale or not an integer, a non-finite value, a
	// negative or non-finite weight. They are in no other field; a non-zero
	// count means the data and the definition disagree.
	Rejected Cell `json:"rejected"`
	// Scores holds one cell per integer score (NPS 0..10, CSAT 1..5, rates 0/1).
	Scores Scores `json:"scores,omitempty"`
	// Moments holds power sums for the Moments and Gauge families.
	Moments Moments `json:"moments"`
	// Sketch holds the quantile sketch for the Quantile family.
	Sketch Sketch `json:"sketch"`
	// Ratio holds the sums for the RatioOfSums family.
	Ratio RatioSums `json:"ratio"`
	// Clusters holds the per-cluster cross sums behind the cluster-robust
	// variance of the mean, when the query names a cluster column (the
	// account a response belongs to); nil otherwise.
	Clusters *Clusters `json:"clusters,omitempty"`
}

// AddScore counts one unit of weight w under score k. Sources that read
// grouped counts (SQL GROUP BY score) use MergeScore instead.
func (s *Stats) AddScore(k int64, w float64) {
	var c Cell
	c.Add(w)
	s.Scores.merge(k, c)
}

// MergeScore adds a pre-aggregated cell under score k, as a source does with
// one row of `SELECT score, count(*), sum(w), sum(w*w) ... GROUP BY score`.
func (s *Stats) MergeScore(k int64, c Cell) {
	s.Scores.merge(k, c)
}

// Merge adds o into s. Merging is associative and commutative, so shards,
// segments and time slices combine in any order. o is not modified.
func (s *Stats) Merge(o *Stats) {
	if o == nil {
		return
	}
	// Extremes first: they depend on whether each side had rated units.
	switch {
	case o.Total.N == 0:
	case s.Total.N == 0:
		s.Moments.Min, s.Moments.Max = o.Moments.Min, o.Moments.Max
	default:
		s.Moments.Min = math.Min(s.Moments.Min, o.Moments.Min)
		s.Moments.Max = math.Max(s.Moments.Max, o.Moments.Max)
	}
	s.Total.Merge(o.Total)
	s.Unrated.Merge(o.Unrated)
	s.Rejected.Merge(o.Rejected)
	if s.Scores == nil && len(o.Scores) > 0 {
		s.Scores = slices.Clone(o.Scores)
	} else {
		for _, c := range o.Scores {
			s.Scores.merge(c.Score, c.Cell)
		}
	}
	s.Moments.SumWX += o.Moments.SumWX
	s.Moments.SumWX2 += o.Moments.SumWX2
	s.Moments.SumW2X += o.Moments.SumW2X
	s.Moments.SumW2X2 += o.Moments.SumW2X2
	s.Sketch.Merge(&o.Sketch)
	s.Ratio.Merge(o.Ratio)
	if o.Clusters != nil {
		s.clusters().Merge(o.Clusters)
	}
}

// Clone returns a deep copy of s, so a caller can merge into the copy while
// keeping the original (a baseline window, a cached shard).
func (s *Stats) Clone() *Stats {
	c := *s
	c.Scores = slices.Clone(s.Scores)
	c.Sketch.Buckets = nil
	for k, v := range s.Sketch.Buckets {
		c.Sketch.mergeBucket(k, v)
	}
	if s.Clusters != nil {
		c.Clusters = s.Clusters.Clone()
	}
	return &c
}

// scoreRange sums the cells whose score lies in [lo, hi].
func (s *Stats) scoreRange(lo, hi int64) Cell {
	var c Cell
	for k, v := range s.Scores.All() {
		if k >= lo && k <= hi {
			c.Merge(v)
		}
	}
	return c
}

// Overall merges the statistics of every segment into the whole
// population's. Segments keyed by column=value are disjoint, so the result
// is exactly what the source would return without segmentation. The inputs
// are not modified.
func Overall(segments map[string]*Stats) *Stats {
	all := &Stats{}
	for _, s := range segments {
		all.Merge(s)
	}
	return all
}
