package metricspec

import (
	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/response"
	"github.com/cxloop/cxloop/internal/source"
)

// InvitationsOf is where a Metric's invitations are; nil without them.
func InvitationsOf(m *cxv1.Metric) *response.Invitations {
	inv := m.Spec.Invitations
	if inv == nil {
		return nil
	}
	out := &response.Invitations{Table: inv.Table, Time: inv.Time, Count: inv.Count, MinRate: response.DefaultMinRate}
	if inv.MinResponseRate != nil {
		out.MinRate = *inv.MinResponseRate
	}
	for _, f := range inv.Filters {
		out.Filters = append(out.Filters, source.Filter{Column: f.Column, Operator: source.FilterOperator(f.Operator),
			Values: append([]string(nil), f.Values...)})
	}
	return out
}

// ResponseRateStatusOf renders a Metric's response rates.
func ResponseRateStatusOf(r response.Result, minRate float64) *cxv1.ResponseRateStatus {
	st := &cxv1.ResponseRateStatus{Responses: r.Overall.Responses, Invitations: r.Overall.Invitations, MinResponseRate: minRate}
	if r.Overall.Invitations > 0 {
		st.Rate = ptr(r.Overall.Rate)
	}
	for _, s := range r.Segments {
		if s.Low {
			st.LowSegments++
		}
	}
	for _, s := range r.Lowest(cxv1.MaxLowResponseSegments) {
		st.Lowest = append(st.Lowest, SegmentResponseRateOf(s))
	}
	return st
}

// SegmentResponseRateOf renders one segment's response rate.
func SegmentResponseRateOf(r response.Rate) cxv1.SegmentResponseRate {
	return cxv1.SegmentResponseRate{Segment: r.Segment, Rate: r.Rate, Responses: r.Responses, Invitations: r.Invitations, Low: r.Low}
}

// TaskResponseRate is the response rate a task of segment carries; nil
// when no invitation of the segment is known.
func TaskResponseRate(r *response.Result, segment string) *cxv1.SegmentResponseRate {
	if r == nil {
		return nil
	}
	rate := r.Overall
	if segment != "" {
		var ok bool
		if rate, ok = r.Segments[segment]; !ok {
			return nil
		}
	}
	if rate.Invitations == 0 {
		return nil
	}
	out := SegmentResponseRateOf(rate)
	return &out
}
