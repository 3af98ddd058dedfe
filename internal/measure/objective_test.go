package measure

import (
	"errors"
	"testing"
)

func est(value, lower, upper float64) Estimate {
	return Estimate{Value: value, Lower: lower, Upper: upper, Sufficient: true, Hash: "h"}
}

func ptr(v float64) *float64 { return &v }

func TestObjectiveStates(t *testing.T) {
	npsTarget := Objective{Direction: AtLeast, Target: 30, WarningAt: ptr(35)}
	responseTime := Objective{Direction: AtMost, Target: 3600, WarningAt: ptr(3000)}
	cases := []struct {
		name string
		obj  Objective
		e    Estimate
		want State
	}{
		{"clear of target and band", npsTarget, est(40, 32, 48), StateMet},
		{"clear of target, inside band", npsTarget, est(33, 31, 35), StateWarning},
		{"lower bound on the target is the good side", npsTarget, est(34, 30, 38), StateWarning},
		{"straddles, point below", npsTarget, est(28, 22, 34), StateInconclusive},
		{"straddles, point above", npsTarget, est(31, 25, 37), StateInconclusive},
		{"upper bound on the target is not a breach", npsTarget, est(25, 20, 30), StateInconclusive},
		{"whole interval below", npsTarget, est(20, 15, 29), StateBreached},
		{"insufficient", npsTarget, Estimate{}, StateInsufficientData},
		{"no band", Objective{Direction: AtLeast, Target: 30}, est(31, 30.5, 31.5), StateMet},
		{"at most, met", responseTime, est(2500, 2000, 2900), StateMet},
		{"at most, warning", responseTime, est(3200, 3000, 3500), StateWarning},
		{"at most, inconclusive", responseTime, est(3500, 3000, 4000), StateInconclusive},
		{"at most, breached", responseTime, est(4200, 3700, 4700), StateBreached},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.obj.Evaluate(c.e)
			if err != nil || got != c.want {
				t.Errorf("got %s (%v), want %s", got, err, c.want)
			}
		})
	}
}

func TestObjectiveValidation(t *testing.T) {
	if _, err := (Objective{Direction: "Above", Target: 1}).Evaluate(est(1, 0, 2)); !errors.Is(err, ErrDirection) {
		t.Errorf("bad direction: %v", err)
	}
	if err := (Objective{Direction: AtLeast, Target: 30, WarningAt: ptr(25)}).Validate(); err == nil {
		t.Error("a warning band below an AtLeast target should be refused")
	}
	if err := (Objective{Direction: AtMost, Target: 30, WarningAt: ptr(35)}).Validate(); err == nil {
		t.Error("a warning band above an AtMost target should be refused")
	}
}

func TestCompareToBaselineStates(t *testing.T) {
	ces := func(v float64) Estimate {
		return Estimate{Value: v, StdErr: 0.05, DF: 100, Sufficient: true, Hash: "ces"}
	}
	rate := func(v float64) Estimate { return Estimate{Value: v, StdErr: 1, Sufficient: true, Hash: "r"} }
	cesDrop := RelativeObjective{Direction: AtLeast, MaxChange: 0.3}
	cesDropWarn := RelativeObjective{Direction: AtLeast, MaxChange: 0.3, WarningChange: ptr(0.05)}
	reopenRise := RelativeObjective{Direction: AtMost, MaxChange: 2}
	cases := []struct {
		name      string
		formula   string
		cur, base Estimate
		obj       RelativeObjective
		want      State
	}{
		// difference −0.5 ± ~0.14: wholly beyond −0.3
		{"significant drop beyond the allowed change", FormulaCES, ces(5.0), ces(5.5), cesDrop, StateBreached},
		{"drop straddling the allowed change", FormulaCES, ces(5.25), ces(5.5), cesDrop, StateInconclusive},
		{"small drop", FormulaCES, ces(5.4), ces(5.5), cesDrop, StateMet},
		{"small drop inside the warning change", FormulaCES, ces(5.4), ces(5.5), cesDropWarn, StateWarning},
		{"improvement", FormulaCES, ces(5.9), ces(5.5), cesDropWarn, StateMet},
		// 5 ± 2.77 points: wholly above +2
		{"reopen rate rose", FormulaRate, rate(15), rate(10), reopenRise, StateBreached},
		{"reopen rate fell", FormulaRate, rate(7), rate(10), reopenRise, StateMet},
		{"insufficient baseline", FormulaRate, rate(15), Estimate{Hash: "r"}, reopenRise, StateInsufficientData},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CompareToBaseline(c.formula, c.cur, c.base, c.obj, 0.95)
			if err != nil || got.State != c.want {
				t.Errorf("got %s (%v), want %s: %+v", got.State, err, c.want, got)
			}
			breachedByP := got.PValue < 0.025
			if got.State != StateInsufficientData && breachedByP != (got.State == StateBreached) {
				t.Errorf("p-value %v disagrees with state %s", got.PValue, got.State)
			}
		})
	}
}

func TestCompareToBaselineRefusesMixedDefinitions(t *testing.T) {
	a := Estimate{Value: 1, Sufficient: true, Hash: "a"}
	b := Estimate{Value: 1, Sufficient: true, Hash: "b"}
	if _, err := CompareToBaseline(FormulaNPS, a, b, RelativeObjective{Direction: AtLeast, MaxChange: 5}, 0.95); !errors.Is(err, ErrDefinitionMismatch) {
		t.Errorf("got %v", err)
	}
	if _, err := CompareToBaseline(FormulaNPS, a, a, RelativeObjective{Direction: AtLeast, MaxChange: -1}, 0.95); err == nil {
		t.Error("negative max change accepted")
	}
	if _, err := CompareToBaseline(FormulaNPS, a, a, RelativeObjective{Direction: AtLeast, MaxChange: 1, WarningChange: ptr(2)}, 0.95); err == nil {
		t.Error("warning change beyond max change accepted")
	}
}

func TestCompareStatsNPSFallsBelowLastQuarter(t *testing.T) {
	// Last quarter 45/40/15 (NPS 30) on 1,000; now 38/40/22 (NPS 16) on 1,000:
	// a 14-point fall, far more than the 5 allowed.
	d := Definition{Formula: FormulaNPS}
	base := scoreStats(d, map[int64]int64{10: 450, 8: 400, 2: 150})
	cur := scoreStats(d, map[int64]int64{9: 380, 7: 400, 0: 220})
	c, err := CompareStats(d, cur, base, RelativeObjective{Direction: AtLeast, MaxChange: 5}, 0.95, 30)
	if err != nil {
		t.Fatal(err)
	}
	if c.Test != TestNPSDifference || c.State != StateBreached {
		t.Errorf("%+v", c)
	}
	assertNear(t, "difference", c.Difference, -14, 1e-9)
}
