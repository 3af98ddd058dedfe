package engine

import (
	"math"
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
// edges of the metric's exclusions (an open episode's start is a cut
// while the history stays within episodeCutStatistics, and the other
// open episodes are read from one history narrowed to their segments,
// alongside); when the calibration is due its year
// of steps runs on the same history, before the window. The window is the
// merge of the buckets it covers, so a steady evaluation of a daily
// 30-day window holds two buckets per segment instead of thirty, and one
// round trip answers it however many segments the metric has. A metric
// judged on tumbling windows keeps one bucket per interval. Reads off the
// cuts go to src as before.
func evaluationReads(src source.Source, m Metric, prior Prior, windowStart, windowEnd time.Time) (source.Source, *episodeReads) {
	if m.Interval <= 0 || !windowEnd.After(windowStart) {
		return src, nil
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
	reads := source.PrefetchReads(src, bounds)
	if !detects || source.DerivesSegments(reads) {
		// A replay's prefetch answers every episode's evidence from
		// its own buckets.
		return reads, nil
	}
	episodes := newEpisodeReads(reads, m, bounds, windowEnd)
	if episodes == nil {
		return reads, nil
	}
	state, _ := prior.Detector.detectState()
	episodes.predict(state)
	return episodes, episodes
}

// evaluationCuts are the bounds of the history an evaluation of a metric
// with per-unit contributions reads, in [start, windowEnd]: the instants
// its reads start and end at (see evaluationReads). detects says whether
// the detector is fed. An episode's start is a cut for the open
// segments first, then for the other segments whose statistic is running
// (an episode may open from it in this evaluation, its evidence read
// from there), as many as keep the history within episodeCutStatistics
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
	var open, running []detect.SegmentState
	for key, s := range state {
		switch {
		case s.Since.IsZero():
		case key == "":
			// The population's evidence is no segment of the narrowed
			// history (episodeReads): its start is always a cut, open
			// or about to open.
			add(s.Since)
		case s.Open():
			open = append(open, s)
		default:
			running = append(running, s)
		}
	}
	cuts = sortedCuts(cuts)
	byStatistic := func(ss []detect.SegmentState) {
		sort.Slice(ss, func(i, j int) bool {
			if ss[i].Statistic != ss[j].Statistic {
				return ss[i].Statistic > ss[j].Statistic
			}
			return ss[i].Since.Before(ss[j].Since)
		})
	}
	byStatistic(open)
	byStatistic(running)
	if len(open)+len(running) == 0 {
		return cuts
	}
	// Open episodes come first; those whose start is not a cut are read
	// from one history of their own segments (episodeReads).
	for _, s := range append(open, running...) {
		if !s.Since.After(start) || !s.Since.Before(windowEnd) || slices.ContainsFunc(cuts, s.Since.Equal) {
			continue
		}
		more := sortedCuts(append(slices.Clone(cuts), s.Since))
		if historyStatistics(m, int64(prior.Detector.SegmentsMonitored), prior.Samples, more) > episodeCutStatistics {
			break
		}
		cuts = more
	}
	return cuts
}

// episodeCutStatistics bounds the statistics of a history with its
// segments' episode starts cut: a quarter of what one history may hold.
// Each cut splits a bucket for every segment, so a Metric of 10,000
// accounts keeps its window and new interval in the history and reads
// its episodes' evidence from the history narrowed to their segments,
// which costs a few statistics per episode instead of a bucket of every
// segment; a Metric of a few segments cuts at every start.
const episodeCutStatistics = source.MaxHistoryStatistics / 4

// historySlack is how much more than the last window's rate of samples a
// span is priced at: a day's volume varies around the window's mean.
const historySlack = 1.25

// historyStatistics estimates the statistics a history cut at cuts holds:
// each bucket at most the segments and the population, and no more
// segments than samples, priced at the last window's rate (samples over
// the window), so a bucket of a day of a Metric whose 10,000 accounts
// answer every few days costs the day's accounts, not 10,000. Without
// samples every bucket holds every segment.
func historyStatistics(m Metric, segments, samples int64, cuts []time.Time) int64 {
	var total int64
	for i := 1; i < len(cuts); i++ {
		n := segments
		if samples > 0 && m.Window > 0 {
			span := float64(cuts[i].Sub(cuts[i-1])) / float64(m.Window)
			n = min(segments, int64(math.Ceil(historySlack*span*float64(samples))))
		}
		total += n + 1
	}
	return total
}

// historyParts splits bounds into consecutive parts, each sharing its
// last bound with the next one's first, halved (as source.History halves
// a history too large) until each is estimated within
// source.MaxHistoryStatistics (historyStatistics): a history read and
// dropped part by part holds one part at a time, and none is a doomed
// attempt at the whole.
func historyParts(m Metric, segments, samples int64, bounds []time.Time) [][]time.Time {
	if len(bounds) <= 2 || historyStatistics(m, segments, samples, bounds) <= source.MaxHistoryStatistics {
		return [][]time.Time{bounds}
	}
	mid := len(bounds) / 2
	return append(historyParts(m, segments, samples, bounds[:mid+1]), historyParts(m, segments, samples, bounds[mid:])...)
}

// sortedCuts sorts instants and drops repeats.
func sortedCuts(cuts []time.Time) []time.Time {
	slices.SortFunc(cuts, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(cuts, func(a, b time.Time) bool { return a.Equal(b) })
}
