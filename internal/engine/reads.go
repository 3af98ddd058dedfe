package engine

import (
	"slices"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// evaluationReads wraps src so that one evaluation's reads are answered
// from one history (source.PrefetchReads) where the source answers
// histories. The history's buckets are cut only where a read starts or
// ends: the window's start and end, the detector's feed (one bucket per
// interval since it was last fed), the start of every episode the
// detector holds evidence of (its evidence is read from there), and the
// edges of the metric's exclusions; when the calibration is due its year
// of steps runs on the same history, before the window. The window is the
// merge of the buckets it covers, so a steady evaluation of a daily
// 30-day window holds two buckets per segment instead of thirty, and one
// round trip answers it however many segments the metric has. A metric
// judged on tumbling windows keeps one bucket per interval. Reads off the
// cuts go to src as before.
func evaluationReads(src source.Source, m Metric, prior Prior, windowStart, windowEnd time.Time) source.Source {
	if m.Interval <= 0 || !windowEnd.After(windowStart) {
		return src
	}
	start := windowStart
	var before []time.Time
	detects := m.Objective.Target != nil || m.Objective.Relative != nil
	if detects {
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
	var bounds []time.Time
	if detects && measure.HasUnits(m.Definition) != nil {
		bounds = wallSteps(m, start, windowEnd, m.Interval, 0)
	} else {
		bounds = evaluationCuts(m, skipExcluded(m, prior), detects, start, windowStart, windowEnd)
	}
	if len(before) > 1 {
		bounds = append(before[:len(before)-1], bounds...)
	}
	return source.PrefetchReads(src, bounds)
}

// evaluationCuts are the bounds of the history an evaluation of a metric
// with per-unit contributions reads, in [start, windowEnd]: the instants
// its reads start and end at (see evaluationReads). detects says whether
// the detector is fed. An episode's start is a cut when its segment is
// open, and for the other segments whose statistic is running (an
// episode may open from it in this evaluation, its evidence read from
// there), as many as keep the history within source.MaxHistoryStatistics
// at the segments the detector last monitored, the highest statistics
// first.
func evaluationCuts(m Metric, prior Prior, detects bool, start, windowStart, windowEnd time.Time) []time.Time {
	var cuts []time.Time
	add := func(t time.Time) {
		if !t.Before(start) && !t.After(windowEnd) {
			cuts = append(cuts, t)
		}
	}
	add(start)
	add(windowStart)
	add(windowEnd)
	for _, p := range m.included(start, windowEnd) {
		add(p.from)
		add(p.to)
	}
	if !detects {
		return sortedCuts(cuts)
	}
	state, fedUntil := prior.Detector.detectState()
	if fedUntil.IsZero() {
		// The first feed warms the detector on the window.
		fedUntil = windowStart
	}
	if !fedUntil.Before(start) {
		for _, b := range feedBounds(m, fedUntil, windowEnd) {
			add(b)
		}
	}
	var running []detect.SegmentState
	for _, s := range state {
		switch {
		case s.Since.IsZero():
		case s.Open():
			add(s.Since)
		default:
			running = append(running, s)
		}
	}
	cuts = sortedCuts(cuts)
	sort.Slice(running, func(i, j int) bool {
		if running[i].Statistic != running[j].Statistic {
			return running[i].Statistic > running[j].Statistic
		}
		return running[i].Since.Before(running[j].Since)
	})
	if len(running) == 0 {
		return cuts
	}
	// Each bucket holds at most every segment and the population.
	statistics := int64(prior.Detector.SegmentsMonitored) + 1
	for _, s := range running {
		if int64(len(cuts))*statistics > source.MaxHistoryStatistics {
			break
		}
		if s.Since.After(start) && s.Since.Before(windowEnd) {
			cuts = sortedCuts(append(cuts, s.Since))
		}
	}
	return cuts
}

// sortedCuts sorts instants and drops repeats.
func sortedCuts(cuts []time.Time) []time.Time {
	slices.SortFunc(cuts, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(cuts, func(a, b time.Time) bool { return a.Equal(b) })
}
