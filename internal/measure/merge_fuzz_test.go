package measure

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var fourHoursThreshold = 14400.0

// fuzzDefinitions covers every family that folds rows.
var fuzzDefinitions = []Definition{
	{Formula: FormulaNPS},
	{Formula: FormulaCSAT, ScaleMin: 1, ScaleMax: 7},
	{Formula: FormulaRate},
	{Formula: FormulaCES},
	{Formula: FormulaMean},
	{Formula: FormulaSum},
	{Formula: FormulaPercentile, Percentile: 90, ShareOver: &fourHoursThreshold},
	{Formula: FormulaRatio},
	{Formula: FormulaValue},
}

// decodeRow turns four bytes into a row of d's family, including unrated
// rows, off-scale scores and bad weights, so rejection merges too.
func decodeRow(d Definition, b [4]byte) Row {
	r := Row{Valid: b[0] != 255}
	switch {
	case b[1] == 255:
		r.Weight = -1
	case b[1] != 0:
		r.Weight = 0.05 + float64(b[1])/17
	}
	switch d.Family() {
	case Categorical:
		lo, hi := d.WithDefaults().scale()
		r.Value = float64(int64(b[0])%(hi-lo+3) + lo - 1)
	case MomentsFamily, Gauge:
		r.Value = float64(b[0])*1.37 + float64(b[3])/7
		if d.Formula == FormulaCES {
			r.Value = float64(b[0]%9) + float64(b[3]%4)/4 // 0..8.75: mostly on the 1..7 scale
		}
	case Quantile:
		r.Value = math.Exp(float64(b[0])/20)*(1+float64(b[3])/300) - 1
	case RatioOfSums:
		r.Num, r.Den = float64(b[0])*13.1, float64(b[3])*7.7+1
	}
	return r
}

