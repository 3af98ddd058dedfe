package measure

import (
	"math"
	"testing"
)

// The tests in this file compare measure with an independent implementation:
// the values in statsref_values_test.go were produced by
// hack/statsref/statsref.py with scipy and statsmodels.

// near reports whether got is within tol of want, absolutely or relatively.
func near(got, want, tol float64) bool {
	d := math.Abs(got - want)
	return d <= tol || d <= tol*math.Abs(want)
}

func assertNear(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !near(got, want, tol) {
		t.Errorf("%s = %.15g, want %.15g (tolerance %g)", what, got, want, tol)
	}
}

// scoreStats folds count units of each score under d.
func scoreStats(d Definition, counts map[int64]int64) *Stats {
	var s Stats
	for k, n := range counts {
		for range n {
			d.Fold(&s, Row{Value: float64(k), Valid: true})
		}
	}
	return &s
}

// valueStats folds the values (with weights when given) under d.
func valueStats(d Definition, values, weights []float64) *Stats {
	var s Stats
	for i, x := range values {
		r := Row{Value: x, Valid: true}
		if weights != nil {
			r.Weight = weights[i]
		}
		d.Fold(&s, r)
	}
	return &s
}

func TestNPSMatchesReference(t *testing.T) {
	d := Definition{Formula: FormulaNPS}
	for _, c := range refNPS {
		s := scoreStats(d, map[int64]int64{10: c.Promoters, 8: c.Passives, 3: c.Detractors})
		e, err := Compute(d, s, c.Confidence, 1)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, "value", e.Value, c.Value, 1e-9)
		assertNear(t, "lower", e.Lower, c.Lower, 1e-9)
		assertNear(t, "upper", e.Upper, c.Upper, 1e-9)
		assertNear(t, "stderr", e.StdErr, c.StdErr, 1e-9)
	}
}

func TestWeightedNPSMatchesReference(t *testing.T) {
	d := Definition{Formula: FormulaNPS}
	c := refNPSWeighted
	e, err := Compute(d, valueStats(d, c.Scores, c.Weights), c.Confidence, 30)
	if err != nil {
		t.Fatal(err)
	}
	if e.N != int64(len(c.Scores)) {
		t.Errorf("N = %d, want %d", e.N, len(c.Scores))
	}
	assertNear(t, "nEff", e.NEff, c.NEff, 1e-9)
	assertNear(t, "value", e.Value, c.Value, 1e-9)
	assertNear(t, "lower", e.Lower, c.Lower, 1e-9)
	assertNear(t, "upper", e.Upper, c.Upper, 1e-9)
}

func TestWilsonMatchesStatsmodels(t *testing.T) {
	d := Definition{Formula: FormulaRate}
	for _, c := range refWilson {
		s := scoreStats(d, map[int64]int64{1: c.Successes, 0: c.N - c.Successes})
		e, err := Compute(d, s, c.Confidence, 1)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, "value", e.Value, 100*float64(c.Successes)/float64(c.N), 1e-12)
		assertNear(t, "lower", e.Lower, 100*c.Lower, 1e-9)
		assertNear(t, "upper", e.Upper, 100*c.Upper, 1e-9)
	}
}

func TestMeanMatchesStatsmodels(t *testing.T) {
	d := Definition{Formula: FormulaMean}
	for _, c := range refMeans {
		e, err := Compute(d, valueStats(d, c.Values, nil), c.Confidence, 2)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, c.Name+" mean", e.Value, c.Mean, 1e-12)
		assertNear(t, c.Name+" lower", e.Lower, c.Lower, 1e-9)
		assertNear(t, c.Name+" upper", e.Upper, c.Upper, 1e-9)
		if e.DF != float64(len(c.Values)-1) {
			t.Errorf("%s: df = %v, want %d", c.Name, e.DF, len(c.Values)-1)
		}
	}
}

func TestWeightedMeanMatchesReference(t *testing.T) {
	d := Definition{Formula: FormulaCES}
	c := refWeightedMean
	e, err := Compute(d, valueStats(d, c.Values, c.Weights), c.Confidence, 30)
	if err != nil {
		t.Fatal(err)
	}
	assertNear(t, "nEff", e.NEff, c.NEff, 1e-12)
	assertNear(t, "mean", e.Value, c.Mean, 1e-12)
	assertNear(t, "lower", e.Lower, c.Lower, 1e-9)
	assertNear(t, "upper", e.Upper, c.Upper, 1e-9)
}

func TestOrderStatisticRanksMatchScipy(t *testing.T) {
	for _, c := range refRanks {
		r, s, ok := orderStatisticRanks(c.N, c.Q, c.Confidence)
		if !ok || r != c.R || s != c.S {
			t.Errorf("n=%v q=%v conf=%v: ranks (%v, %v, %v), want (%v, %v)", c.N, c.Q, c.Confidence, r, s, ok, c.R, c.S)
		}
	}
}

func TestQuantileMatchesExactWithinSketchBound(t *testing.T) {
	a := SketchRelativeAccuracy
	for _, c := range refQuantiles {
		d := Definition{Formula: FormulaPercentile, Percentile: c.Percentile}
		e, err := Compute(d, valueStats(d, c.Values, nil), c.Confidence, 30)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Sufficient {
			t.Fatalf("p%v of %d values insufficient", c.Percentile, len(c.Values))
		}
		if math.Abs(e.Value-c.Exact) > a*c.Exact {
			t.Errorf("p%v = %v, exact %v: beyond the %v relative bound", c.Percentile, e.Value, c.Exact, a)
		}
		// The bounds contain the exact order statistics and are at most the
		// sketch's error wider on each side.
		if !(e.Lower <= c.OrderLower && e.Lower >= c.OrderLower*(1-a)/(1+a)) {
			t.Errorf("p%v lower %v, order statistic %v", c.Percentile, e.Lower, c.OrderLower)
		}
		if !(e.Upper >= c.OrderUpper && e.Upper <= c.OrderUpper*(1+a)/(1-a)) {
			t.Errorf("p%v upper %v, order statistic %v", c.Percentile, e.Upper, c.OrderUpper)
		}
	}
}

func TestRatioMatchesDeltaReference(t *testing.T) {
	d := Definition{Formula: FormulaRatio}
	c := refRatio
	var s Stats
	for i := range c.Num {
		d.Fold(&s, Row{Valid: true, Num: c.Num[i], Den: c.Den[i]})
	}
	e, err := Compute(d, &s, c.Confidence, 30)
	if err != nil {
		t.Fatal(err)
	}
	assertNear(t, "value", e.Value, c.Value, 1e-12)
	assertNear(t, "stderr", e.StdErr, c.StdErr, 1e-8)
	assertNear(t, "lower", e.Lower, c.Lower, 1e-9)
	assertNear(t, "upper", e.Upper, c.Upper, 1e-9)
}
