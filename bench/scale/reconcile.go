package main

import (
	"math"
	"time"

	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// reconcileTimes is the Metric controller's reconcile-time histogram
// (controller-runtime's own) over one phase: the counts per bucket added
// since the phase began.
type reconcileTimes struct {
	upper  []float64 // bucket upper bounds, seconds
	counts []float64 // cumulative counts per bucket
}

func gatherReconcileTimes() reconcileTimes {
	var r reconcileTimes
	families, _ := crmetrics.Registry.Gather()
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_time_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			metric := false
			for _, l := range m.GetLabel() {
				metric = metric || (l.GetName() == "controller" && l.GetValue() == "metric")
			}
			if !metric {
				continue
			}
			for _, b := range m.GetHistogram().GetBucket() {
				r.upper = append(r.upper, b.GetUpperBound())
				r.counts = append(r.counts, float64(b.GetCumulativeCount()))
			}
		}
	}
	return r
}

// phaseTimes measures reconcile times from now on.
type phaseTimes struct{ start reconcileTimes }

func newReconcileTimes() phaseTimes { return phaseTimes{start: gatherReconcileTimes()} }

func (p phaseTimes) since() reconcileTimes {
	now := gatherReconcileTimes()
	if len(p.start.counts) == len(now.counts) {
		for i := range now.counts {
			now.counts[i] -= p.start.counts[i]
		}
	}
	return now
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
