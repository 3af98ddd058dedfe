package engine

import (
	"context"
	"errors"
	"math"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// maxFeedIntervals bounds the intervals of new data one evaluation feeds
// the detector, so a metric suspended for months catches up over several
// evaluations instead of holding a worker.
const maxFeedIntervals = 60

// DetectionHorizon is the horizon of the detectable shift in status.
const DetectionHorizon = 14 * 24 * time.Hour

// feed steps the CUSUM over every interval of new data since the last
// evaluation, exactly once, and reports the open episodes. Each segment is
// measured against its own reference (refs); segments without one are
// neither fed nor counted in the threshold's budget.
func feed(ctx context.Context, src source.Source, episodes *episodeReads, m Metric, refs references, win *source.Result, prior Prior,
	windowEnd time.Time, res *Evaluation) error {
	all, err := contributions(m.Definition, win)
	if err != nil {
		return rejected(err)
	}
	windowContrib := refs.judged(all)
	target := *refs.overall
	obj := m.Objective
	shift := m.shift(target)
	var cal *Calibration
	if prior.Detector != nil {
		cal = prior.Detector.Calibration
	}
	if needsCalibration(cal, windowEnd) {
		if cal, err = calibrate(ctx, src, m, shift, windowEnd); err != nil {
			return err
		}
	}
	cfg, perMonth, err := detect.Configure(detect.Setup{Direction: detect.Direction(obj.Direction), Reference: target,
		Shift: obj.MinShift, Formula: m.Definition.Formula, Budget: obj.Budget, Window: windowContrib,
		WindowLength: m.Window, Interval: m.Interval, Calibration: cal.detect(), MinSamples: float64(obj.MinSamples),
		BaselineUnits: refs.baselineUnits(windowContrib, res.Baseline, cal), Null: detect.NullOf(m.Definition, win.Overall)})
	if errors.Is(err, detect.ErrNoVolume) {
		res.Detector = prior.Detector
		return nil
	}
	if err != nil {
		return rejected(err)
	}
	state, fedUntil := prior.Detector.detectState()
	warmed := !fedUntil.IsZero()
	if !warmed {
		// First evaluation: warm the detector on the window's history.
		fedUntil = res.WindowStart
	}
	// fedUntil moves only past intervals that held data, so an evaluation
	// that finds nothing new writes nothing, and rows that arrive late in
	// an empty interval are still fed once.
	next := fedUntil
	// A feed too large for one history (the warm-up of a Metric of
	// 10,000 accounts) is read part by part, each stepped and dropped
	// before the next is read, sized from the window's segments and
	// samples.
	for _, bounds := range historyParts(m, int64(len(win.Segments)), int64(win.Overall.Total.N), feedBounds(m, fedUntil, windowEnd)) {
		rs, err := history(ctx, src, m, m.Query, bounds)
		if err != nil {
			return unavailable("new data", err)
		}
		for i, r := range rs {
			if r == nil || r.Overall.Total.N == 0 {
				continue
			}
			from, to := bounds[i], bounds[i+1]
			batch, err := contributions(m.Definition, r)
			if err != nil {
				return rejected(err)
			}
			state = refs.step(cfg, state, detect.Batch{From: from, To: to, Segments: batch})
			rs[i] = nil
			next = to
		}
	}
	switch {
	case next.After(fedUntil):
		fedUntil = next
	case !warmed:
		fedUntil = time.Time{}
	}
	if err := keepEvidence(state, m.Query); err != nil {
		return err
	}

	segments := float64(len(windowContrib))
	perDay := perMonth / 30 / segments
	det := &Detector{FedUntil: second(fedUntil), Threshold: Round(cfg.Threshold), SegmentsMonitored: int32(segments),
		DetectionHorizon: DetectionHorizon.String(), Segments: segmentsOf(state), Calibration: cal}
	if shift, ok := cfg.DetectableShift(perDay, DetectionHorizon, 100*cfg.Shift); ok {
		det.DetectableShift = ptr(Round(shift))
	}
	if delay, ok := cfg.ExpectedDelay(cfg.Shift, perDay); ok {
		det.ExpectedDelay = delay.Round(time.Hour).String()
	}
	if median, smallest, ok := segmentVolumes(windowContrib, cfg, m); ok {
		if shift, ok := cfg.DetectableShift(median, DetectionHorizon, 100*cfg.Shift); ok {
			det.DetectableShiftMedianSegment = ptr(Round(shift))
		}
		if shift, ok := cfg.DetectableShift(smallest, DetectionHorizon, 100*cfg.Shift); ok {
			det.DetectableShiftSmallestSegment = ptr(Round(shift))
		}
	}
	res.Detector = det

	estimates := map[string]Outcome{"": res.Overall}
	for _, s := range res.Segments {
		estimates[s.Segment] = s
	}
	totalWeight := win.Overall.Total.W
	episodes.expect(state)
	for _, s := range det.Segments {
		segTarget := refs.of(s.Segment)
		if !s.Open() || segTarget == nil {
			continue
		}
		values := map[string]string{}
		if seg, ok := win.Segments[s.Segment]; ok {
			values = seg.Values
		} else if v, err := source.ParseSegmentKey(s.Segment); err == nil {
			values = v
		}
		ep := Episode{Segment: s.Segment, Values: values, Start: s.EpisodeStart, WeightShare: 1,
			Evidence:  Evidence{Statistic: s.Statistic, Threshold: det.Threshold, Samples: s.Samples},
			Objective: TaskObjective{Direction: obj.Direction, Target: *segTarget, MinShift: cfg.Shift}}
		// The evidence's value is the mean of the episode's own data.
		r, err := src.Query(ctx, m.Definition, ForSegment(m.Query, values), s.Since, windowEnd)
		if err != nil {
			return unavailable("episode data", err)
		}
		if c, err := measure.Contributions(m.Definition, r.Overall); err == nil && c.Units.N > 0 {
			ep.Evidence.ObservedValue = ptr(Round(c.Mean()))
		}
		if o, ok := estimates[s.Segment]; ok && o.Value != nil {
			ep.Gap = gapOf(obj.Direction, *segTarget, *o.Value, cfg.Shift)
			ep.Baseline = &TaskBaseline{Value: *o.Value, Lower: *o.Lower, Upper: *o.Upper, Samples: o.Samples,
				WindowStart: res.WindowStart, WindowEnd: res.WindowEnd}
		}
		if b, relative := refs.taskBaseline(s.Segment, res.Baseline); relative {
			ep.Baseline = b
		}
		if seg, ok := win.Segments[s.Segment]; ok && totalWeight > 0 && s.Segment != "" {
			ep.WeightShare = seg.Stats.Total.W / totalWeight
		}
		res.Episodes = append(res.Episodes, ep)
	}
	return nil
}

// feedBounds are the bounds of the intervals of new data one evaluation
// feeds, from fedUntil on, one interval at a time while it starts before
// windowEnd, at most maxFeedIntervals: a first evaluation's warm-up over
// the window and a catch-up after downtime are read as one history.
func feedBounds(m Metric, fedUntil, windowEnd time.Time) []time.Time {
	if !fedUntil.Before(windowEnd) {
		return nil
	}
	bounds := []time.Time{fedUntil}
	for from := fedUntil; len(bounds) <= maxFeedIntervals && from.Before(windowEnd); {
		to := AddWall(from, m.Interval, m.Location)
		if !to.After(from) {
			// A wall time a daylight-saving change skips maps forward
			// onto from: one interval more.
			to = AddWall(to, m.Interval, m.Location)
		}
		bounds = append(bounds, to)
		from = to
	}
	return bounds
}

// contributions turns a result into per-segment contributions, the whole
// population under "".
func contributions(def measure.Definition, r *source.Result) (map[string]measure.Contribution, error) {
	out := make(map[string]measure.Contribution, len(r.Segments)+1)
	c, err := measure.Contributions(def, r.Overall)
	if err != nil {
		return nil, err
	}
	out[""] = c
	for k, s := range r.Segments {
		c, err := measure.Contributions(def, s.Stats)
		if err != nil {
			return nil, err
		}
		out[k] = c
	}
	return out, nil
}

// ForSegment narrows a query to one segment's rows, with a bound equality
// filter per segment column.
func ForSegment(q source.Query, values map[string]string) source.Query {
	out := q
	out.Filters = append([]source.Filter(nil), q.Filters...)
	for _, col := range q.Segments {
		if v, ok := values[col]; ok {
			out.Filters = append(out.Filters, source.Filter{Column: col, Operator: source.Equals, Values: []string{v}})
		}
	}
	out.Segments = nil
	return out
}

// segmentVolumes are the effective units a day of the median and the
// smallest segment with data in the window (the whole population left
// out), under the detector's dispersion; ok is false without segments.
func segmentVolumes(window map[string]measure.Contribution, cfg detect.Config, m Metric) (median, smallest float64, ok bool) {
	intervals := math.Max(1, float64(m.Window)/float64(m.Interval))
	perDay := float64(24*time.Hour) / float64(m.Interval)
	var days []float64
	for key, c := range window {
		n := c.Units.EffectiveN()
		if key == "" || !(n > 0) {
			continue
		}
		days = append(days, detect.Effective(n/intervals, cfg.Sigma, cfg.Dispersion)*perDay)
	}
	if len(days) == 0 {
		return 0, 0, false
	}
	sort.Float64s(days)
	return days[len(days)/2], days[0], true
}

// baselineUnits is how many independent units a relative objective's
// frozen baseline is worth (zero for a fixed target): its samples, fewer
// under the calibration's dispersion, since the baseline's mean varies by
// D per interval it spans beyond its sampling noise. Its error reaches the
// threshold (detect.CalibrateWithBaseline's averaging).
func baselineUnits(m Metric, b *Baseline, cal *Calibration) float64 {
	if m.Objective.Target != nil || b == nil || b.Samples <= 0 {
		return 0
	}
	n := float64(b.Samples)
	if cal == nil || m.Interval <= 0 {
		return n
	}
	intervals := math.Max(1, float64(b.WindowEnd.Sub(b.WindowStart))/float64(m.Interval))
	return detect.Effective(n, cal.Sigma, cal.Dispersion/intervals)
}
