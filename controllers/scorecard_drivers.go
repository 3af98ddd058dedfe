package controllers

import (
	"context"
	"fmt"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/drivers"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// drivers analyses the Scorecard's drivers into its next status; nil
// without spec.drivers or when the analysis fails, which leaves the last
// analysis and says why in an event: the scores stand.
func (r *ScorecardReconciler) drivers(ctx context.Context, sc *cxv1.Scorecard, next *cxv1.ScorecardStatus, scored metricspec.Scored,
	d decision, now time.Time) *driverAnalysis {
	drv, err := r.analyseDrivers(ctx, sc, scored, d, now)
	if err != nil {
		if r.Recorder != nil {
			r.Recorder.Eventf(sc, nil, "Warning", "DriversUnavailable", "Score", "driver analysis failed: %v", err)
		}
		return nil
	}
	next.Drivers = nil
	if drv != nil {
		next.Drivers = drv.status
	}
	return drv
}

// analyseDrivers measures each of spec.drivers per account over its
// latest window and its association with the accounts' scores, and over
// time: the driver's population value per judged window against the
// windows' median account score, lagged by up to maxLag windows, once
// enough consecutive windows are known (drivers.MinSegments); nil without
// drivers.
func (r *ScorecardReconciler) analyseDrivers(ctx context.Context, sc *cxv1.Scorecard, scored metricspec.Scored, d decision,
	now time.Time) (*driverAnalysis, error) {
	if len(sc.Spec.Drivers) == 0 {
		return nil, nil
	}
	confidence := metricspec.ScorecardConfidence(sc)
	outcome := drivers.Reading{PerKey: map[string]float64{}}
	for _, a := range scored.Result.Accounts {
		outcome.PerKey[a.Key] = a.Score
	}
	var grid []time.Time
	maxLag := 0
	if n := len(d.det.Medians); n >= drivers.MinSegments && !d.det.FedUntil.IsZero() {
		grid, outcome.History = d.tasks.Policy.MedianWindows(d.det), d.det.Medians
		maxLag = min(metricspec.DefaultDriverMaxLag, n-drivers.MinSegments)
	}
	rd := r.reader(sc)
	out := &driverAnalysis{perKey: map[string]map[string]float64{}, overall: map[string]float64{}, metrics: map[string]*cxv1.Metric{}}
	readings := map[string]drivers.Reading{}
	for _, dm := range sc.Spec.Drivers {
		m, err := rd.Metric(ctx, dm.Metric)
		if err != nil || m == nil {
			return nil, fmt.Errorf("driver %s: Metric not found (%v)", dm.Metric, err)
		}
		spec, err := metricspec.Translate(m)
		if err != nil || spec.Derived != nil {
			return nil, fmt.Errorf("driver %s: name a Metric measured from a DataSource (%v)", dm.Metric, err)
		}
		src, err := rd.Source(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("driver %s: %w", dm.Metric, err)
		}
		reading, err := drivers.Read(ctx, drivers.Side{Name: dm.Metric, Metric: spec, Source: src, KeyColumn: dm.KeyColumn}, now, grid, confidence)
		if err != nil {
			return nil, err
		}
		readings[dm.Metric], out.perKey[dm.Metric], out.metrics[dm.Metric] = reading, reading.PerKey, m
	}
	out.status = metricspec.DriversStatusOf(drivers.Analyse(outcome, readings, maxLag, confidence), now)
	return out, nil
}

// accountDrivers are the drivers a Scorecard's task for the account
// carries.
func (d *driverAnalysis) accountDrivers(sc *cxv1.Scorecard, account string) []cxv1.TaskDriver {
	if d == nil {
		return nil
	}
	return metricspec.TaskDrivers(d.status, map[string]string{sc.Spec.Key: account}, sc.Spec.Key, d.perKey, d.overall, d.metrics)
}
