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
