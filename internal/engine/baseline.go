package engine

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// SegmentBaseline is one segment's frozen baseline under a relative
// objective: a segmented metric judges each segment against its own level,
// so an account that always sits at 60 is not a drop from the population's
// 75.
type SegmentBaseline struct {
	Segment string
	Baseline
}

// maxBaselineReads bounds the baseline windows one evaluation reads.
// Segments whose eligible window is not among them wait, unjudged, for a
// later evaluation. Most evaluations read none (every baseline is frozen)
// or one (new segments share the window before the current one); segments
// with an open episode of their own and no baseline, which only a status
// written before per-segment baselines holds, each need their own.
const maxBaselineReads = 8

// references are what each segment is judged against: the overall target
// (the fixed target, or the population's baseline moved by the allowed
// change), and under a relative objective with per-unit contributions each
// segment's own frozen baseline moved alike.
type references struct {
	overall *float64
	// own holds the segments' baselines by key; nil when every segment is
	// judged against overall.
	own map[string]Baseline
	m   Metric
}

// of is the target key is judged against; nil for a segment not judged yet
// (no baseline of its own).
func (r references) of(key string) *float64 {
	if key == "" || r.own == nil {
		return r.overall
	}
	b, ok := r.own[key]
	if !ok {
		return nil
	}
	t := relativeTarget(r.m.Objective, b.Value)
	return &t
}

// judged is the part of the window's contributions the detector watches:
// the whole population and every segment with a target.
func (r references) judged(window map[string]measure.Contribution) map[string]measure.Contribution {
	if r.own == nil {
		return window
	}
	out := make(map[string]measure.Contribution, len(r.own)+1)
	for k, c := range window {
		if r.of(k) != nil {
			out[k] = c
		}
	}
	return out
}

// baselineUnits is the smallest effective size among the baselines the
// detector judges against: the threshold is calibrated for one baseline
// error for every segment (detect.Setup.BaselineUnits), so the least
// certain baseline's stands for all. That bound is conservative: the
// segments with larger baselines, the whole population among them, are
// priced as if theirs were as uncertain, which costs their detection speed,
// never the false-task budget.
func (r references) baselineUnits(judged map[string]measure.Contribution, overall *Baseline, cal *Calibration) float64 {
	units := baselineUnits(r.m, overall, cal)
	for k := range judged {
		b, ok := r.own[k]
		if !ok {
			continue
		}
		if u := baselineUnits(r.m, &b, cal); u > 0 && (units <= 0 || u < units) {
			units = u
		}
	}
	return units
}

// step feeds one batch with each segment measured against its own
// reference (cfg's reference moved to the segment's target), and segments
// without one left out; it is detect.Config.Feed otherwise.
func (r references) step(cfg detect.Config, st detect.State, b detect.Batch) detect.State {
	if r.own == nil {
		st, _ = cfg.Feed(st, b)
		return st
	}
	keys := make([]string, 0, len(b.Segments))
	for k := range b.Segments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	next := make(detect.State, len(st))
	for k, v := range st {
		next[k] = v
	}
	for _, k := range keys {
		t := r.of(k)
		if t == nil {
			continue
		}
		c := cfg
		c.Reference = *t
		s, _ := c.Step(next[k], b.Segments[k], b.From, b.To)
		if s.Zero() {
			delete(next, k)
		} else {
			next[k] = s
		}
	}
	return next
}

// taskBaseline is what a task opened for key records as its baseline
// under a relative objective: the frozen baseline the segment was judged
// against (the population's for the whole population). ok is false for a
// fixed target, whose task records the window it was judged on.
func (r references) taskBaseline(key string, overall *Baseline) (*TaskBaseline, bool) {
	if r.m.Objective.Relative == nil {
		return nil, false
	}
	b := overall
	if key != "" && r.own != nil {
		own, ok := r.own[key]
		if !ok {
			return nil, true
		}
		b = &own
	}
	if b == nil {
		return nil, true
	}
	return &TaskBaseline{Value: b.Value, Lower: b.Lower, Upper: b.Upper, Samples: b.Samples,
		WindowStart: b.WindowStart, WindowEnd: b.WindowEnd}, true
}

// relativeTarget is a baseline moved by the objective's allowed change.
func relativeTarget(obj Objective, base float64) float64 {
	if obj.Direction == AtMost {
		return base + obj.Relative.MaxChange
	}
	return base - obj.Relative.MaxChange
}

// baselineReads reads baseline windows, each at most once per evaluation:
// the population's baseline and new segments' usually share one.
type baselineReads struct {
	src   source.Source
	m     Metric
	byEnd map[time.Time]*source.Result
}

// at is the baseline window ending at end: its start and result; a nil
// result once maxBaselineReads windows have been read.
func (b *baselineReads) at(ctx context.Context, end time.Time) (time.Time, *source.Result, error) {
	from := AddWall(end, -b.m.BaselineWindow, b.m.Location)
	if r, ok := b.byEnd[end]; ok {
		return from, r, nil
	}
	if len(b.byEnd) >= maxBaselineReads {
		return from, nil, nil
	}
	r, err := b.src.Query(ctx, b.m.Definition, b.m.Query, from, end)
	if err != nil {
		return from, nil, unavailable("baseline", err)
	}
	if b.byEnd == nil {
		b.byEnd = map[time.Time]*source.Result{}
	}
	b.byEnd[end] = r
	return from, r, nil
}

