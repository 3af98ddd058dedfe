package measure

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval methods, recorded in Estimate.Method so a status can say how an
// interval was made.
const (
	MethodAdjustedWald    = "adjusted-wald"
	MethodWilson          = "wilson"
	MethodStudentT        = "student-t"
	MethodOrderStatistics = "order-statistics"
	MethodDelta           = "delta"
	MethodExact           = "exact"
	MethodNone            = "none"
)

// Estimate is a formula's value over one segment and window, with the
// sample size behind it and an interval at the requested confidence.
//
// When Sufficient is false the sample is below the minimum (or too small to
// bound a quantile at this confidence): Value, Lower, Upper and StdErr are
// zero and must be shown as InsufficientData, never as a number.
type Estimate struct {
	// Value is the formula's value in its unit: NPS −100..100, proportions
	// in percent 0..100, means and quantiles in the raw unit, ratios plain.
	Value float64 `json:"value"`
	// Lower and Upper bound the interval at Confidence.
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// StdErr is the value's standard error, the scale two-sample tests use
	// (for NPS the plain trinomial one, not the adjusted-Wald one).
	StdErr float64 `json:"stdErr"`
	// DF is the degrees of freedom of StdErr's t distribution; 0 means normal.
	DF float64 `json:"df,omitempty"`
	// N is the number of units counted in the denominator.
	N int64 `json:"n"`
	// NEff is Kish's effective sample size; N when unweighted.
	NEff float64 `json:"nEff"`
	// Rejected counts units the definition could not count (a score off
	// the scale, a bad weight): non-zero means the data and the definition
	// disagree, and a status should say so.
	Rejected int64 `json:"rejected,omitempty"`
	// Confidence is the interval's level, such as 0.95.
	Confidence float64 `json:"confidence"`
	// Sufficient is false when the sample cannot support a number.
	Sufficient bool `json:"sufficient"`
	// Method names how the interval was made (adjusted-wald, wilson, ...).
	Method string `json:"method"`
	// Hash is the definition's hash: a value is comparable only to values
	// with the same hash.
	Hash string `json:"hash"`
}

// ErrConfidence reports a confidence level outside (0, 1).
var ErrConfidence = errors.New("confidence must be strictly between 0 and 1")

// ErrNeedsInputs reports a derived definition passed to Compute; derived
// values come from Derived.Estimate over their inputs' estimates.
var ErrNeedsInputs = errors.New("a derived formula is computed from its inputs, not from statistics")

// Compute derives the definition's value, sample size and interval from
// merged statistics, after checking them with CheckStats (an error
// wrapping ErrInconsistentStats means a faulty source). minSamples is compared with the effective sample size;
// below it the estimate is returned with Sufficient false. Totals (sum,
// count) and gauges are not samples, so minSamples does not apply to them.
func Compute(d Definition, s *Stats, confidence float64, minSamples int64) (Estimate, error) {
	if err := d.Validate(); err != nil {
		return Estimate{}, err
	}
	if !(confidence > 0 && confidence < 1) {
		return Estimate{}, fmt.Errorf("compute %s: %w (got %v)", d.Formula, ErrConfidence, confidence)
	}
	if s == nil {
		s = &Stats{}
	}
	if d.Family() != Derived {
		if err := d.CheckStats(s); err != nil {
			return Estimate{}, fmt.Errorf("compute %s: %w", d.Formula, err)
		}
	}
	d = d.WithDefaults()
	var e Estimate
	switch d.Formula {
	case FormulaNPS:
		e = computeNPS(d, s, confidence, minSamples)
	case FormulaCSAT, FormulaRate:
		e = computeProportion(d, s, confidence, minSamples)
	case FormulaCES, FormulaMean:
		e = computeMean(s, confidence, minSamples)
	case FormulaSum, FormulaCount:
		e = computeTotal(d, s)
	case FormulaValue:
		e = computeGauge(s)
	case FormulaPercentile:
		e = computeQuantile(d, s, confidence, minSamples)
	case FormulaRatio:
		e = computeRatio(s, confidence, minSamples)
	case FormulaDerived:
		return Estimate{}, fmt.Errorf("compute %s: %w", d.Formula, ErrNeedsInputs)
	}
	e.Confidence = confidence
	e.Rejected = s.Rejected.N
	e.Hash = d.Hash()
	if !e.Sufficient {
		e.Value, e.Lower, e.Upper, e.StdErr, e.DF = 0, 0, 0, 0, 0
	}
	return e, nil
}

// enough reports whether an effective size reaches the minimum, tolerating
// the rounding of (Σw)²/Σw² (100 unit weights give exactly 100, but
// fractional weights may give 99.99999999999999).
func enough(neff float64, minSamples int64, floor int64) bool {
	if minSamples < floor {
		minSamples = floor
	}
	return neff >= float64(minSamples)*(1-1e-9)
}

// zFor returns the two-sided standard normal quantile for a confidence level.
func zFor(confidence float64) float64 {
	return distuv.UnitNormal.Quantile(1 - (1-confidence)/2)
}

// tFor returns the two-sided Student's t quantile with df degrees of freedom.
func tFor(confidence, df float64) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(1 - (1-confidence)/2)
}

// clip limits x to [lo, hi].
func clip(x, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, x))
}
