package measure

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkFold measures folding one row into each statistic; ns/op is ns
// per row. Run: go test -run '^$' -bench Fold ./internal/measure
func BenchmarkFold(b *testing.B) {
	fourHours := 14400.0
	cases := []struct {
		name string
		def  Definition
		row  func(*rand.Rand) Row
	}{
		{"nps", Definition{Formula: FormulaNPS}, func(r *rand.Rand) Row { return Row{Value: float64(r.IntN(11)), Valid: true} }},
		{"nps-weighted", Definition{Formula: FormulaNPS}, func(r *rand.Rand) Row {
			return Row{Value: float64(r.IntN(11)), Valid: true, Weight: 0.5 + r.Float64()}
		}},
		{"csat", Definition{Formula: FormulaCSAT}, func(r *rand.Rand) Row { return Row{Value: float64(1 + r.IntN(5)), Valid: true} }},
		{"rate", Definition{Formula: FormulaRate}, func(r *rand.Rand) Row { return Row{Value: float64(r.IntN(2)), Valid: true} }},
		{"ces", Definition{Formula: FormulaCES}, func(r *rand.Rand) Row { return Row{Value: float64(1 + r.IntN(7)), Valid: true} }},
		{"percentile", Definition{Formula: FormulaPercentile, Percentile: 90}, func(r *rand.Rand) Row {
			return Row{Value: r.ExpFloat64() * 3600, Valid: true}
		}},
		{"percentile-share-over", Definition{Formula: FormulaPercentile, Percentile: 90, ShareOver: &fourHours}, func(r *rand.Rand) Row {
			return Row{Value: r.ExpFloat64() * 3600, Valid: true}
		}},
		{"ratio", Definition{Formula: FormulaRatio}, func(r *rand.Rand) Row {
			start := 1000 + 9000*r.Float64()
			return Row{Valid: true, Den: start, Num: start * (0.8 + 0.4*r.Float64())}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			rs := make([]Row, 4096)
			for i := range rs {
				rs[i] = c.row(rng)
			}
			var s Stats
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				c.def.Fold(&s, rs[i&4095])
			}
		})
	}
}

// BenchmarkMergeSketch measures merging two response-time sketches of
// 10,000 values each, the cost of combining shards or time slices.
func BenchmarkMergeSketch(b *testing.B) {
	d := Definition{Formula: FormulaPercentile, Percentile: 90}
	rng := rand.New(rand.NewPCG(2, 2))
	var x, y Stats
	for range 10000 {
		d.Fold(&x, Row{Value: rng.ExpFloat64() * 3600, Valid: true})
		d.Fold(&y, Row{Value: rng.ExpFloat64() * 3600, Valid: true})
	}
	b.ReportAllocs()
	for b.Loop() {
		s := x.Clone()
		s.Merge(&y)
	}
}

// BenchmarkComputePercentile measures the value and order-statistics
// interval of a p90 over 10,000 values.
func BenchmarkComputePercentile(b *testing.B) {
	d := Definition{Formula: FormulaPercentile, Percentile: 90}
	rng := rand.New(rand.NewPCG(3, 3))
	var s Stats
	for range 10000 {
		d.Fold(&s, Row{Value: rng.ExpFloat64() * 3600, Valid: true})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(d, &s, 0.95, 30); err != nil {
			b.Fatal(err)
		}
	}
}
