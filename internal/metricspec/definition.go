package metricspec

import (
	"encoding/json"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/measure"
)

// Definition returns the measure definition of a Metric. The query (table,
// columns, filters, SQL or PromQL), the window and the segmentation enter
// the definition's source text, so changing any of them changes the hash:
// a changed definition is never mistaken for a changed experience.
func Definition(m *cxv1.Metric) measure.Definition {
	s := &m.Spec
	d := measure.Definition{
		Formula:    string(s.Formula),
		ShareOver:  s.ShareOver,
		Unrated:    measure.UnratedPolicy(s.Unrated),
		Expression: s.Expression,
	}
	if s.Scale != nil {
		d.ScaleMin, d.ScaleMax = s.Scale.Min, s.Scale.Max
	}
	if s.SatisfiedMin != nil {
		d.SatisfiedMin = *s.SatisfiedMin
	}
	if s.Percentile != nil {
		d.Percentile = *s.Percentile
	}
	for _, in := range s.Inputs {
		d.Inputs = append(d.Inputs, in.Name+"="+in.Metric)
	}
	d.Source = sourceText(m)
	return d
}

// sourceText is the canonical text of where a Metric's units come from.
// The cluster column is left out: it says how the units vary, not which
// units count or what they are worth, so declaring one keeps the
// detector's evidence and the baseline.
func sourceText(m *cxv1.Metric) string {
	s := &m.Spec
	query := s.Query
	if query != nil && query.Columns != nil && query.Columns.Cluster != "" {
		query = query.DeepCopy()
		query.Columns.Cluster = ""
	}
	canon := struct {
		Source    string            `json:"source,omitempty"`
		Query     *cxv1.MetricQuery `json:"query,omitempty"`
		Window    string            `json:"window"`
		SegmentBy []string          `json:"segmentBy,omitempty"`
	}{Query: query, Window: s.Window, SegmentBy: s.SegmentBy}
	if s.Source != nil {
		canon.Source = s.Source.Name
	}
	b, _ := json.Marshal(canon)
	return string(b)
}
