package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/cxloop/cxloop/internal/measure"
)

// maxRangePoints is how many evaluation times one range query asks for:
// Prometheus refuses a query that would return more than 11,000 points
// per series.
const maxRangePoints = 11000

// QueryRange evaluates q at every window end first, first+step, ... up to
// last with one range query per 11,000 ends (and as many for the samples
// expression; fewer ends per query when an answer would pass
// MaxPrometheusResponseBytes), and returns for each end the Result that
// Query would return for [end−window, end). Prometheus evaluates a range query at
// each step exactly as an instant query at that time, and both paths
// fold the series with the same code, so the results agree. The map is
// keyed by the ends in UTC; an end at which no series has a value holds
// an empty Result.
func (s *promSource) QueryRange(ctx context.Context, def measure.Definition, q Query, window time.Duration, first, last time.Time, step time.Duration) (map[time.Time]*Result, error) {
	e, err := promExpressions(def, q, window)
	if err != nil {
		return nil, err
	}
	if window <= 0 {
		return nil, wrap(ErrBadQuery, "empty window of %s", window)
	}
	if step <= 0 {
		return nil, wrap(ErrBadQuery, "range step %s: give a positive step", step)
	}
	first, last = first.UTC(), last.UTC()
	out := map[time.Time]*Result{}
	chunk := int64(maxRangePoints)
	for start := first; !start.After(last); start = start.Add(time.Duration(chunk) * step) {
		points := min(int64(last.Sub(start)/step)+1, chunk)
		end := start.Add(time.Duration(points-1) * step)
		r := v1.Range{Start: start.Add(-time.Millisecond), End: end.Add(-time.Millisecond), Step: step}
		values, err := s.matrix(ctx, e.value, r)
		samples := map[int64][]reading{}
		if err == nil && e.samples != "" {
			if samples, err = s.matrix(ctx, e.samples, r); err != nil {
				err = fmt.Errorf("samples: %w", err)
			}
		}
		var tooLarge *promTooLarge
		if errors.As(err, &tooLarge) && tooLarge.bytes && points > 1 {
			// Past MaxPrometheusResponseBytes: ask again for half as many
			// points per request; series are no fewer that way, so only the
			// byte limit is retried.
			chunk = (points + 1) / 2
			start = start.Add(-time.Duration(chunk) * step) // the loop adds it back
			continue
		}
		if err != nil {
			return nil, err
		}
		for i := int64(0); i < points; i++ {
			at := r.Start.Add(time.Duration(i) * step)
			res, err := e.fold(q.Segments, at, values[at.UnixMilli()], samples[at.UnixMilli()])
			if err != nil {
				return nil, err
			}
			out[at.Add(time.Millisecond)] = res
		}
	}
	return out, nil
}

// matrix runs one range query and returns its series split by evaluation
// time, in milliseconds since the epoch.
func (s *promSource) matrix(ctx context.Context, expr string, r v1.Range) (map[int64][]reading, error) {
	v, err := s.call(ctx, func(ctx context.Context) (model.Value, v1.Warnings, error) {
		return s.api.QueryRange(ctx, expr, r, v1.WithTimeout(s.timeout))
	})
	if err != nil {
		return nil, err
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, wrap(ErrBadQuery, "%s returns a %s over a range, not a matrix", expr, v.Type())
	}
	out := map[int64][]reading{}
	for _, series := range m {
		labels := series.Metric
		if labels == nil {
			labels = model.Metric{}
		}
		for _, p := range series.Values {
			ms := int64(p.Timestamp)
			out[ms] = append(out[ms], reading{labels: labels, value: float64(p.Value)})
		}
	}
	return out, nil
}
