package engine

import (
	"context"
	"fmt"
	"math"
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
	cal := &Calibration{CalibratedAt: second(closed)}
	if det.Calibration != nil {
		*cal = *det.Calibration
		cal.WindowValues = append([]float64(nil), det.Calibration.WindowValues...)
	} else if cal.WindowValues, err = pastWindows(ctx, src, m, from); err != nil {
		return err
	}
	spread := windowSpread(cal.WindowValues, m.shift(target))
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
		se := est.StdErr
		// A segment's windows spread more than the whole population's, by
		// the square root of its smaller volume.
		if floor := spread * math.Sqrt(math.Max(1, float64(r.Overall.Total.N)/math.Max(1, float64(stats.Total.N)))); floor > se {
			se = floor
		}
		breach := detect.TumblingBreach(detect.Direction(obj.Direction), est.Value, se, target, m.shift(target), level)
		if k == "" && !breach {
			// Only windows judged in control say how windows spread: a
			// drop's own windows would widen the test that is to find it.
			cal.WindowValues = append(cal.WindowValues, Round(est.Value))
			if n := len(cal.WindowValues); n > maxWindowValues {
				cal.WindowValues = cal.WindowValues[n-maxWindowValues:]
			}
		}
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
	det.Calibration = cal
	det.FedUntil = second(closed)
	det.SegmentsMonitored = int32(len(r.Segments) + 1)
	det.DetectionHorizon = m.Window.String()
	res.Episodes = tumblingEpisodes(det, m, target)
	res.Message = fmt.Sprintf("%s has no per-unit contributions: tasks open from non-overlapping %s windows at level %.3g each",
		m.Definition.Formula, m.Window, level)
	return nil
}

// maxWindowValues is how many closed windows' values a tumbling detector
// keeps.
const maxWindowValues = 12

// minWindowValues is how many past windows' values it takes to estimate
// their spread.
const minWindowValues = 2

// pastWindows reads the values of up to maxWindowValues closed windows
// before from, oldest first, at the first evaluation; windows without a
// value are left out.
func pastWindows(ctx context.Context, src source.Source, m Metric, from time.Time) ([]float64, error) {
	var values []float64
	for i := maxWindowValues; i >= 1; i-- {
		start := AddWall(from, -time.Duration(i)*m.Window, m.Location)
		end := AddWall(start, m.Window, m.Location)
		r, err := src.Query(ctx, m.Definition, m.Query, start, end)
		if err != nil {
			return nil, unavailable("past tumbling windows", err)
		}
		est, err := measure.Compute(m.Definition, r.Overall, m.Objective.Confidence, m.Objective.MinSamples)
		if err == nil && est.Sufficient && !math.IsNaN(est.Value) {
			values = append(values, Round(est.Value))
		}
	}
	return values, nil
}

// windowSpread is the standard error a window's value is judged with at
// the least: the standard deviation of past windows' values, a level that
// moved included (which only makes the test stricter), and half the
// minimum shift while fewer than minWindowValues windows are known, so a
// formula without sampling error (a sum, a count, a ratio of sums) is
// never judged as exact.
func windowSpread(values []float64, shift float64) float64 {
	if len(values) < minWindowValues {
		return shift / 2
	}
	var mean float64
	for _, v := range values {
		mean += v
	}
	mean /= float64(len(values))
	var ss float64
	for _, v := range values {
		ss += (v - mean) * (v - mean)
	}
	return math.Sqrt(ss / float64(len(values)-1))
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
			Gap:       gapOf(m.Objective.Direction, target, v, m.shift(target)),
			Evidence:  Evidence{Statistic: v, ObservedValue: &v},
			Objective: TaskObjective{Direction: m.Objective.Direction, Target: target, MinShift: m.shift(target)}})
	}
	return eps
}
