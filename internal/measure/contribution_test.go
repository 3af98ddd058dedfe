package measure

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestContributionsByHand(t *testing.T) {
	fourHours := 14400.0
	cases := []struct {
		name               string
		def                Definition
		rows               []Row
		n                  int64
		sumWX, sumWX2, val float64
	}{
		// +100, +100, 0, −100, −100
		{"nps", Definition{Formula: FormulaNPS}, rows(10, 9, 8, 0, 6), 5, 0, 4e4, 0},
		// unrated counts as −100
		{"nps unrated as detractor", Definition{Formula: FormulaNPS, Unrated: UnratedCountAsNegative}, rows(10, 9, unrated), 3, 100, 3e4, 100.0 / 3},
		{"csat", Definition{Formula: FormulaCSAT}, rows(5, 4, 3, 1), 4, 200, 2e4, 50},
		{"rate", Definition{Formula: FormulaRate}, rows(1, 0, 0, 0), 4, 100, 1e4, 25},
		{"ces", Definition{Formula: FormulaCES}, rows(7, 5, 6), 3, 18, 110, 6},
		// 20000 and 15000 are over four hours; 14400 is not
		{"share over four hours", Definition{Formula: FormulaPercentile, Percentile: 90, ShareOver: &fourHours}, rows(100, 20000, 15000, 14400, 3600), 5, 200, 2e4, 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := fold(c.def, c.rows)
			got, err := Contributions(c.def, s)
			if err != nil {
				t.Fatal(err)
			}
			if got.Units.N != c.n || got.SumWX != c.sumWX || got.SumWX2 != c.sumWX2 {
				t.Errorf("got %+v, want n %d Σx %v Σx² %v", got, c.n, c.sumWX, c.sumWX2)
			}
			assertNear(t, "mean", got.Mean(), c.val, 1e-12)
			// Row by row gives the same sums.
			var byRow Contribution
			for _, r := range c.rows {
				if x, w, ok := c.def.UnitContribution(r); ok {
					byRow.Units.Add(w)
					byRow.SumWX += w * x
					byRow.SumWX2 += w * x * x
					byRow.SumW2X += w * w * x
					byRow.SumW2X2 += w * w * x * x
				}
			}
			if byRow != got {
				t.Errorf("row by row %+v, from stats %+v", byRow, got)
			}
		})
	}
}

func TestContributionMeanIsTheValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []Definition{{Formula: FormulaNPS}, {Formula: FormulaCSAT}, {Formula: FormulaRate}, {Formula: FormulaCES}} {
		lo, hi := d.WithDefaults().scale()
		var s Stats
		for range 500 {
			d.Fold(&s, Row{Value: float64(lo + rng.Int64N(hi-lo+1)), Valid: true, Weight: 0.5 + rng.Float64()})
		}
		e, _ := Compute(d, &s, 0.95, 30)
		c, err := Contributions(d, &s)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, d.Formula, c.Mean(), e.Value, 1e-9)
		if c.Units.EffectiveN() != e.NEff {
			t.Errorf("%s: units n_eff %v, estimate %v", d.Formula, c.Units.EffectiveN(), e.NEff)
		}
	}
}

func TestShareOverFromSketchOnly(t *testing.T) {
	// A source that filled only the sketch gets the share from its buckets.
	threshold := 14400.0
	d := Definition{Formula: FormulaPercentile, Percentile: 50, ShareOver: &threshold}
	var s Stats
	for _, x := range []float64{0, 100, 20000, 15000, 14400, 3600, 90000} {
		s.Sketch.Add(x, 1)
		s.Total.Add(1)
	}
	c, err := Contributions(d, &s)
	if err != nil {
		t.Fatal(err)
	}
	if c.Units.N != 7 || c.SumWX != 300 {
		t.Errorf("got %+v, want 3 of 7 over", c)
	}
}

func TestFormulasWithoutUnits(t *testing.T) {
	for _, d := range []Definition{
		{Formula: FormulaRatio}, {Formula: FormulaSum}, {Formula: FormulaCount}, {Formula: FormulaValue},
		{Formula: FormulaDerived, Expression: "a"}, {Formula: FormulaPercentile, Percentile: 50},
	} {
		if err := HasUnits(d); !errors.Is(err, ErrNoUnits) {
			t.Errorf("%s: %v", d.Formula, err)
		}
		if _, err := Contributions(d, &Stats{}); !errors.Is(err, ErrNoUnits) {
			t.Errorf("%s: %v", d.Formula, err)
		}
		if _, _, ok := d.UnitContribution(Row{Value: 1, Valid: true, Num: 1, Den: 1}); ok {
			t.Errorf("%s: a row contributed", d.Formula)
		}
	}
}