// eligibleEnd is the end of the latest baseline window of key judged in
// control before windowStart: a window in which the detector holds an
// episode open, for the segment itself or for the whole population, is
// not, so the window ends where the earliest such episode started. The
// detector keeps the episodes still open; a closed one left no evidence
// behind, and a baseline is measured only where none is frozen (a new
// segment, a new definition, a baseline that fell off the status bound).
func eligibleEnd(m Metric, det *Detector, key string, windowStart time.Time) time.Time {
	end := windowStart
	if det == nil {
		return end
	}
	for _, s := range det.Segments {
		if (s.Segment == key || s.Segment == "") && s.Open() && s.EpisodeStart.Before(end) {
			end = Align(s.EpisodeStart, m.Interval, m.Location)
		}
	}
	return end
}

// resolveTarget is the fixed target, or the population's frozen baseline
// moved by the allowed change: measured once, on the latest window judged
// in control before the first window (eligibleEnd), then kept until the
// definition changes.
func resolveTarget(ctx context.Context, reads *baselineReads, m Metric, prior Prior, windowStart time.Time, res *Evaluation) (*float64, error) {
	obj := m.Objective
	if obj.Target != nil {
		return obj.Target, nil
	}
	if obj.Relative == nil {
		return nil, nil
	}
	base := prior.Baseline
	if base == nil {
		end := eligibleEnd(m, prior.Detector, "", windowStart)
		from, r, err := reads.at(ctx, end)
		if err != nil || r == nil {
			return nil, err
		}
		est, err := measure.Compute(m.Definition, r.Overall, obj.Confidence, obj.MinSamples)
		if err != nil {
			return nil, rejected(err)
		}
		if !est.Sufficient {
			return nil, nil
		}
		base = &Baseline{WindowStart: from, WindowEnd: end, Value: est.Value, Lower: est.Lower, Upper: est.Upper,
			Samples: int64(est.NEff)}
	}
	res.Baseline = base
	t := relativeTarget(obj, base.Value)
	return &t, nil
}

// segmentReferences are the references of an evaluation whose overall
// target is target: under a relative objective on a segmented metric with
// per-unit contributions, every segment of the window keeps the baseline
// frozen for it, and a segment without one has it measured on its latest
// window judged in control (eligibleEnd). A segment whose baseline window
// holds too few units (a new account) is not judged, and opens nothing,
// until a later evaluation finds enough. Metrics judged on tumbling
// windows, and fixed targets, judge every segment against the overall
// target.
func segmentReferences(ctx context.Context, reads *baselineReads, m Metric, prior Prior, windowStart time.Time,
	win *source.Result, target *float64) (references, error) {
	refs := references{overall: target, m: m}
	if target == nil || m.Objective.Relative == nil || len(m.Query.Segments) == 0 || measure.HasUnits(m.Definition) != nil {
		return refs, nil
	}
	refs.own = make(map[string]Baseline, len(prior.SegmentBaselines))
	for _, b := range prior.SegmentBaselines {
		refs.own[b.Segment] = b.Baseline
	}
	missing := make([]string, 0)
	for key := range win.Segments {
		if _, ok := refs.own[key]; !ok {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	obj := m.Objective
	for _, key := range missing {
		end := eligibleEnd(m, prior.Detector, key, windowStart)
		from, r, err := reads.at(ctx, end)
		if err != nil {
			return refs, err
		}
		if r == nil || r.Segments[key] == nil {
			continue
		}
		est, err := measure.Compute(m.Definition, r.Segments[key].Stats, obj.Confidence, obj.MinSamples)
		if err != nil {
			return refs, rejected(err)
		}
		if !est.Sufficient || math.IsNaN(est.Value) {
			continue
		}
		// Kept as status keeps it (six digits, seconds), so a restored
		// baseline judges exactly as the one measured.
		refs.own[key] = Baseline{WindowStart: second(from), WindowEnd: second(end),
			Value: Round(est.Value), Lower: Round(est.Lower), Upper: Round(est.Upper), Samples: int64(est.NEff)}
	}
	return refs, nil
}

// keepBaselines are the segment baselines status keeps, sorted by key, at
// most the query's bound on segments (source.MaxSegments when unset, the
// manager's --max-segments), so every segment a window can hold keeps its
// own: those of segments with detector evidence first (their episodes are
// judged against them), then those of the window's segments by volume,
// then the rest. A segment whose baseline is
// not kept has it measured afresh when next it needs one, on its latest
// window judged in control.
func keepBaselines(r references, det *Detector, segs []Outcome) []SegmentBaseline {
	if len(r.own) == 0 {
		return nil
	}
	evidence := map[string]bool{}
	if det != nil {
		for _, s := range det.Segments {
			evidence[s.Segment] = true
		}
	}
	volume := map[string]int64{}
	for _, s := range segs {
		volume[s.Segment] = s.Samples + 1
	}
	keys := make([]string, 0, len(r.own))
	for k := range r.own {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if evidence[a] != evidence[b] {
			return evidence[a]
		}
		if volume[a] != volume[b] {
			return volume[a] > volume[b]
		}
		return a < b
	})
	limit := r.m.Query.MaxSegments
	if limit <= 0 {
		limit = source.MaxSegments
	}
	if len(keys) > limit {
		keys = keys[:limit]
	}
	sort.Strings(keys)
	out := make([]SegmentBaseline, 0, len(keys))
	for _, k := range keys {
		out = append(out, SegmentBaseline{Segment: k, Baseline: r.own[k]})
	}
	return out
}
