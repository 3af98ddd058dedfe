package controllers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/source"
)

// maxFeedChunks bounds the intervals of new data one evaluation feeds the
// detector, so a Metric that was suspended for months catches up over
// several reconciles instead of holding a worker.
const maxFeedChunks = 60

// detectionHorizon is the horizon of the detectable shift in status.
const detectionHorizon = 14 * 24 * time.Hour

// Engine measures Metrics and verifies tasks with the engine packages over
// connected sources.
type Engine struct {
	Sources *Sources
	Clock   clock.Clock
	// wrap, when set, wraps every source Evaluate reads, as a replay
	// prefetches a range of window ends.
	wrap func(source.Source) source.Source
}

// Evaluate implements MetricEvaluator.
func (e *Engine) Evaluate(ctx context.Context, m *cxv1.Metric, ds *cxv1.DataSource, windowEnd time.Time) (*EvaluationResult, error) {
	if m.Spec.Formula == cxv1.FormulaDerived {
		return e.evaluateDerived(ctx, m, windowEnd)
	}
	if ds == nil {
		return nil, fmt.Errorf("%w: no DataSource", errSourceUnavailable)
	}
	def := metricspec.Definition(m)
	if err := def.Validate(); err != nil {
		return nil, err
	}
	hash := def.Hash()
	durations, err := metricspec.ParseDurations(m)
	if err != nil {
		return nil, err
	}
	obj := metricspec.ObjectiveOf(m)
	src, err := e.Sources.Get(ctx, ds)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSourceUnavailable, err)
	}
	if e.wrap != nil {
		src = e.wrap(src)
	}
	q := metricspec.Query(m)
	windowStart := windowEnd.Add(-durations.Window)
	win, err := src.Query(ctx, def, q, windowStart, windowEnd)
	if err != nil {
		return nil, fmt.Errorf("%w: query DataSource %s: %v", errSourceUnavailable, ds.Name, err)
	}
	res := &EvaluationResult{WindowStart: windowStart, WindowEnd: windowEnd, Query: win.Statement, DefinitionHash: hash,
		Reason: "Measured"}

	// A definition change resets the baseline and the detector.
	var prior cxv1.MetricStatus
	if m.Status.DefinitionHash == hash {
		prior = m.Status
	}

	target, err := e.target(ctx, src, def, q, obj, prior.Baseline, windowStart, durations, res)
	if err != nil {
		return nil, err
	}
	res.Target = target
	mobj := measure.Objective{Direction: measure.Direction(obj.Direction)}
	if target != nil {
		mobj.Target = *target
	}
	if obj.Target != nil {
		mobj.WarningAt = obj.WarningAt
	}
	outcome := func(key string, s *measure.Stats) (SegmentOutcome, measure.Estimate, error) {
		est, err := measure.Compute(def, s, obj.Confidence, obj.MinSamples)
		if err != nil {
			return SegmentOutcome{}, est, fmt.Errorf("compute %s: %w", key, err)
		}
		out := SegmentOutcome{Segment: key, Samples: int64(est.NEff), State: cxv1.StateInsufficientData}
		if est.Sufficient && target != nil {
			st, err := mobj.Evaluate(est)
			if err != nil {
				return out, est, err
			}
			out.State = cxv1.WindowState(st)
			out.Value, out.Lower, out.Upper = ptrTo(est.Value), ptrTo(est.Lower), ptrTo(est.Upper)
		}
		if q.Weight != "" {
			out.Weight = ptrTo(s.Total.W)
		}
		return out, est, nil
	}
	res.Overall, _, err = outcome("", win.Overall)
	if err != nil {
		return nil, err
	}
	for key, seg := range win.Segments {
		o, _, err := outcome(key, seg.Stats)
		if err != nil {
			return nil, err
		}
		res.Segments = append(res.Segments, o)
	}
	sortWorstFirst(res.Segments, obj.Direction)

	if target == nil {
		return res, nil
	}
	if measure.HasUnits(def) != nil {
		if err := e.tumbling(ctx, src, def, q, obj, *target, prior, windowEnd, durations, res); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := e.detect(ctx, m, src, def, q, obj, *target, win, prior, windowEnd, durations, res); err != nil {
		return nil, err
	}
	return res, nil
}

