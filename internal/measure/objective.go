package measure

import (
	"errors"
	"fmt"
)

// Direction says which side of a target is good.
type Direction string

const (
	// AtLeast: higher is better (NPS, CSAT, FCR, NRR).
	AtLeast Direction = "AtLeast"
	// AtMost: lower is better (reopen rate, response time, churn).
	AtMost Direction = "AtMost"
)

// State is the answer to "what is the metric now?". It is status for
// dashboards; it opens no task (change detection does).
type State string

const (
	// StateMet: the whole interval is on the good side of the target and
	// the value is outside the warning band.
	StateMet State = "Met"
	// StateWarning: the whole interval is on the good side of the target,
	// but the value is inside the warning band.
	StateWarning State = "Warning"
	// StateBreached: the whole interval is on the wrong side of the target.
	StateBreached State = "Breached"
	// StateInconclusive: the interval straddles the target.
	StateInconclusive State = "Inconclusive"
	// StateInsufficientData: the sample is below the minimum.
	StateInsufficientData State = "InsufficientData"
)

// ErrDirection reports a direction other than AtLeast or AtMost.
var ErrDirection = errors.New("direction must be AtLeast or AtMost")

// Objective is a fixed target for a metric's window value.
type Objective struct {
	// Direction says which side of Target is good.
	Direction Direction
	// Target is the value the metric must reach, in the formula's unit.
	Target float64
	// WarningAt, when set, is a value on the good side of Target: a value
	// between Target and WarningAt is a Warning even when the interval
	// clears the target.
	WarningAt *float64
}

// Validate reports an objective that cannot be evaluated.
func (o Objective) Validate() error {
	if o.Direction != AtLeast && o.Direction != AtMost {
		return fmt.Errorf("objective: %w (got %q)", ErrDirection, o.Direction)
	}
	if o.WarningAt != nil && o.worse(*o.WarningAt, o.Target) {
		return fmt.Errorf("objective: warningAt %v is on the wrong side of target %v for %s", *o.WarningAt, o.Target, o.Direction)
	}
	return nil
}

// worse reports whether a is strictly on the wrong side of b.
func (o Objective) worse(a, b float64) bool {
	if o.Direction == AtMost {
		return a > b
	}
	return a < b
}

// Evaluate judges an estimate against the objective. Breached needs the
// whole interval on the wrong side of the target, so noise alone rarely
// breaches; an interval with a bound on each side of the target is
// Inconclusive (a bound exactly on the target counts as the good side). An insufficient estimate is InsufficientData whatever its
// fields hold.
func (o Objective) Evaluate(e Estimate) (State, error) {
	if err := o.Validate(); err != nil {
		return "", err
	}
	if !e.Sufficient {
		return StateInsufficientData, nil
	}
	// The interval's bound nearest the wrong side, and the farthest.
	nearBad, farBad := e.Lower, e.Upper
	if o.Direction == AtMost {
		nearBad, farBad = e.Upper, e.Lower
	}
	switch {
	case o.worse(farBad, o.Target):
		return StateBreached, nil
	case o.worse(nearBad, o.Target):
		return StateInconclusive, nil
	case o.WarningAt != nil && o.worse(e.Value, *o.WarningAt):
		return StateWarning, nil
	}
	return StateMet, nil
}
