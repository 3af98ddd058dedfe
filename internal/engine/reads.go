package engine

import (
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/source"
)

// evaluationReads wraps src so that one evaluation's reads on the
// metric's interval grid are answered from one history of interval
// buckets (source.PrefetchHistory) where the source answers histories:
// the window is the merge of its intervals' buckets, the detector's feed
// is the buckets of the intervals since it was last fed, an episode's
// evidence is its segment's buckets, and when the calibration is due its
// year of steps runs on the same grid before the window. A steady
// evaluation then costs one round trip, the first one (or a
// recalibration) one too. Reads off the grid go to src as before.
func evaluationReads(src source.Source, m Metric, prior Prior, windowStart, windowEnd time.Time) source.Source {
	if m.Interval <= 0 || !windowEnd.After(windowStart) {
		return src
	}
	start := windowStart
	var before []time.Time
	if m.Objective.Target != nil || m.Objective.Relative != nil {
		var cal *Calibration
		if prior.Detector != nil {
			cal = prior.Detector.Calibration
		}
		if needsCalibration(cal, windowEnd) {
			// The calibration's steps, as calibrate reads them: they end
			// where the window starts.
			calStart := AddWall(windowStart, -detect.CalibrationHistory, m.Location)
			before = wallSteps(m, calStart, windowStart, calibrationStep(m.Interval), 0)
		} else if _, fedUntil := prior.Detector.detectState(); !fedUntil.IsZero() && fedUntil.Before(windowStart) &&
			!fedUntil.Before(AddWall(windowStart, -m.Window, m.Location)) {
			// A feed that starts before the window, within a window of it.
			start = fedUntil
		}
	}
	bounds := wallSteps(m, start, windowEnd, m.Interval, 0)
	if len(before) > 1 {
		bounds = append(before[:len(before)-1], bounds...)
	}
	return source.PrefetchHistory(src, bounds)
}