// evaluateDerived computes a derived Metric from its inputs' latest values
// with its CEL expression. An input without a value leaves the derived
// Metric InsufficientData; derived values have no per-unit contributions,
// so they open no tasks.
func (e *Engine) evaluateDerived(ctx context.Context, m *cxv1.Metric, windowEnd time.Time) (*EvaluationResult, error) {
	if e.Sources == nil || e.Sources.Client == nil {
		return nil, fmt.Errorf("%w: a derived metric reads its inputs from the cluster", errSourceUnavailable)
	}
	names := make([]string, 0, len(m.Spec.Inputs))
	for _, in := range m.Spec.Inputs {
		names = append(names, in.Name)
	}
	expr, err := measure.CompileDerived(m.Spec.Expression, names)
	if err != nil {
		return nil, err
	}
	obj := metricspec.ObjectiveOf(m)
	inputs := map[string]measure.Estimate{}
	for _, in := range m.Spec.Inputs {
		var src cxv1.Metric
		if err := e.Sources.Client.Get(ctx, clientKey(m.Namespace, in.Metric), &src); err != nil {
			return nil, fmt.Errorf("%w: input %s: %v", errSourceUnavailable, in.Metric, err)
		}
		est := measure.Estimate{Hash: src.Status.DefinitionHash, N: src.Status.Samples, NEff: float64(src.Status.Samples),
			Confidence: obj.Confidence, Sufficient: src.Status.Value != nil}
		if src.Status.Value != nil {
			est.Value, est.Lower, est.Upper = *src.Status.Value, *src.Status.Value, *src.Status.Value
		}
		inputs[in.Name] = est
	}
	est, err := expr.Estimate(inputs)
	if err != nil {
		return nil, err
	}
	d, _ := metricspec.ParseDurations(m)
	res := &EvaluationResult{WindowStart: windowEnd.Add(-d.Window), WindowEnd: windowEnd, Query: m.Spec.Expression,
		DefinitionHash: metricspec.Definition(m).Hash(), Target: obj.Target, Reason: "Measured",
		Message: "derived from its inputs' latest values; derived metrics open no tasks"}
	res.Overall = SegmentOutcome{State: cxv1.StateInsufficientData}
	if est.Sufficient && obj.Target != nil {
		st, err := measure.Objective{Direction: measure.Direction(obj.Direction), Target: *obj.Target, WarningAt: obj.WarningAt}.Evaluate(est)
		if err != nil {
			return nil, err
		}
		res.Overall = SegmentOutcome{Value: ptrTo(est.Value), Lower: ptrTo(est.Value), Upper: ptrTo(est.Value),
			Samples: est.N, State: cxv1.WindowState(st)}
	}
	return res, nil
}

// target is the fixed target, or the frozen baseline moved by the allowed
// change (computed from the baseline window before the first window).
func (e *Engine) target(ctx context.Context, src source.Source, def measure.Definition, q source.Query, obj metricspec.Objective,
	frozen *cxv1.Baseline, windowStart time.Time, d metricspec.Durations, res *EvaluationResult) (*float64, error) {
	if obj.Target != nil {
		return obj.Target, nil
	}
	if obj.Relative == nil {
		return nil, nil
	}
	base := frozen
	if base == nil {
		from := windowStart.Add(-d.BaselineWindow)
		r, err := src.Query(ctx, def, q, from, windowStart)
		if err != nil {
			return nil, fmt.Errorf("%w: baseline: %v", errSourceUnavailable, err)
		}
		est, err := measure.Compute(def, r.Overall, obj.Confidence, obj.MinSamples)
		if err != nil {
			return nil, err
		}
		if !est.Sufficient {
			return nil, nil
		}
		base = &cxv1.Baseline{WindowStart: metav1.NewTime(from), WindowEnd: metav1.NewTime(windowStart),
			Value: est.Value, Lower: est.Lower, Upper: est.Upper, Samples: int64(est.NEff)}
	}
	res.Baseline = base
	t := base.Value - obj.Relative.MaxChange
	if obj.Direction == cxv1.AtMost {
		t = base.Value + obj.Relative.MaxChange
	}
	return &t, nil
}

