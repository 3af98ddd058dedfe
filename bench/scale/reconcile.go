package main

import (
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// reconcileTimes is the Metric controller's reconcile-time histogram
// (controller-runtime's own): cumulative counts per bucket.
type reconcileTimes struct {
	upper  []float64 // bucket upper bounds, seconds
	counts []float64 // cumulative counts per bucket
}

func reconcileTimesOf(families map[string]*dto.MetricFamily) reconcileTimes {
	var r reconcileTimes
	for _, m := range families["controller_runtime_reconcile_time_seconds"].GetMetric() {
		if label(m, "controller") != "metric" {
			continue
		}
		for _, b := range m.GetHistogram().GetBucket() {
			r.upper = append(r.upper, b.GetUpperBound())
			r.counts = append(r.counts, float64(b.GetCumulativeCount()))
		}
	}
	return r
}

// minus is the histogram of the reconciles since before.
func (r reconcileTimes) minus(before reconcileTimes) reconcileTimes {
	out := reconcileTimes{upper: r.upper, counts: append([]float64(nil), r.counts...)}
	if len(before.counts) == len(out.counts) {
		for i := range out.counts {
			out.counts[i] -= before.counts[i]
		}
	}
	return out
}

// plus adds another manager's histogram of the same buckets.
func (r reconcileTimes) plus(o reconcileTimes) reconcileTimes {
	if len(r.counts) == 0 {
		return o
	}
	out := reconcileTimes{upper: r.upper, counts: append([]float64(nil), r.counts...)}
	if len(o.counts) == len(out.counts) {
		for i := range out.counts {
			out.counts[i] += o.counts[i]
		}
	}
	return out
}

// quantile interpolates linearly within the bucket that holds quantile f.
func (r reconcileTimes) quantile(f float64) time.Duration {
	if len(r.counts) == 0 || r.counts[len(r.counts)-1] == 0 {
		return 0
	}
	want := f * r.counts[len(r.counts)-1]
	lower, below := 0.0, 0.0
	for i, c := range r.counts {
		if c >= want {
			upper := r.upper[i]
			if math.IsInf(upper, 1) {
				upper = lower
			}
			share := 0.0
			if c > below {
				share = (want - below) / (c - below)
			}
			return time.Duration((lower + share*(upper-lower)) * float64(time.Second))
		}
		lower, below = r.upper[i], c
	}
	return time.Duration(lower * float64(time.Second))
}
