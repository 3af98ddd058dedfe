package controllers

import (
	"context"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/response"
)

// responseRates reads the Metric's response rates into its next status;
// nil without invitations or when they cannot be read (an event says so,
// and the last rates stay).
func (r *MetricReconciler) responseRates(ctx context.Context, m *cxv1.Metric, spec engine.Metric, windowEnd time.Time,
	p *statusPatcher) *response.Result {
	inv := metricspec.InvitationsOf(m)
	if inv == nil {
		p.next.ResponseRate = nil
		return nil
	}
	src, err := r.source(ctx, m)
	if err == nil {
		var res response.Result
		if res, err = response.Read(ctx, src, spec, *inv, windowEnd); err == nil {
			p.next.ResponseRate = metricspec.ResponseRateStatusOf(res, inv.MinRate)
			return &res
		}
	}
	p.event("Warning", "ResponseRateUnavailable", "response rates could not be read: %v", err)
	return nil
}