// detect feeds the detector every interval of new data since the last
// evaluation, exactly once, and reports the open episodes.
func (e *Engine) detect(ctx context.Context, m *cxv1.Metric, src source.Source, def measure.Definition, q source.Query,
	obj metricspec.Objective, target float64, win *source.Result, prior cxv1.MetricStatus, windowEnd time.Time,
	d metricspec.Durations, res *EvaluationResult) error {
	windowContrib, err := contributions(def, win)
	if err != nil {
		return err
	}
	cfg, perMonth, err := detect.Configure(detect.Setup{Direction: detect.Direction(obj.Direction), Reference: target,
		Shift: obj.MinShift, Formula: def.Formula, Budget: obj.Budget, Window: windowContrib, WindowLength: d.Window, Interval: d.Interval})
	if errors.Is(err, detect.ErrNoVolume) {
		res.Detector = prior.Detector
		return nil
	}
	if err != nil {
		return err
	}
	state, fedUntil := stateFrom(prior.Detector)
	if fedUntil.IsZero() {
		// First evaluation: warm the detector on the window's history.
		fedUntil = res.WindowStart
	}
	// fedUntil moves only past intervals that held data, so an
	// evaluation that finds nothing new writes nothing, and rows that
	// arrive late in an empty interval are still fed once.
	next := fedUntil
	for chunk, from := 0, fedUntil; chunk < maxFeedChunks && from.Before(windowEnd); chunk++ {
		to := from.Add(d.Interval)
		r, err := src.Query(ctx, def, q, from, to)
		if err != nil {
			return fmt.Errorf("%w: new data: %v", errSourceUnavailable, err)
		}
		if r.Overall.Total.N > 0 {
			batch, err := contributions(def, r)
			if err != nil {
				return err
			}
			state, _ = cfg.Feed(state, detect.Batch{From: from, To: to, Segments: batch})
			next = to
		}
		from = to
	}
	if next.After(fedUntil) {
		fedUntil = next
	} else if prior.Detector == nil || prior.Detector.FedUntil == nil {
		fedUntil = time.Time{}
	}
	state = state.Cap(cxv1.MaxDetectorSegments)

	segments := float64(len(win.Segments) + 1)
	perDay := perMonth / 30 / segments
	status := &cxv1.DetectorStatus{FedUntil: timeRef(fedUntil), Threshold: round(cfg.Threshold), SegmentsMonitored: int32(segments),
		DetectionHorizon: detectionHorizon.String()}
	if shift, ok := cfg.DetectableShift(perDay, detectionHorizon, 100*cfg.Shift); ok {
		status.DetectableShift = ptrTo(round(shift))
	}
	if delay, ok := cfg.ExpectedDelay(cfg.Shift, perDay); ok {
		status.ExpectedDelay = delay.Round(time.Hour).String()
	}
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values := map[string]map[string]string{"": {}}
	estimates := map[string]SegmentOutcome{"": res.Overall}
	for _, s := range res.Segments {
		estimates[s.Segment] = s
	}
	for k, s := range win.Segments {
		values[k] = s.Values
	}
	totalWeight := win.Overall.Total.W
	for _, k := range keys {
		s := state[k]
		ds := cxv1.DetectorSegment{Segment: k, Statistic: round(s.Statistic), Samples: round(s.Samples), Since: timeRef(s.Since),
			Recovery: round(s.Recovery), RecoverySince: timeRef(s.RecoverySince)}
		if s.Open() {
			ds.EpisodeStart = timeRef(s.EpisodeStart)
			ep := Episode{Segment: k, Values: values[k], Start: s.EpisodeStart.Truncate(time.Second), WeightShare: 1,
				Evidence:  cxv1.TaskEvidence{Statistic: round(s.Statistic), Threshold: round(cfg.Threshold), Samples: round(s.Samples)},
				Objective: cxv1.TaskObjective{Direction: obj.Direction, Target: target, MinShift: cfg.Shift}}
			// The evidence's value is the mean of the episode's own data.
			r, err := src.Query(ctx, def, metricspec.ForSegment(q, values[k]), s.Since, windowEnd)
			if err != nil {
				return fmt.Errorf("%w: episode data: %v", errSourceUnavailable, err)
			}
			if c, err := measure.Contributions(def, r.Overall); err == nil && c.Units.N > 0 {
				ep.Evidence.ObservedValue = ptrTo(round(c.Mean()))
			}
			if o, ok := estimates[k]; ok && o.Value != nil {
				gap := (target - *o.Value) / cfg.Shift
				if obj.Direction == cxv1.AtMost {
					gap = -gap
				}
				ep.Gap = gap
				ep.Baseline = &cxv1.TaskBaseline{Value: *o.Value, Lower: *o.Lower, Upper: *o.Upper, Samples: o.Samples,
					WindowStart: metav1.NewTime(res.WindowStart), WindowEnd: metav1.NewTime(res.WindowEnd)}
			}
			if s, ok := win.Segments[k]; ok && totalWeight > 0 && k != "" {
				ep.WeightShare = s.Stats.Total.W / totalWeight
			}
			res.Episodes = append(res.Episodes, ep)
		}
		status.Segments = append(status.Segments, ds)
	}
	res.Detector = status
	return nil
}

