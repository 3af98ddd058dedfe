package engine

import (
	"context"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// The calibration is measured at the first evaluation and again as the
// history grows: every calibrationRefreshWhileShort while it is still
// calibrating (too little history), every calibrationRefresh after.
const (
	calibrationRefreshWhileShort = 30 * 24 * time.Hour
	calibrationRefresh           = 90 * 24 * time.Hour
)

// calibrationStep is the span of one batch of a calibration: the metric's
// interval, or a day for metrics evaluated more often, so a year of
// history takes at most 365 reads. The dispersion is converted back to
// the metric's interval (a long-run variance per unit of time is the same
// at any step).
func calibrationStep(interval time.Duration) time.Duration {
	if interval < 24*time.Hour {
		return 24 * time.Hour
	}
	return interval
}

// needsCalibration reports whether the detector's calibration is missing
// or due again at windowEnd.
func needsCalibration(c *Calibration, windowEnd time.Time) bool {
	if c == nil {
		return true
	}
	age := windowEnd.Sub(c.CalibratedAt)
	if c.Calibrating {
		return age >= calibrationRefreshWhileShort
	}
	return age >= calibrationRefresh
}

// calibrate reads up to a year of the metric's history before the window
// that ends at windowEnd, one batch per calibration step, and measures its
// dispersion. The window itself is left out: a drop in it, the very thing
// the detector is to find, would read as dispersion and hide itself.
// The steps are read as one history (source.History).
func calibrate(ctx context.Context, src source.Source, m Metric, shift float64, windowEnd time.Time) (*Calibration, error) {
	step := calibrationStep(m.Interval)
	end := AddWall(windowEnd, -m.Window, m.Location)
	start := AddWall(end, -detect.CalibrationHistory, m.Location)
	var batches []detect.IntervalBatch
	var units float64
	// The whole year in one history read: one GROUP BY on the step's
	// bucket where the source can, one query per step where it cannot.
	rs, err := history(ctx, src, m, calibrationQuery(m.Query), wallSteps(m, start, end, step, 0))
	if err != nil {
		return nil, unavailable("calibration history", err)
	}
	for _, r := range rs {
		// A step without units before the first with units is left out
		// (the history had not started); one after it is a batch of none.
		if r == nil {
			r = &source.Result{Overall: &measure.Stats{}}
		}
		if r.Overall.Total.N > 0 || len(batches) > 0 {
			c, err := contributions(m.Definition, &source.Result{Overall: r.Overall})
			if err != nil {
				return nil, rejected(err)
			}
			all := c[""]
			n := all.Units.EffectiveN()
			// The per-unit variance the batch's mean actually has: n times
			// its cluster-robust (or weighted sandwich) variance, so units
			// of one account answering alike, or heavy accounts at the
			// extremes, count as sampling noise and not as mood. Without
			// clusters and with unit weights it is Variance() itself.
			batches = append(batches, detect.IntervalBatch{Units: n, Mean: all.Mean(), Variance: n * all.MeanVariance()})
			units += n
		}
	}
	seen := time.Duration(0)
	if len(batches) > 0 {
		seen = m.Window // the window exists, but is left out of the estimate
	}
	cal := detect.CalibrateHistory(batches, step, shift, seen)
	// Back to the metric's interval: D per interval scales with its length.
	ratio := float64(step) / float64(m.Interval)
	out := &Calibration{CalibratedAt: second(windowEnd), Sigma: Round(cal.Sigma), Dispersion: Round(cal.Dispersion * ratio),
		DispersionError: Round(cal.DispersionError * ratio),
		CorrelationTime: cal.CorrelationTime.Round(time.Hour), History: cal.History, Calibrating: cal.Calibrating, VarianceInflation: 1}
	if len(batches) > 0 && cal.Sigma > 0 {
		perInterval := units / float64(len(batches)) / ratio
		out.VarianceInflation = Round(1 + perInterval*out.Dispersion/(cal.Sigma*cal.Sigma))
	}
	return out, nil
}

// calibrationQuery is what a calibration reads of q: only the whole
// population's statistics are used, so without a cluster column it is
// q without its segments, one statistic a step where q's history of a
// Metric of 10,000 accounts would hold thousands (an evaluation takes it
// from q's own buckets when it has them: source.PrefetchHistory). With
// one it is q itself, whose population merges its segments' cluster sums
// as the window's does.
func calibrationQuery(q source.Query) source.Query {
	if q.Cluster != "" {
		return q
	}
	q.Segments = nil
	return q
}
