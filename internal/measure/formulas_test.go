package measure

import (
	"errors"
	"math"
	"testing"
)

// rows builds valid unweighted rows from values; NaN stands for an unrated unit.
func rows(values ...float64) []Row {
	out := make([]Row, len(values))
	for i, v := range values {
		out[i] = Row{Value: v, Valid: !math.IsNaN(v)}
	}
	return out
}

func fold(d Definition, rs []Row) *Stats {
	var s Stats
	for _, r := range rs {
		d.Fold(&s, r)
	}
	return &s
}

var unrated = math.NaN()

// TestFormulaValues checks every formula against values computed by hand.
func TestFormulaValues(t *testing.T) {
	top := int64(5)
	cases := []struct {
		name     string
		def      Definition
		rows     []Row
		value    float64
		n        int64
		rejected int64
	}{
		// promoters 10,10,9,9,10; passives 8,7; detractors 6,0,3: 100(5−3)/10
		{"nps", Definition{Formula: FormulaNPS}, rows(10, 10, 9, 8, 7, 6, 0, 3, 9, 10), 20, 10, 0},
		{"nps unrated excluded", Definition{Formula: FormulaNPS}, rows(10, 10, 9, 8, 7, 6, 0, 3, 9, 10, unrated, unrated), 20, 10, 0},
		// 5 promoters, 3+2 detractors of 12
		{"nps unrated as detractors", Definition{Formula: FormulaNPS, Unrated: UnratedCountAsNegative}, rows(10, 10, 9, 8, 7, 6, 0, 3, 9, 10, unrated, unrated), 0, 12, 0},
		{"nps off scale rejected", Definition{Formula: FormulaNPS}, rows(10, 11, -1, 9.5, 0), 0, 2, 3},
		// top-2 of 1..5: 5,4,5,4,4 of 8
		{"csat top-2", Definition{Formula: FormulaCSAT}, rows(5, 4, 3, 2, 1, 5, 4, 4), 62.5, 8, 0},
		{"csat top-box", Definition{Formula: FormulaCSAT, SatisfiedMin: top}, rows(5, 4, 3, 2, 1, 5, 4, 4), 25, 8, 0},
		{"csat 1..3 top-box by default", Definition{Formula: FormulaCSAT, ScaleMin: 1, ScaleMax: 3}, rows(3, 3, 2, 1), 50, 4, 0},
		{"csat 1..7 top-2", Definition{Formula: FormulaCSAT, ScaleMin: 1, ScaleMax: 7}, rows(7, 6, 5, 4, 7, 1), 50, 6, 0},
		{"csat 1..10 top-2", Definition{Formula: FormulaCSAT, ScaleMin: 1, ScaleMax: 10}, rows(10, 9, 8, 7, 10), 60, 5, 0},
		{"csat off scale", Definition{Formula: FormulaCSAT}, rows(6, 0, 4.5, 4), 100, 1, 3},
		{"csat unrated as not satisfied", Definition{Formula: FormulaCSAT, Unrated: UnratedCountAsNegative}, rows(5, 4, 1, unrated, unrated), 40, 5, 0},
		{"rate fcr", Definition{Formula: FormulaRate}, rows(1, 1, 0, 1), 75, 4, 0},
		{"rate not 0/1", Definition{Formula: FormulaRate}, rows(1, 2, 0.5, 0), 50, 2, 2},
		{"ces mean", Definition{Formula: FormulaCES}, rows(7, 6, 5, 6, 6), 6, 5, 0},
		{"ces off its 1..7 scale", Definition{Formula: FormulaCES}, rows(7, 8, 0, 5), 6, 2, 2},
		{"ces on 1..5", Definition{Formula: FormulaCES, ScaleMin: 1, ScaleMax: 5}, rows(5, 6, 1), 3, 2, 1},
		{"mean has no scale", Definition{Formula: FormulaMean}, rows(70, -2), 34, 2, 0},
		{"mean skips unrated", Definition{Formula: FormulaMean}, rows(2, 4, unrated), 3, 2, 0},
		{"sum", Definition{Formula: FormulaSum}, rows(100.5, 200, 50), 350.5, 3, 0},
		{"count", Definition{Formula: FormulaCount}, rows(100.5, 200, 50, unrated), 3, 3, 0},
		{"gauge", Definition{Formula: FormulaValue}, rows(42), 42, 1, 0},
		{"gauge rejects NaN weight", Definition{Formula: FormulaValue}, []Row{{Value: 1, Valid: true, Weight: math.NaN()}, {Value: 3, Valid: true}}, 3, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := fold(c.def, c.rows)
			e, err := Compute(c.def, s, 0.95, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !e.Sufficient {
				t.Fatalf("insufficient: %+v", e)
			}
			assertNear(t, "value", e.Value, c.value, 1e-12)
			if e.N != c.n || e.Rejected != c.rejected {
				t.Errorf("n = %d, rejected = %d; want %d, %d", e.N, e.Rejected, c.n, c.rejected)
			}
			if e.Hash != c.def.Hash() {
				t.Errorf("estimate hash %s, definition %s", e.Hash, c.def.Hash())
			}
			if e.Lower > e.Value || e.Upper < e.Value {
				t.Errorf("interval [%v, %v] misses value %v", e.Lower, e.Upper, e.Value)
			}
		})
	}
}

