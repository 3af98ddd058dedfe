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
		q.Numerator, q.Denominator, q.Cluster = c.Numerator, c.Denominator, c.Cluster
	}
	for _, f := range mq.Filters {
		q.Filters = append(q.Filters, source.Filter{Column: f.Column, Operator: source.FilterOperator(f.Operator),
			Values: append([]string(nil), f.Values...)})
	}
	return q
}
