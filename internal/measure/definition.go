package measure

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
)

// Formula names, as the Metric API spells them.
const (
	FormulaNPS        = "nps"
	FormulaCSAT       = "csat"
	FormulaCES        = "ces"
	FormulaRate       = "rate"
	FormulaMean       = "mean"
	FormulaPercentile = "percentile"
	FormulaSum        = "sum"
	FormulaCount      = "count"
	FormulaRatio      = "ratio"
	FormulaValue      = "value"
	FormulaDerived    = "derived"
)

// Family groups formulas by the sufficient statistics they need, which is
// what a source must return.
type Family int

const (
	// Categorical formulas (nps, csat, rate) count units per integer score.
	Categorical Family = iota + 1
	// MomentsFamily formulas (ces, mean, sum, count) need Σw·x and Σw·x².
	MomentsFamily
	// Quantile formulas (percentile) need the sketch.
	Quantile
	// RatioOfSums formulas (ratio: NRR, GRR, coverage) need the ratio sums.
	RatioOfSums
	// Gauge formulas (value) read a number that is not a sample of units,
	// such as a Prometheus gauge; they are kept in Moments.
	Gauge
	// Derived formulas combine other metrics' values with an expression and
	// have no statistics of their own.
	Derived
)

// String names the family for messages.
func (f Family) String() string {
	switch f {
	case Categorical:
		return "Categorical"
	case MomentsFamily:
		return "Moments"
	case Quantile:
		return "Quantile"
	case RatioOfSums:
		return "RatioOfSums"
	case Gauge:
		return "Gauge"
	case Derived:
		return "Derived"
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// UnratedPolicy says what a unit without a value (a skipped question, an
// unrated ticket) does to a denominator. Tools disagree on this silently;
// cxloop makes it part of the definition and of its hash.
type UnratedPolicy string

const (
	// UnratedExclude leaves unrated units out of every denominator (default).
	UnratedExclude UnratedPolicy = "Exclude"
	// UnratedCountAsNegative counts unrated units as detractors (NPS) or as
	// not satisfied / not meeting the rate (csat, rate). It applies only to
	// categorical formulas.
	UnratedCountAsNegative UnratedPolicy = "CountAsNegative"
)

// Definition is everything that defines a number: two Metrics with equal
// definitions over the same units produce the same value, and Hash tells
// them apart when they do not. Zero fields take the documented defaults
// (see WithDefaults), so an explicit default and an omitted one hash alike.
type Definition struct {
	// Formula is one of the Formula* names.
	Formula string `json:"formula"`
	// ScaleMin and ScaleMax bound the response scale of categorical and
	// score formulas: nps 0..10 (fixed), csat 1..5 by default (1..3, 1..7
	// and 1..10 are common), ces 1..7 by default, rate 0..1 (fixed).
	ScaleMin int64 `json:"scaleMin,omitempty"`
	ScaleMax int64 `json:"scaleMax,omitempty"`
	// SatisfiedMin is csat's lowest satisfied score. The default is the top
	// two boxes (ScaleMax−1) on scales of five points or more and the top
	// box on shorter ones; set it to ScaleMax for top-box CSAT.
	SatisfiedMin int64 `json:"satisfiedMin,omitempty"`
	// PromoterMin and DetractorMax are NPS's bands (default 9 and 6).
	PromoterMin  int64 `json:"promoterMin,omitempty"`
	DetractorMax int64 `json:"detractorMax,omitempty"`
	// Percentile is the percentile formula's rank, 0 < p < 100 (50 is the median).
	Percentile float64 `json:"percentile,omitempty"`
	// ShareOver, for percentile formulas, names the threshold whose
	// exceedance ("share of tickets answered after 4 h") feeds change
	// detection, since a quantile has no per-unit contribution.
	ShareOver *float64 `json:"shareOver,omitempty"`
	// Unrated is the denominator policy for units without a value.
	Unrated UnratedPolicy `json:"unrated,omitempty"`
	// Expression is a derived formula's CEL expression over Inputs.
	Expression string `json:"expression,omitempty"`
	// Inputs names the metrics a derived formula reads, in any order.
	Inputs []string `json:"inputs,omitempty"`
	// Source is the canonical text of where the units come from (table,
	// columns, filter, SQL, PromQL): the caller supplies it so a changed
	// filter changes the hash. It is not interpreted here.
	Source string `json:"source,omitempty"`
	// Rules holds further definitional rules a source applies, such as
	// {"hours": "business"} for response times; they enter the hash.
	Rules map[string]string `json:"rules,omitempty"`
}

// Family returns the statistics family of the definition's formula, or 0 for
// an unknown formula.
func (d Definition) Family() Family {
	switch d.Formula {
	case FormulaNPS, FormulaCSAT, FormulaRate:
		return Categorical
	case FormulaCES, FormulaMean, FormulaSum, FormulaCount:
		return MomentsFamily
	case FormulaPercentile:
		return Quantile
	case FormulaRatio:
		return RatioOfSums
	case FormulaValue:
		return Gauge
	case FormulaDerived:
		return Derived
	}
	return 0
}

// WithDefaults returns d with every omitted rule set to its default value.
func (d Definition) WithDefaults() Definition {
	if d.Unrated == "" {
		d.Unrated = UnratedExclude
	}
	switch d.Formula {
	case FormulaNPS:
		d.ScaleMin, d.ScaleMax = 0, 10
		if d.PromoterMin == 0 {
			d.PromoterMin = 9
		}
		if d.DetractorMax == 0 {
			d.DetractorMax = 6
		}
	case FormulaCSAT:
		if d.ScaleMin == 0 && d.ScaleMax == 0 {
			d.ScaleMin, d.ScaleMax = 1, 5
		}
		if d.SatisfiedMin == 0 {
			d.SatisfiedMin = d.ScaleMax
			if d.ScaleMax-d.ScaleMin+1 >= 5 {
				d.SatisfiedMin = d.ScaleMax - 1
			}
		}
	case FormulaRate:
		d.ScaleMin, d.ScaleMax = 0, 1
	case FormulaCES:
		if d.ScaleMin == 0 && d.ScaleMax == 0 {
			d.ScaleMin, d.ScaleMax = 1, 7
		}
	}
	return d
}

// Validate reports a definition that cannot produce a number.
func (d Definition) Validate() error {
	d = d.WithDefaults()
	if d.Family() == 0 {
		return &DefinitionError{Field: "formula", Reason: fmt.Sprintf("unknown formula %q", d.Formula)}
	}
	if d.Unrated != UnratedExclude && d.Unrated != UnratedCountAsNegative {
		return &DefinitionError{Field: "unrated", Reason: fmt.Sprintf("unknown policy %q (Exclude or CountAsNegative)", d.Unrated)}
	}
	if d.Unrated == UnratedCountAsNegative && d.Family() != Categorical {
		return &DefinitionError{Field: "unrated", Reason: "CountAsNegative applies only to nps, csat and rate"}
	}
	if d.ShareOver != nil {
		if d.Formula != FormulaPercentile {
			return &DefinitionError{Field: "shareOver", Reason: "applies only to the percentile formula"}
		}
		if math.IsNaN(*d.ShareOver) || math.IsInf(*d.ShareOver, 0) {
			return &DefinitionError{Field: "shareOver", Reason: "must be a finite number"}
		}
	}
	switch d.Formula {
	case FormulaNPS:
		if !(0 <= d.DetractorMax && d.DetractorMax < d.PromoterMin && d.PromoterMin <= 10) {
			return &DefinitionError{Field: "promoterMin", Reason: fmt.Sprintf("bands must satisfy 0 <= detractorMax (%d) < promoterMin (%d) <= 10", d.DetractorMax, d.PromoterMin)}
		}
	case FormulaCSAT, FormulaCES:
		if d.ScaleMin >= d.ScaleMax {
			return &DefinitionError{Field: "scaleMax", Reason: fmt.Sprintf("scale %d..%d is empty", d.ScaleMin, d.ScaleMax)}
		}
		if d.Formula == FormulaCSAT && (d.SatisfiedMin <= d.ScaleMin || d.SatisfiedMin > d.ScaleMax) {
			return &DefinitionError{Field: "satisfiedMin", Reason: fmt.Sprintf("%d is not inside scale %d..%d above its bottom", d.SatisfiedMin, d.ScaleMin, d.ScaleMax)}
		}
	case FormulaPercentile:
		if !(d.Percentile > 0 && d.Percentile < 100) {
			return &DefinitionError{Field: "percentile", Reason: fmt.Sprintf("%v is not in (0, 100)", d.Percentile)}
		}
	case FormulaDerived:
		if d.Expression == "" {
			return &DefinitionError{Field: "expression", Reason: "a derived formula needs an expression"}
		}
	}
	return nil
}

// DefinitionError is a definition that cannot produce a number.
type DefinitionError struct {
	// Field is the definition field at fault, in API spelling.
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *DefinitionError) Error() string {
	return fmt.Sprintf("definition %s: %s", e.Field, e.Reason)
}

// hashVersion prefixes the hashed text, so a deliberate change of the
// canonical form can be made without colliding with old hashes.
const hashVersion = "cxloop.measure/v1\n"

// Hash returns a stable 16-hex-digit hash of everything that defines the
// number: formula, scale, boxes, bands, percentile, threshold, unrated
// policy, expression and inputs, source text and rules. Defaults are
// applied first, so spelling a default out does not change the hash, and
// fields added later with their zero value leave existing hashes alone
// (they are omitted from the canonical form).
func (d Definition) Hash() string {
	d = d.WithDefaults()
	if len(d.Inputs) > 0 {
		in := append([]string(nil), d.Inputs...)
		sortStrings(in)
		d.Inputs = in
	}
	// encoding/json writes struct fields in declaration order and map keys
	// sorted, and formats floats canonically: a stable text.
	b, err := json.Marshal(d)
	if err != nil {
		// Definition holds only strings, integers, finite floats and a
		// string map; Marshal fails only on NaN or Inf, which Validate
		// rejects. Hash them by their printed form rather than panic.
		b = fmt.Appendf(nil, "%#v", d)
	}
	sum := sha256.Sum256(append([]byte(hashVersion), b...))
	return hex.EncodeToString(sum[:8])
}
