package measure

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSketchIndexBoundaries(t *testing.T) {
	// Bucket i holds (γ^(i−1), γ^i]: 1 is the top of bucket 0, γ the top of bucket 1.
	cases := []struct {
		x    float64
		want int32
	}{
		{1, 0},
		{SketchGamma, 1},
		{SketchGamma * (1 + 1e-9), 2},
		{1 / SketchGamma * (1 + 1e-9), 0},
		{0.5, int32(math.Ceil(math.Log(0.5) / math.Log(SketchGamma)))},
		{3600, 410}, // ln 3600 / ln γ ≈ 409.4
	}
	for _, c := range cases {
		if got := SketchIndex(c.x); got != c.want {
			t.Errorf("SketchIndex(%v) = %d, want %d", c.x, got, c.want)
		}
	}
	if SketchIndex(0) != 0 || SketchIndex(-3) != 0 || SketchIndex(math.NaN()) != 0 {
		t.Error("non-positive values have no index")
	}
}

func TestSketchRelativeErrorBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 100000 {
		// Values from a millisecond to a year in seconds.
		x := math.Exp(rng.Float64()*math.Log(3.2e10)) * 1e-3
		v := SketchBucketValue(SketchIndex(x))
		if math.Abs(v-x) > SketchRelativeAccuracy*x*(1+1e-12) {
			t.Fatalf("x = %v reads back as %v: relative error %v", x, v, math.Abs(v-x)/x)
		}
	}
}

func TestSketchQuantileWeighted(t *testing.T) {
	// Weighted median: 10 (w 1), 20 (w 1), 30 (w 5): half of Σw = 7 is
	// reached at 30.
	var k Sketch
	k.Add(10, 1)
	k.Add(20, 1)
	k.Add(30, 5)
	if got := k.Quantile(0.5); math.Abs(got-30) > 0.3 {
		t.Errorf("weighted median %v, want 30", got)
	}
	if got := k.Quantile(0.1); math.Abs(got-10) > 0.1 {
		t.Errorf("p10 %v, want 10", got)
	}
	var empty Sketch
	if empty.Quantile(0.5) != 0 {
		t.Error("empty sketch")
	}
}

func TestSketchMergeBucketMatchesAdd(t *testing.T) {
	// A source grouping by the SQL index fills the same cells as Add.
	var added, grouped Sketch
	values := []float64{0, 1, 1.5, 3600, 3600, 7200, 86400}
	cells := map[int32]Cell{}
	var zero Cell
	for _, x := range values {
		added.Add(x, 1)
		if x > 0 {
			c := cells[SketchIndex(x)]
			c.Add(1)
			cells[SketchIndex(x)] = c
		} else {
			zero.Add(1)
		}
	}
	for i, c := range cells {
		grouped.MergeBucket(i, c)
	}
	grouped.Zero.Merge(zero)
	if len(grouped.Buckets) != len(added.Buckets) || grouped.Zero != added.Zero {
		t.Fatalf("grouped %+v, added %+v", grouped, added)
	}
	for i, c := range added.Buckets {
		if grouped.Buckets[i] != c {
			t.Errorf("bucket %d: %+v vs %+v", i, grouped.Buckets[i], c)
		}
	}
}
