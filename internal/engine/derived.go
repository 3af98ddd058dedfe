package engine

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// InputValue is an input Metric's latest value, as its status shows it.
type InputValue struct {
	Hash    string
	Value   *float64
	Samples int64
}

// EvaluateDerived computes a derived metric from its inputs' latest values
// with its CEL expression. An input without a value leaves the derived
// metric InsufficientData; derived values have no per-unit contributions,
// so they open no tasks.
func EvaluateDerived(m Metric, inputs map[string]InputValue, windowEnd time.Time) (*Evaluation, error) {
	if m.Derived == nil {
		return nil, rejected(fmt.Errorf("metric %s is not derived", m.Name))
	}
	names := make([]string, 0, len(m.Derived.Inputs))
	for name := range m.Derived.Inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	expr, err := measure.CompileDerived(m.Derived.Expression, names)
	if err != nil {
		return nil, rejectExpression(err)
	}
	obj := m.Objective
	ests := map[string]measure.Estimate{}
	for _, name := range names {
		in := inputs[name]
		est := measure.Estimate{Hash: in.Hash, N: in.Samples, NEff: float64(in.Samples), Confidence: obj.Confidence,
			Sufficient: in.Value != nil}
		if in.Value != nil {
			est.Value, est.Lower, est.Upper = *in.Value, *in.Value, *in.Value
		}
		ests[name] = est
	}
	est, err := expr.Estimate(ests)
	if err != nil {
		return nil, rejectExpression(err)
	}
	res := &Evaluation{WindowStart: AddWall(windowEnd, -m.Window, m.Location), WindowEnd: windowEnd, Query: m.Derived.Expression,
		DefinitionHash: m.Hash, Target: obj.Target, Reason: "Measured",
		Message: "derived from its inputs' latest values; derived metrics open no tasks"}
	res.Overall = Outcome{State: measure.StateInsufficientData}
	if est.Sufficient && obj.Target != nil {
		st, err := measure.Objective{Direction: measure.Direction(obj.Direction), Target: *obj.Target, WarningAt: obj.WarningAt}.Evaluate(est)
		if err != nil {
			return nil, rejected(err)
		}
		res.Overall = Outcome{Value: ptr(est.Value), Lower: ptr(est.Value), Upper: ptr(est.Value), Samples: est.N, State: st}
	}
	return res, nil
}

// rejectExpression rejects the spec for its expression, naming a costly one
// as such so its Metric says why rather than only that the spec is invalid.
func rejectExpression(err error) error {
	if errors.Is(err, measure.ErrExpressionTooCostly) {
		return &RejectedError{Reason: ReasonExpressionTooCostly, Err: err}
	}
	return rejected(err)
}
