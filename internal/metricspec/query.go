package metricspec

import (
	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/source"
)

// Query returns where a Metric's units are, for its source.
func Query(m *cxv1.Metric) source.Query {
	q := source.Query{Segments: append([]string(nil), m.Spec.SegmentBy...)}
	mq := m.Spec.Query
	if mq == nil {
		return q
	}
	q.Table, q.SQL = mq.Table, mq.SQL
	q.PromQL, q.SamplesPromQL = mq.PromQL, mq.SamplesPromQL
	if c := mq.Columns; c != nil {
		q.Value, q.Time, q.InteractionTime, q.Weight = c.Value, c.Time, c.InteractionTime, c.Weight
		q.Numerator, q.Denominator = c.Numerator, c.Denominator
	}
	for _, f := range mq.Filters {
		q.Filters = append(q.Filters, source.Filter{Column: f.Column, Operator: source.FilterOperator(f.Operator),
			Values: append([]string(nil), f.Values...)})
	}
	return q
}

// ForSegment narrows a query to one segment's rows, with a bound equality
// filter per segment column.
func ForSegment(q source.Query, values map[string]string) source.Query {
	out := q
	out.Filters = append([]source.Filter(nil), q.Filters...)
	for _, col := range q.Segments {
		if v, ok := values[col]; ok {
			out.Filters = append(out.Filters, source.Filter{Column: col, Operator: source.Equals, Values: []string{v}})
		}
	}
	out.Segments = nil
	return out
}

// Objective is a Metric's objective with the API defaults applied.
type Objective struct {
	Direction  cxv1.Direction
	Target     *float64
	Relative   *cxv1.RelativeObjective
	WarningAt  *float64
	Confidence float64
	MinSamples int64
	// MinShift is δ; zero means the formula's default.
	MinShift float64
	// Budget is false tasks per month (the API's per 100 metric-months / 100).
	Budget float64
}

// ObjectiveOf reads a Metric's objective, applying defaults.
func ObjectiveOf(m *cxv1.Metric) Objective {
	o := m.Spec.Objective
	out := Objective{Direction: o.Direction, Target: o.Target, Relative: o.Relative, WarningAt: o.WarningAt,
		Confidence: o.Confidence, MinSamples: o.MinSamples, Budget: o.FalseTaskBudget / 100}
	if out.Direction == "" {
		out.Direction = cxv1.AtLeast
	}
	if out.Confidence == 0 {
		out.Confidence = 0.95
	}
	if out.MinSamples == 0 {
		out.MinSamples = 30
	}
	if out.Budget == 0 {
		out.Budget = 0.01
	}
	if o.MinShift != nil {
		out.MinShift = *o.MinShift
	}
	return out
}
