package engine

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// tumble opens episodes for a metric without per-unit contributions (a
// ratio of sums, a gauge) from non-overlapping windows: each window of the
// metric's length, aligned like every evaluation, is judged once when it
// closes, at the per-window level that keeps the monthly false-task budget
// across segments. An episode stays open while closed windows breach and
// ends at the first window that does not.
func tumble(ctx context.Context, src source.Source, m Metric, target float64, prior Prior, windowEnd time.Time, res *Evaluation) error {
	obj := m.Objective
	det := &Detector{}
	if prior.Detector != nil {
		*det = *prior.Detector
		det.Segments = append([]SegmentState(nil), prior.Detector.Segments...)
	}
	res.Detector = det
	closed := tumblingEnd(windowEnd, m)
	if !det.FedUntil.IsZero() && !closed.After(det.FedUntil) {
		res.Episodes = tumblingEpisodes(det, m, target)
		return nil
	}
	from := AddWall(closed, -m.Window, m.Location)
	r, err := src.Query(ctx, m.Definition, m.Query, from, closed)
	if err != nil {
		return unavailable("tumbling window", err)
	}
	level, err := detect.TumblingLevel(obj.Budget, m.Window, len(r.Segments)+1)
	if err != nil {
		return rejected(err)
	}
	judged := map[string]*measure.Stats{"": r.Overall}
	for k, seg := range r.Segments {
		judged[k] = seg.Stats
	}
	kept := map[string]SegmentState{}
	for _, s := range det.Segments {
		kept[s.Segment] = s
	}
	for k, stats := range judged {
		est, err := measure.Compute(m.Definition, stats, obj.Confidence, obj.MinSamples)
		if err != nil || !est.Sufficient {
			continue // missing data never opens or closes anything
		}
		breach := detect.TumblingBreach(detect.Direction(obj.Direction), est.Value, est.StdErr, target, m.shift(), level)
		cur, open := kept[k]
		switch {
		case breach && !open:
			kept[k] = SegmentState{Segment: k, Statistic: Round(est.Value), EpisodeStart: second(from)}
		case breach:
			cur.Statistic = Round(est.Value)
			kept[k] = cur
		case open:
			delete(kept, k)
		}
	}
	det.Segments = det.Segments[:0]
	for _, s := range kept {
		det.Segments = append(det.Segments, s)
	}
	sort.Slice(det.Segments, func(i, j int) bool { return det.Segments[i].Segment < det.Segments[j].Segment })
	det.FedUntil = second(closed)
	det.SegmentsMonitored = int32(len(r.Segments) + 1)
	det.DetectionHorizon = m.Window.String()
	res.Episodes = tumblingEpisodes(det, m, target)
	res.Message = fmt.Sprintf("%s has no per-unit contributions: tasks open from non-overlapping %s windows at level %.3g each",
		m.Definition.Formula, m.Window, level)
	return nil
}

// tumblingEnd is the end of the latest closed tumbling window: windows
// are whole multiples of the interval, laid end to end from the origin.
func tumblingEnd(windowEnd time.Time, m Metric) time.Time {
	return Align(windowEnd, m.Window, m.Location)
}

// tumblingEpisodes lists the episodes a tumbling-window detector holds
// open.
func tumblingEpisodes(det *Detector, m Metric, target float64) []Episode {
	var eps []Episode
	for _, s := range det.Segments {
		if !s.Open() {
			continue
		}
		values, err := source.ParseSegmentKey(s.Segment)
		if err != nil {
			values = map[string]string{}
		}
		v := s.Statistic
		eps = append(eps, Episode{Segment: s.Segment, Values: values, Start: s.EpisodeStart, WeightShare: 1,
			Gap:       gapOf(m.Objective.Direction, target, v, m.shift()),
			Evidence:  Evidence{Statistic: v, ObservedValue: &v},
			Objective: TaskObjective{Direction: m.Objective.Direction, Target: target, MinShift: m.shift()}})
	}
	return eps
}