func TestMeanIntervalByHand(t *testing.T) {
	// 7,6,5,6,6: mean 6, Σ(x−m)² = 2, s² = 0.5, se = sqrt(0.1); t(0.975, 4) = 2.7764451051977987.
	d := Definition{Formula: FormulaCES}
	e, err := Compute(d, fold(d, rows(7, 6, 5, 6, 6)), 0.95, 5)
	if err != nil {
		t.Fatal(err)
	}
	half := 2.7764451051977987 * math.Sqrt(0.1)
	assertNear(t, "stderr", e.StdErr, math.Sqrt(0.1), 1e-12)
	assertNear(t, "lower", e.Lower, 6-half, 1e-12)
	assertNear(t, "upper", e.Upper, 6+half, 1e-12)
	if e.Method != MethodStudentT || e.DF != 4 {
		t.Errorf("method %s df %v", e.Method, e.DF)
	}
}

func TestWilsonByHand(t *testing.T) {
	// 8 of 10 at z = 1.959963984540054: centre (0.8 + z²/20)/(1 + z²/10).
	z := 1.959963984540054
	centre := (0.8 + z*z/20) / (1 + z*z/10)
	half := z * math.Sqrt(0.8*0.2/10+z*z/400) / (1 + z*z/10)
	d := Definition{Formula: FormulaRate}
	e, _ := Compute(d, fold(d, rows(1, 1, 1, 1, 1, 1, 1, 1, 0, 0)), 0.95, 10)
	assertNear(t, "lower", e.Lower, 100*(centre-half), 1e-12)
	assertNear(t, "upper", e.Upper, 100*(centre+half), 1e-12)
}

func TestPercentileValues(t *testing.T) {
	var oneTo100 []float64
	for i := 1; i <= 100; i++ {
		oneTo100 = append(oneTo100, float64(i))
	}
	d := Definition{Formula: FormulaPercentile, Percentile: 50}
	e, err := Compute(d, valueStats(d, oneTo100, nil), 0.95, 30)
	if err != nil || !e.Sufficient {
		t.Fatalf("%+v %v", e, err)
	}
	if math.Abs(e.Value-50) > 0.5 {
		t.Errorf("median of 1..100 = %v, want 50 within 1 %%", e.Value)
	}
	// Order statistics of the median of 100 at 95 %: X(40) and X(61).
	if !(e.Lower <= 40 && e.Lower >= 40*0.99/1.01 && e.Upper >= 61 && e.Upper <= 61*1.01/0.99) {
		t.Errorf("interval [%v, %v], want about [40, 61]", e.Lower, e.Upper)
	}
	// Instant answers are zeros and read back as 0.
	z, _ := Compute(d, valueStats(d, []float64{0, 0, 0, 5}, nil), 0.95, 1)
	if z.Sufficient {
		t.Errorf("four values cannot bound a median at 95 %%: %+v", z)
	}
	var s Stats
	for range 30 {
		d.Fold(&s, Row{Value: 0, Valid: true})
	}
	for range 10 {
		d.Fold(&s, Row{Value: 5, Valid: true})
	}
	z, _ = Compute(d, &s, 0.95, 1)
	if !z.Sufficient || z.Value != 0 || z.Lower != 0 {
		t.Errorf("median of mostly zeros: %+v", z)
	}
}

func TestQuantileMinimumSizes(t *testing.T) {
	// The sizes doc.go promises: the smallest n whose order statistics
	// bound the quantile at 95 %.
	for _, c := range []struct{ q, n float64 }{{0.5, 6}, {0.9, 36}, {0.95, 72}, {0.99, 368}} {
		if _, _, ok := orderStatisticRanks(c.n-1, c.q, 0.95); ok {
			t.Errorf("q %v bounded from %v units", c.q, c.n-1)
		}
		if _, _, ok := orderStatisticRanks(c.n, c.q, 0.95); !ok {
			t.Errorf("q %v not bounded from %v units", c.q, c.n)
		}
	}
}