// tumbling opens episodes for a metric without per-unit contributions (a
// ratio of sums, a gauge) from non-overlapping windows: each window of the
// Metric's length, aligned to multiples of it, is judged once when it
// closes, at the per-window level that keeps the monthly false-task budget
// across segments. An episode stays open while closed windows breach and
// ends at the first window that does not.
func (e *Engine) tumbling(ctx context.Context, src source.Source, def measure.Definition, q source.Query, obj metricspec.Objective,
	target float64, prior cxv1.MetricStatus, windowEnd time.Time, d metricspec.Durations, res *EvaluationResult) error {
	closed := windowEnd.Truncate(d.Window)
	status := prior.Detector.DeepCopy()
	if status == nil {
		status = &cxv1.DetectorStatus{}
	}
	res.Detector = status
	if status.FedUntil != nil && !closed.After(status.FedUntil.Time) {
		res.Episodes = openEpisodes(status, obj, target, detect.DefaultShift(def.Formula))
		return nil
	}
	shift := obj.MinShift
	if shift <= 0 {
		shift = detect.DefaultShift(def.Formula)
	}
	from := closed.Add(-d.Window)
	r, err := src.Query(ctx, def, q, from, closed)
	if err != nil {
		return fmt.Errorf("%w: tumbling window: %v", errSourceUnavailable, err)
	}
	level, err := detect.TumblingLevel(obj.Budget, d.Window, len(r.Segments)+1)
	if err != nil {
		return err
	}
	judged := map[string]*measure.Stats{"": r.Overall}
	for k, seg := range r.Segments {
		judged[k] = seg.Stats
	}
	kept := map[string]cxv1.DetectorSegment{}
	for _, s := range status.Segments {
		kept[s.Segment] = s
	}
	for k, stats := range judged {
		est, err := measure.Compute(def, stats, obj.Confidence, obj.MinSamples)
		if err != nil || !est.Sufficient {
			continue // missing data never opens or closes anything
		}
		breach := detect.TumblingBreach(detect.Direction(obj.Direction), est.Value, est.StdErr, target, shift, level)
		cur, open := kept[k]
		switch {
		case breach && !open:
			kept[k] = cxv1.DetectorSegment{Segment: k, Statistic: round(est.Value), EpisodeStart: timeRef(from)}
		case breach:
			cur.Statistic = round(est.Value)
			kept[k] = cur
		case open:
			delete(kept, k)
		}
	}
	status.Segments = nil
	for _, s := range kept {
		status.Segments = append(status.Segments, s)
	}
	sort.Slice(status.Segments, func(i, j int) bool { return status.Segments[i].Segment < status.Segments[j].Segment })
	status.FedUntil = timeRef(closed)
	status.SegmentsMonitored = int32(len(r.Segments) + 1)
	status.DetectionHorizon = d.Window.String()
	res.Episodes = openEpisodes(status, obj, target, shift)
	res.Message = fmt.Sprintf("%s has no per-unit contributions: tasks open from non-overlapping %s windows at level %.3g each",
		def.Formula, d.Window, level)
	return nil
}

// openEpisodes lists the episodes a tumbling-window detector holds open.
func openEpisodes(status *cxv1.DetectorStatus, obj metricspec.Objective, target, shift float64) []Episode {
	if obj.MinShift > 0 {
		shift = obj.MinShift
	}
	var eps []Episode
	for _, s := range status.Segments {
		if s.EpisodeStart == nil {
			continue
		}
		v := s.Statistic
		eps = append(eps, Episode{Segment: s.Segment, Values: segmentValues(s.Segment), Start: s.EpisodeStart.Time, WeightShare: 1, Gap: 1,
			Evidence:  cxv1.TaskEvidence{Statistic: v, ObservedValue: &v},
			Objective: cxv1.TaskObjective{Direction: obj.Direction, Target: target, MinShift: shift}})
	}
	return eps
}

