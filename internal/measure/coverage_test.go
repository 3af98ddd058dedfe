package measure

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestIntervalsCoverTheTruth draws many samples from known populations and
// counts how often each 95 % interval contains the true value. The seeds are
// fixed, so the test is deterministic; the bounds allow for the simulation's
// own error (±1.4 points at 2,000 draws).
func TestIntervalsCoverTheTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	const draws = 2000
	type population struct {
		name  string
		def   Definition
		n     int
		draw  func(*rand.Rand) Row
		truth float64
		// lo is the least acceptable coverage; distribution-free and
		// discrete intervals are conservative, so only the floor matters.
		lo, hi float64
	}
	pops := []population{
		{"nps 45/40/15 on 100", Definition{Formula: FormulaNPS}, 100, func(r *rand.Rand) Row {
			u := r.Float64()
			switch {
			case u < 0.45:
				return Row{Value: 10, Valid: true}
			case u < 0.85:
				return Row{Value: 8, Valid: true}
			}
			return Row{Value: 3, Valid: true}
		}, 30, 0.93, 0.975},
		{"nps weighted by revenue on 150", Definition{Formula: FormulaNPS}, 150, func(r *rand.Rand) Row {
			w := math.Exp(r.NormFloat64())
			u := r.Float64()
			switch {
			case u < 0.45:
				return Row{Value: 9, Valid: true, Weight: w}
			case u < 0.85:
				return Row{Value: 7, Valid: true, Weight: w}
			}
			return Row{Value: 0, Valid: true, Weight: w}
		}, 30, 0.93, 0.975},
		{"csat 80 % on 50", Definition{Formula: FormulaRate}, 50, func(r *rand.Rand) Row {
			if r.Float64() < 0.8 {
				return Row{Value: 1, Valid: true}
			}
			return Row{Value: 0, Valid: true}
		}, 80, 0.93, 0.975},
		{"ces normal on 40", Definition{Formula: FormulaCES}, 40, func(r *rand.Rand) Row {
			return Row{Value: 5 + r.NormFloat64(), Valid: true}
		}, 5, 0.935, 0.965},
		{"median of exponential on 101", Definition{Formula: FormulaPercentile, Percentile: 50}, 101, func(r *rand.Rand) Row {
			return Row{Value: r.ExpFloat64() * 3600, Valid: true}
		}, 3600 * math.Ln2, 0.94, 1},
		{"nrr on 200 accounts", Definition{Formula: FormulaRatio}, 200, func(r *rand.Rand) Row {
			start := 1000 + 9000*r.Float64()
			return Row{Valid: true, Den: start, Num: start * (0.85 + 0.3*r.Float64())}
		}, 1.0, 0.93, 0.97},
	}
	rng := rand.New(rand.NewPCG(42, 42))
	for _, p := range pops {
		covered := 0
		for range draws {
			var s Stats
			for range p.n {
				p.def.Fold(&s, p.draw(rng))
			}
			e, err := Compute(p.def, &s, 0.95, 1)
			if err != nil || !e.Sufficient {
				t.Fatalf("%s: %+v %v", p.name, e, err)
			}
			if e.Lower <= p.truth && p.truth <= e.Upper {
				covered++
			}
		}
		c := float64(covered) / draws
		if c < p.lo || c > p.hi {
			t.Errorf("%s: coverage %.3f, want within [%.3f, %.3f]", p.name, c, p.lo, p.hi)
		} else {
			t.Logf("%s: coverage %.3f", p.name, c)
		}
	}
}