func TestRevenueRatios(t *testing.T) {
	accounts := []RevenueMovement{
		{Starting: 100, Expansion: 20},
		{Starting: 200, Contraction: 50},
		{Starting: 100, Churned: 100},
	}
	for _, c := range []struct {
		kind RevenueRatio
		want float64
	}{{NRR, 270.0 / 400}, {GRR, 250.0 / 400}, {ExpansionRate, 20.0 / 400}, {ContractionRate, 50.0 / 400}, {ChurnedRevenueRate, 100.0 / 400}} {
		d := Definition{Formula: FormulaRatio}
		var s Stats
		for _, a := range accounts {
			d.Fold(&s, a.Row(c.kind))
		}
		e, err := Compute(d, &s, 0.95, 2)
		if err != nil || !e.Sufficient {
			t.Fatalf("%s: %+v %v", c.kind, e, err)
		}
		assertNear(t, string(c.kind), e.Value, c.want, 1e-12)
	}
	d := Definition{Formula: FormulaRatio}
	s := fold(d, []Row{CoverageRow(100, true), CoverageRow(300, false), CoverageRow(600, true)})
	e, _ := Compute(d, s, 0.95, 2)
	assertNear(t, "coverage", e.Value, 0.7, 1e-12)
	if (RevenueMovement{Starting: 1}).Row("ARR").Valid {
		t.Error("unknown revenue ratio should give an unrated row")
	}
}

func TestInsufficientDataNeverLooksFinal(t *testing.T) {
	nps := Definition{Formula: FormulaNPS}
	many := make([]Row, 40)
	for i := range many {
		many[i] = Row{Value: 10, Valid: true}
	}
	heavy := append([]Row(nil), many...)
	heavy[0].Weight = 10 // Σw = 49, Σw² = 139: n_eff ≈ 17.3
	cases := []struct {
		name string
		def  Definition
		rows []Row
		min  int64
	}{
		{"below minimum", nps, many[:29], 30},
		{"weights shrink n_eff", nps, heavy, 30},
		{"empty", nps, nil, 1},
		{"one value has no variance", Definition{Formula: FormulaCES}, rows(5), 1},
		{"p90 of 30 cannot be bounded", Definition{Formula: FormulaPercentile, Percentile: 90}, rows(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30), 30},
		{"ratio over zero", Definition{Formula: FormulaRatio}, []Row{{Valid: true, Num: 1}, {Valid: true, Num: 2}}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := Compute(c.def, fold(c.def, c.rows), 0.95, c.min)
			if err != nil {
				t.Fatal(err)
			}
			if e.Sufficient || e.Value != 0 || e.Lower != 0 || e.Upper != 0 || e.StdErr != 0 {
				t.Errorf("got %+v, want an insufficient estimate without numbers", e)
			}
			if st, _ := (Objective{Direction: AtLeast, Target: 0}).Evaluate(e); st != StateInsufficientData {
				t.Errorf("state %s", st)
			}
		})
	}
}

func TestComputeErrors(t *testing.T) {
	var s Stats
	var defErr *DefinitionError
	if _, err := Compute(Definition{Formula: FormulaNPS}, &s, 1, 1); !errors.Is(err, ErrConfidence) {
		t.Errorf("confidence 1: %v", err)
	}
	if _, err := Compute(Definition{Formula: "median"}, &s, 0.95, 1); !errors.As(err, &defErr) || defErr.Field != "formula" {
		t.Errorf("unknown formula: %v", err)
	}
	if _, err := Compute(Definition{Formula: FormulaCES, Unrated: UnratedCountAsNegative}, &s, 0.95, 1); !errors.As(err, &defErr) || defErr.Field != "unrated" {
		t.Errorf("CountAsNegative on a mean: %v", err)
	}
	if _, err := Compute(Definition{Formula: FormulaDerived, Expression: "a"}, &s, 0.95, 1); !errors.Is(err, ErrNeedsInputs) {
		t.Errorf("derived: %v", err)
	}
	if _, err := Compute(Definition{Formula: FormulaPercentile}, &s, 0.95, 1); !errors.As(err, &defErr) || defErr.Field != "percentile" {
		t.Errorf("percentile 0: %v", err)
	}
	if _, err := Compute(Definition{Formula: FormulaCSAT, SatisfiedMin: 1}, &s, 0.95, 1); !errors.As(err, &defErr) {
		t.Errorf("everyone satisfied: %v", err)
	}
}
