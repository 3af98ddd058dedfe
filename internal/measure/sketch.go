package measure

import (
	"math"
	"sort"
	"strconv"
)

// SketchRelativeAccuracy is the sketch's relative-error bound a: every value
// read back from a bucket is within a·x of every value x the bucket holds,
// so a quantile taken from the sketch is within 1 % of the exact sample
// quantile of the same rank.
const SketchRelativeAccuracy = 0.01

// SketchGamma is the ratio between consecutive bucket bounds,
// γ = (1+a)/(1−a). Bucket i holds the values in (γ^(i−1), γ^i].
const SketchGamma = (1 + SketchRelativeAccuracy) / (1 - SketchRelativeAccuracy)

// sketchLnGamma is ln γ, computed once so Go and SQL divide by the same number.
var sketchLnGamma = math.Log(SketchGamma)

// SketchIndex returns the bucket of a positive value x: ceil(ln(x)/ln(γ)),
// DDSketch's logarithmic index. Values <= 0 belong in Sketch.Zero and have
// no index (SketchIndex returns 0 for them; callers test x > 0 first).
//
// The same expression runs in SQL (see SketchIndexSQL), which is what lets a
// warehouse return a sketch instead of rows. Engines agree on every bucket
// except for values within a rounding error of a bucket bound, where their
// logarithms may differ in the last bit; such a value lands in a neighbour
// bucket, still within the relative-error bound.
func SketchIndex(x float64) int32 {
	if !(x > 0) {
		return 0
	}
	return int32(math.Ceil(math.Log(x) / sketchLnGamma))
}

// SketchIndexSQL returns the SQL expression that computes SketchIndex of the
// numeric expression column in PostgreSQL and SQLite (with its math
// functions): the divisor is written with every digit of ln γ so both sides
// divide by the same double. The caller adds the x > 0 guard.
func SketchIndexSQL(column string) string {
	return "CAST(CEIL(LN(CAST(" + column + " AS DOUBLE PRECISION)) / " +
		strconv.FormatFloat(sketchLnGamma, 'g', -1, 64) + ") AS INTEGER)"
}

// SketchBucketValue is the value a bucket stands for, 2γ^i/(γ+1): the point
// whose relative distance to both bucket bounds is exactly a.
func SketchBucketValue(i int32) float64 {
	return 2 * math.Exp(float64(i)*sketchLnGamma) / (SketchGamma + 1)
}

// Sketch is a mergeable quantile sketch with DDSketch's logarithmic buckets:
// a map from bucket index to a Cell, so weights and Kish's effective size
// survive merging, plus one Cell for values <= 0 (a response in zero
// seconds). Merging adds cells, so it is exact on counts and independent of
// order; the sketch's size grows with the logarithm of the value range
// (about 115 buckets per factor of ten at 1 %), not with the data.
type Sketch struct {
	// Buckets maps SketchIndex(x) to the units whose value is x > 0.
	Buckets map[int32]Cell `json:"buckets,omitempty"`
	// Zero counts the units whose value is <= 0; they read back as 0.
	Zero Cell `json:"zero"`
}

// Add counts value x with weight w.
func (k *Sketch) Add(x, w float64) {
	if !(x > 0) {
		k.Zero.Add(w)
		return
	}
	if k.Buckets == nil {
		k.Buckets = make(map[int32]Cell)
	}
	i := SketchIndex(x)
	c := k.Buckets[i]
	c.Add(w)
	k.Buckets[i] = c
}

// MergeBucket adds a pre-aggregated cell under bucket i, as a source does
// with one row of a `GROUP BY` on the SQL index expression.
func (k *Sketch) MergeBucket(i int32, c Cell) { k.mergeBucket(i, c) }

func (k *Sketch) mergeBucket(i int32, c Cell) {
	if k.Buckets == nil {
		k.Buckets = make(map[int32]Cell)
	}
	cur := k.Buckets[i]
	cur.Merge(c)
	k.Buckets[i] = cur
}

// Merge adds o into k.
func (k *Sketch) Merge(o *Sketch) {
	k.Zero.Merge(o.Zero)
	for i, c := range o.Buckets {
		k.mergeBucket(i, c)
	}
}

// Count returns the total of all cells, Zero included.
func (k *Sketch) Count() Cell {
	c := k.Zero
	for _, v := range k.Buckets {
		c.Merge(v)
	}
	return c
}

// sketchEntry is one bucket in ascending value order.
type sketchEntry struct {
	value float64
	w     float64
}

// sorted returns the buckets in ascending value order with Zero first.
func (k *Sketch) sorted() []sketchEntry {
	idx := make([]int32, 0, len(k.Buckets))
	for i := range k.Buckets {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	out := make([]sketchEntry, 0, len(idx)+1)
	if k.Zero.N > 0 {
		out = append(out, sketchEntry{0, k.Zero.W})
	}
	for _, i := range idx {
		out = append(out, sketchEntry{SketchBucketValue(i), k.Buckets[i].W})
	}
	return out
}

// atFraction returns the value of the smallest bucket whose cumulative
// weight reaches frac of the total (the inverted empirical CDF, numpy's
// "inverted_cdf"). frac is clipped to (0, 1].
func atFraction(entries []sketchEntry, total, frac float64) float64 {
	if len(entries) == 0 {
		return 0
	}
	target := frac * total
	// Cumulative sums of many weights drift in the last bit; a relative
	// tolerance keeps integer ranks on the bucket they name.
	tol := 1e-12 * total
	var cum float64
	for _, e := range entries {
		cum += e.w
		if cum+tol >= target {
			return e.value
		}
	}
	return entries[len(entries)-1].value
}

// Quantile returns the sketch's q-quantile (0 <= q <= 1), within
// SketchRelativeAccuracy of the exact weighted sample quantile of the same
// rank. It returns 0 for an empty sketch.
func (k *Sketch) Quantile(q float64) float64 {
	total := k.Count()
	return atFraction(k.sorted(), total.W, q)
}
