package measure

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Two-sample tests, recorded in Comparison.Test.
const (
	// TestNPSDifference is z = (N₁ − N₂)/sqrt(Var₁/n₁ + Var₂/n₂) with the
	// trinomial variances of both periods.
	TestNPSDifference = "nps-difference-z"
	// TestProportionDifference is the unpooled (Wald) z test of a
	// difference of proportions, which allows a non-zero margin.
	TestProportionDifference = "proportion-difference-z"
	// TestWelch is Welch's t test with the Welch–Satterthwaite degrees of freedom.
	TestWelch = "welch-t"
	// TestNormalDifference is a z test on the two standard errors, used for
	// ratios of sums (delta method) and quantiles (order-statistics width).
	TestNormalDifference = "normal-difference-z"
	// TestNone marks values without uncertainty (totals, gauges, derived):
	// the points are compared as they are.
	TestNone = "none"
)

// ErrDefinitionMismatch reports two estimates made under different
// definitions: their difference would be a change of rules, not of experience.
var ErrDefinitionMismatch = errors.New("estimates come from different definitions")

// RelativeObjective bounds the change of a metric against a baseline window:
// "CES must not drop by more than 0.3 against the previous 30 days" is
// {AtLeast, 0.3}; "NPS must not fall 5 points below last quarter" is
// {AtLeast, 5}; "reopen rate must not rise more than 2 points" is {AtMost, 2}.
type RelativeObjective struct {
	// Direction says which way is good; the allowed change is on the other side.
	Direction Direction
	// MaxChange is the largest change in the bad direction that is
	// tolerated, in the formula's unit (>= 0).
	MaxChange float64
	// WarningChange, when set (0 <= WarningChange <= MaxChange), is a change
	// in the bad direction that already warns when the objective is met.
	WarningChange *float64
}

// Comparison is the two-sample judgement of a current window against its baseline.
type Comparison struct {
	// Current and Baseline are the estimates compared.
	Current, Baseline Estimate
	// Difference is Current.Value − Baseline.Value.
	Difference float64
	// Lower and Upper bound the difference at Confidence.
	Lower, Upper float64
	// StdErr is the difference's standard error; DF its t degrees of
	// freedom (0 means normal).
	StdErr, DF float64
	// Statistic is the test statistic of the allowed-change boundary:
	// (Difference + MaxChange)/StdErr for AtLeast, (Difference − MaxChange)/StdErr for AtMost.
	Statistic float64
	// PValue is the one-sided p-value of "the change is within MaxChange";
	// Breached is equivalent to PValue < (1 − Confidence)/2.
	PValue float64
	// Confidence is the level of the difference's interval.
	Confidence float64
	// Test names the two-sample test used.
	Test string
	// State is the verdict: Breached when the whole interval of the
	// difference lies beyond the allowed change, Inconclusive when it
	// straddles it, Met or Warning otherwise, InsufficientData when either
	// side is insufficient.
	State State
}

// CompareToBaseline decides a relative objective with the two-sample test
// that fits the formula: the difference of NPS with both trinomial
// variances, the difference of proportions, Welch's t for means, and a z
// test on the delta-method or order-statistics errors otherwise. Both
// estimates must come from the same definition (equal Hash). formula is the
// definition's formula name, which selects the test.
func CompareToBaseline(formula string, current, baseline Estimate, o RelativeObjective, confidence float64) (Comparison, error) {
	c := Comparison{Current: current, Baseline: baseline, Confidence: confidence}
	if o.Direction != AtLeast && o.Direction != AtMost {
		return c, fmt.Errorf("relative objective: %w (got %q)", ErrDirection, o.Direction)
	}
	if !(o.MaxChange >= 0) || (o.WarningChange != nil && !(*o.WarningChange >= 0 && *o.WarningChange <= o.MaxChange)) {
		return c, fmt.Errorf("relative objective: need 0 <= warningChange <= maxChange, got maxChange %v", o.MaxChange)
	}
	if !(confidence > 0 && confidence < 1) {
		return c, fmt.Errorf("relative objective: %w (got %v)", ErrConfidence, confidence)
	}
	if current.Hash != baseline.Hash {
		return c, fmt.Errorf("compare %s with %s: %w", current.Hash, baseline.Hash, ErrDefinitionMismatch)
	}
	if !current.Sufficient || !baseline.Sufficient {
		c.State = StateInsufficientData
		return c, nil
	}
	c.Difference = current.Value - baseline.Value
	c.Test = twoSampleTest(formula)
	v1, v2 := current.StdErr*current.StdErr, baseline.StdErr*baseline.StdErr
	c.StdErr = math.Sqrt(v1 + v2)
	if c.Test == TestWelch && current.DF > 0 && baseline.DF > 0 && c.StdErr > 0 {
		c.DF = (v1 + v2) * (v1 + v2) / (v1*v1/current.DF + v2*v2/baseline.DF)
	}
	// The boundary of the allowed change, as a difference.
	bound := -o.MaxChange
	if o.Direction == AtMost {
		bound = o.MaxChange
	}
	crit := zFor(confidence)
	var cdf func(float64) float64 = distuv.UnitNormal.CDF
	if c.DF > 0 {
		crit = tFor(confidence, c.DF)
		cdf = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: c.DF}.CDF
	}
	half := crit * c.StdErr
	c.Lower, c.Upper = c.Difference-half, c.Difference+half
	if c.StdErr > 0 {
		c.Statistic = (c.Difference - bound) / c.StdErr
		if o.Direction == AtLeast {
			c.PValue = cdf(c.Statistic)
		} else {
			c.PValue = 1 - cdf(c.Statistic)
		}
	} else {
		c.PValue = 1
		if (o.Direction == AtLeast && c.Difference < bound) || (o.Direction == AtMost && c.Difference > bound) {
			c.PValue = 0
		}
	}
	// The absolute rule, applied to the difference against its boundary.
	obj := Objective{Direction: o.Direction, Target: bound}
	if o.WarningChange != nil {
		w := -*o.WarningChange
		if o.Direction == AtMost {
			w = *o.WarningChange
		}
		obj.WarningAt = &w
	}
	diff := Estimate{Value: c.Difference, Lower: c.Lower, Upper: c.Upper, Sufficient: true}
	state, err := obj.Evaluate(diff)
	if err != nil {
		return c, err
	}
	c.State = state
	return c, nil
}

// twoSampleTest names the test for a formula.
func twoSampleTest(formula string) string {
	switch formula {
	case FormulaNPS:
		return TestNPSDifference
	case FormulaCSAT, FormulaRate:
		return TestProportionDifference
	case FormulaCES, FormulaMean:
		return TestWelch
	case FormulaRatio, FormulaPercentile:
		return TestNormalDifference
	}
	return TestNone
}

// CompareStats computes both windows' estimates under d and compares them
// with CompareToBaseline.
func CompareStats(d Definition, current, baseline *Stats, o RelativeObjective, confidence float64, minSamples int64) (Comparison, error) {
	cur, err := Compute(d, current, confidence, minSamples)
	if err != nil {
		return Comparison{}, fmt.Errorf("current window: %w", err)
	}
	base, err := Compute(d, baseline, confidence, minSamples)
	if err != nil {
		return Comparison{}, fmt.Errorf("baseline window: %w", err)
	}
	return CompareToBaseline(d.Formula, cur, base, o, confidence)
}
