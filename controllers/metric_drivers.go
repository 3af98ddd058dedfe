package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/drivers"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// driverAnalysis is a Metric's or a Scorecard's drivers measured in this
// evaluation.
type driverAnalysis struct {
	status *cxv1.DriversStatus
	// perKey and overall are each driver's values per key and over its
	// population, in the window the analysis read.
	perKey  map[string]map[string]float64
	overall map[string]float64
	metrics map[string]*cxv1.Metric
}

// drivers analyses the Metric's drivers into its next status; nil without
// spec.drivers or when the analysis fails (an event says so, the outcome's
// evaluation stands and the last analysis stays).
func (r *MetricReconciler) drivers(ctx context.Context, m *cxv1.Metric, spec engine.Metric, windowEnd time.Time,
	p *statusPatcher) *driverAnalysis {
	if m.Spec.Drivers == nil {
		p.next.Drivers = nil
		return nil
	}
	da, err := r.analyseDrivers(ctx, m, spec, windowEnd)
	if err != nil {
		p.event("Warning", "DriversUnavailable", "driver analysis failed: %v", err)
		return nil
	}
	p.next.Drivers = da.status
	return da
}

// analyseDrivers reads the outcome and each driver per key and over the
// history, and ranks the drivers.
func (r *MetricReconciler) analyseDrivers(ctx context.Context, m *cxv1.Metric, spec engine.Metric, windowEnd time.Time) (*driverAnalysis, error) {
	d := m.Spec.Drivers
	confidence := spec.Objective.Confidence
	grid := drivers.Grid(spec, windowEnd)
	src, err := r.source(ctx, m)
	if err != nil {
		return nil, err
	}
	outcome, err := drivers.Read(ctx, drivers.Side{Name: m.Name, Metric: spec, Source: src, KeyColumn: d.KeyColumn}, windowEnd, grid, confidence)
	if err != nil {
		return nil, err
	}
	da := &driverAnalysis{perKey: map[string]map[string]float64{}, overall: map[string]float64{}, metrics: map[string]*cxv1.Metric{}}
	readings := map[string]drivers.Reading{}
	for _, dm := range d.Metrics {
		var dmetric cxv1.Metric
		if err := r.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: dm.Metric}, &dmetric); err != nil {
			return nil, fmt.Errorf("driver %s: %w", dm.Metric, err)
		}
		dspec, err := metricspec.Translate(&dmetric)
		if err != nil {
			return nil, fmt.Errorf("driver %s: %w", dm.Metric, err)
		}
		if dspec.Derived != nil {
			return nil, fmt.Errorf("driver %s is derived: name a Metric measured from a DataSource", dm.Metric)
		}
		dsrc, err := r.source(ctx, &dmetric)
		if err != nil {
			return nil, fmt.Errorf("driver %s: %w", dm.Metric, err)
		}
		reading, err := drivers.Read(ctx, drivers.Side{Name: dm.Metric, Metric: dspec, Source: dsrc, KeyColumn: dm.KeyColumn}, windowEnd, grid, confidence)
		if err != nil {
			return nil, err
		}
		readings[dm.Metric] = reading
		da.perKey[dm.Metric] = reading.PerKey
		if reading.Overall != nil {
			da.overall[dm.Metric] = *reading.Overall
		}
		da.metrics[dm.Metric] = &dmetric
	}
	da.status = metricspec.DriversStatusOf(drivers.Analyse(outcome, readings, metricspec.DriverMaxLag(d), confidence), windowEnd)
	return da, nil
}

// taskDrivers are the drivers a new task carries.
func (da *driverAnalysis) taskDrivers(m *cxv1.Metric, values map[string]string) []cxv1.TaskDriver {
	if da == nil || m.Spec.Drivers == nil {
		return nil
	}
	return metricspec.TaskDrivers(da.status, values, m.Spec.Drivers.KeyColumn, da.perKey, da.overall, da.metrics)
}