// closeRel reports whether two non-negative-term sums agree within 1e-12
// relative, the tolerance the design allows for different summation orders.
func closeRel(a, b float64) bool {
	return math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

func cellsAgree(what string, a, b Cell) error {
	if a.N != b.N || !closeRel(a.W, b.W) || !closeRel(a.W2, b.W2) {
		return fmt.Errorf("%s: %+v vs %+v", what, a, b)
	}
	return nil
}

// statsAgree compares two Stats: counts and extremes exactly, sums within 1e-12 relative.
func statsAgree(a, b *Stats) error {
	for _, c := range []struct {
		what string
		x, y Cell
	}{{"total", a.Total, b.Total}, {"unrated", a.Unrated, b.Unrated}, {"rejected", a.Rejected, b.Rejected}, {"zero", a.Sketch.Zero, b.Sketch.Zero}} {
		if err := cellsAgree(c.what, c.x, c.y); err != nil {
			return err
		}
	}
	if len(a.Scores) != len(b.Scores) || len(a.Sketch.Buckets) != len(b.Sketch.Buckets) {
		return fmt.Errorf("cells: %d/%d scores, %d/%d buckets", len(a.Scores), len(b.Scores), len(a.Sketch.Buckets), len(b.Sketch.Buckets))
	}
	for k, v := range a.Scores.All() {
		if err := cellsAgree(fmt.Sprintf("score %d", k), v, b.Scores.Get(k)); err != nil {
			return err
		}
	}
	for k, v := range a.Sketch.Buckets {
		if err := cellsAgree(fmt.Sprintf("bucket %d", k), v, b.Sketch.Buckets[k]); err != nil {
			return err
		}
	}
	if a.Total.N > 0 && (a.Moments.Min != b.Moments.Min || a.Moments.Max != b.Moments.Max) {
		return fmt.Errorf("extremes: [%v, %v] vs [%v, %v]", a.Moments.Min, a.Moments.Max, b.Moments.Min, b.Moments.Max)
	}
	for _, p := range [][2]float64{
		{a.Moments.SumWX, b.Moments.SumWX}, {a.Moments.SumWX2, b.Moments.SumWX2},
		{a.Ratio.SumNum, b.Ratio.SumNum}, {a.Ratio.SumDen, b.Ratio.SumDen}, {a.Ratio.SumNum2, b.Ratio.SumNum2},
		{a.Ratio.SumDen2, b.Ratio.SumDen2}, {a.Ratio.SumNumDen, b.Ratio.SumNumDen},
		{a.Moments.SumW2X, b.Moments.SumW2X}, {a.Moments.SumW2X2, b.Moments.SumW2X2}, {a.Ratio.SumW2Num2, b.Ratio.SumW2Num2},
		{a.Ratio.SumW2Den2, b.Ratio.SumW2Den2}, {a.Ratio.SumW2NumDen, b.Ratio.SumW2NumDen},
	} {
		if !closeRel(p[0], p[1]) {
			return fmt.Errorf("sums: %v vs %v", p[0], p[1])
		}
	}
	return clustersAgree(a.Clusters, b.Clusters)
}

// checkShardsMergeToWhole folds rows whole and in shards, then merges the
// shards in three different groupings and orders; every result must agree
// with the whole, and merging must leave its argument untouched.
func checkShardsMergeToWhole(t *testing.T, d Definition, rs []Row, shardOf []int, shards int) {
	t.Helper()
	whole := fold(d, rs)
	parts := make([]*Stats, shards)
	for i := range parts {
		parts[i] = &Stats{}
	}
	for i, r := range rs {
		d.Fold(parts[shardOf[i]], r)
	}
	left := &Stats{}
	for _, p := range parts {
		left.Merge(p)
	}
	right := &Stats{}
	for i := shards - 1; i >= 0; i-- {
		next := parts[i].Clone()
		next.Merge(right)
		right = next
	}
	pairs := &Stats{}
	for i := 0; i < shards; i += 2 {
		pair := parts[i].Clone()
		if i+1 < shards {
			pair.Merge(parts[i+1])
		}
		pairs.Merge(pair)
	}
	for name, got := range map[string]*Stats{"left fold": left, "right fold": right, "pairwise": pairs} {
		if err := statsAgree(got, whole); err != nil {
			t.Fatalf("%s, %s of %d rows in %d shards: %v", d.Formula, name, len(rs), shards, err)
		}
	}
	// Commutativity on the first two shards, and no change to the argument.
	if shards >= 2 {
		before := parts[1].Clone()
		ab, ba := parts[0].Clone(), parts[1].Clone()
		ab.Merge(parts[1])
		ba.Merge(parts[0])
		if err := statsAgree(ab, ba); err != nil {
			t.Fatalf("%s: a+b != b+a: %v", d.Formula, err)
		}
		if err := statsAgree(parts[1], before); err != nil {
			t.Fatalf("%s: Merge changed its argument: %v", d.Formula, err)
		}
	}
	// The estimates agree too.
	we, err1 := Compute(d, whole, 0.95, 1)
	pe, err2 := Compute(d, pairs, 0.95, 1)
	if err1 != nil || err2 != nil || we.N != pe.N || we.Sufficient != pe.Sufficient || !near(we.Value, pe.Value, 1e-9) {
		t.Fatalf("%s: whole %+v (%v), merged %+v (%v)", d.Formula, we, err1, pe, err2)
	}
}

// FuzzMergeShards proves that merging is associative and commutative and
// that any split into shards merges back to the whole. The seed corpus runs
// in plain `go test`; `go test -fuzz FuzzMergeShards ./internal/measure`
// explores further.
func FuzzMergeShards(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range len(fuzzDefinitions) * 3 {
		data := make([]byte, 4*(1+rng.IntN(200))+1)
		for j := range data {
			data[j] = byte(rng.UintN(256))
		}
		f.Add(uint8(i), data)
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(5), []byte{3, 0, 0, 0, 0, 0, 1, 0, 0, 255, 2, 0, 0})
	f.Fuzz(func(t *testing.T, formula uint8, data []byte) {
		d := fuzzDefinitions[int(formula)%len(fuzzDefinitions)]
		shards := 1
		if len(data) > 0 {
			shards = 1 + int(data[0])%6
			data = data[1:]
		}
		var rs []Row
		var shardOf []int
		for i := 0; i+4 <= len(data); i += 4 {
			var b [4]byte
			copy(b[:], data[i:i+4])
			rs = append(rs, decodeRow(d, b))
			shardOf = append(shardOf, int(b[2])%shards)
		}
		checkShardsMergeToWhole(t, d, rs, shardOf, shards)
	})
}

// TestRandomShardsMergeToWhole splits larger data sets at random.
func TestRandomShardsMergeToWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, d := range fuzzDefinitions {
		for range 3 {
			n := 1 + rng.IntN(3000)
			shards := 1 + rng.IntN(16)
			rs := make([]Row, n)
			shardOf := make([]int, n)
			for i := range rs {
				var b [4]byte
				for j := range b {
					b[j] = byte(rng.UintN(256))
				}
				rs[i] = decodeRow(d, b)
				shardOf[i] = rng.IntN(shards)
			}
			checkShardsMergeToWhole(t, d, rs, shardOf, shards)
		}
	}
}

func TestOverallOfSegments(t *testing.T) {
	d := Definition{Formula: FormulaNPS}
	segments := map[string]*Stats{
		"region=emea": fold(d, rows(10, 9, 0)),
		"region=amer": fold(d, rows(8, 6, unrated)),
		"region=apac": {},
	}
	all := Overall(segments)
	if err := statsAgree(all, fold(d, rows(10, 9, 0, 8, 6, unrated))); err != nil {
		t.Error(err)
	}
	if segments["region=emea"].Total.N != 3 {
		t.Error("Overall changed a segment")
	}
}

func TestMergeNilAndEmpty(t *testing.T) {
	d := Definition{Formula: FormulaCES}
	s := fold(d, rows(3, 5))
	s.Merge(nil)
	s.Merge(&Stats{})
	if s.Total.N != 2 || s.Moments.Min != 3 || s.Moments.Max != 5 {
		t.Errorf("%+v", s)
	}
	e := &Stats{}
	e.Merge(s)
	if e.Moments.Min != 3 || e.Moments.Max != 5 {
		t.Errorf("empty merged with data: %+v", e.Moments)
	}
}