// segmentValues parses a segment key back into its column values.
func segmentValues(key string) map[string]string {
	values := map[string]string{}
	if key == "" {
		return values
	}
	for _, pair := range strings.Split(key, ",") {
		if col, v, ok := strings.Cut(pair, "="); ok {
			values[col] = v
		}
	}
	return values
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

func stateFrom(d *cxv1.DetectorStatus) (detect.State, time.Time) {
	st := detect.State{}
	if d == nil {
		return st, time.Time{}
	}
	for _, s := range d.Segments {
		seg := detect.SegmentState{Statistic: s.Statistic, Samples: s.Samples}
		if s.Since != nil {
			seg.Since = s.Since.Time
		}
		if s.EpisodeStart != nil {
			seg.EpisodeStart = s.EpisodeStart.Time
		}
		seg.Recovery = s.Recovery
		if s.RecoverySince != nil {
			seg.RecoverySince = s.RecoverySince.Time
		}
		st[s.Segment] = seg
	}
	var fed time.Time
	if d.FedUntil != nil {
		fed = d.FedUntil.Time
	}
	return st, fed
}

// sortWorstFirst orders segments by how far they sit on the wrong side of
// the target, segments without a value last.
func sortWorstFirst(segs []SegmentOutcome, dir cxv1.Direction) {
	score := func(s SegmentOutcome) float64 {
		if s.Value == nil {
			return math.Inf(1)
		}
		if dir == cxv1.AtMost {
			return -*s.Value
		}
		return *s.Value
	}
	sort.SliceStable(segs, func(i, j int) bool {
		a, b := score(segs[i]), score(segs[j])
		if a != b {
			return a < b
		}
		return segs[i].Segment < segs[j].Segment
	})
}

// Check implements FreshDataChecker: the verification test on the task's
// segment, on data newer than since only.
func (e *Engine) Check(ctx context.Context, m *cxv1.Metric, t *cxv1.ImprovementTask, since, deadline time.Time) (*loop.Check, *cxv1.TaskMeasurement, error) {
	if m.Spec.Source == nil {
		return nil, nil, nil
	}
	var ds cxv1.DataSource
	if err := e.Sources.Client.Get(ctx, clientKey(m.Namespace, m.Spec.Source.Name), &ds); err != nil {
		return nil, nil, err
	}
	src, err := e.Sources.Get(ctx, &ds)
	if err != nil {
		return nil, nil, err
	}
	def := metricspec.Definition(m)
	if measure.HasUnits(def) != nil {
		return nil, nil, nil
	}
	durations, err := metricspec.ParseDurations(m)
	if err != nil {
		return nil, nil, err
	}
	now := e.Clock.Now()
	to := detect.Bounds(now, durations.Interval, durations.SettleDelay)
	if !to.After(since) {
		return nil, nil, nil
	}
	q := metricspec.ForSegment(metricspec.Query(m), t.Spec.SegmentValues)
	r, err := src.Query(ctx, def, q, since, to)
	if err != nil {
		return nil, nil, err
	}
	fresh, err := measure.Contributions(def, r.Overall)
	if err != nil {
		return nil, nil, err
	}
	policy := metricspec.ImprovementPolicy(m)
	from := t.Spec.Objective.Target - t.Spec.Objective.MinShift
	if t.Spec.Evidence != nil && t.Spec.Evidence.ObservedValue != nil {
		from = *t.Spec.Evidence.ObservedValue
	}
	planned := float64(policy.MinFreshSamples) * 4
	if m.Status.Samples > 0 {
		planned = math.Max(planned, float64(m.Status.Samples)*durations.VerifyWindow.Hours()/durations.Window.Hours())
	}
	v := detect.Verify(detect.VerifyInput{Fresh: fresh, Direction: detect.Direction(t.Spec.Objective.Direction),
		Reference: t.Spec.Objective.Target, Shift: t.Spec.Objective.MinShift, From: from,
		MinSamples: float64(policy.MinFreshSamples), PlannedSamples: planned,
		Final: !deadline.IsZero() && !to.Before(deadline)})
	meas := &cxv1.TaskMeasurement{Time: metav1.NewTime(to), Samples: int64(v.Samples)}
	if v.Samples > 0 {
		meas.Value, meas.Lower, meas.Upper = ptrTo(round(v.Mean)), ptrTo(round(v.Lower)), ptrTo(round(v.Upper))
	}
	check := &loop.Check{Outcome: loop.Outcome(v.Verdict),
		Improvement: loop.Improvement{Value: round(v.Improvement), Lower: round(v.ImprovementLower), Upper: round(v.ImprovementUpper),
			Samples: int64(v.Samples), Level: v.Level},
		Message: fmt.Sprintf("fresh mean %.3g on %.0f samples since %s", v.Mean, v.Samples, since.UTC().Format(time.RFC3339))}
	return check, meas, nil
}

func ptrTo(f float64) *float64 { return &f }

func timeRef(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

// round keeps status values readable and stable: six significant digits.
func round(f float64) float64 {
	if f == 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return f
	}
	mag := math.Pow(10, 5-math.Floor(math.Log10(math.Abs(f))))
	return math.Round(f*mag) / mag
}
