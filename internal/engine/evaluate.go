package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// Errors callers branch on with errors.Is.
var (
	// ErrSourceUnavailable: the source could not be read. The caller keeps
	// the last good value and the detector, and retries.
	ErrSourceUnavailable = errors.New("source unavailable")
	// ErrRejected: the metric's spec cannot be evaluated as written (its
	// definition, expression or detector settings); retrying will not help
	// until the spec changes.
	ErrRejected = errors.New("spec rejected")
)

// unavailable wraps a source's failure; a result with more segments than
// the query's bound is the spec's doing, not the source's, and retrying
// will not help: it is a rejection (ReasonTooManySegments).
func unavailable(what string, err error) error {
	if errors.Is(err, source.ErrTooManySegments) {
		return &RejectedError{Reason: ReasonTooManySegments, Err: fmt.Errorf("%s: %w", what, err)}
	}
	return fmt.Errorf("%w: %s: %v", ErrSourceUnavailable, what, err)
}

func rejected(err error) error {
	return fmt.Errorf("%w: %v", ErrRejected, err)
}

// RejectedError is a rejection (it wraps ErrRejected) with a more specific
// condition reason than a plain spec rejection, such as
// ReasonExpressionTooCostly.
type RejectedError struct {
	// Reason is the CamelCase condition reason.
	Reason string
	// Err is what is wrong.
	Err error
}

// Error implements error.
func (e *RejectedError) Error() string { return fmt.Sprintf("%v: %v", ErrRejected, e.Err) }

// Unwrap returns ErrRejected and the cause.
func (e *RejectedError) Unwrap() []error { return []error{ErrRejected, e.Err} }

// Reasons of RejectedErrors.
const (
	// ReasonExpressionTooCostly: a derived expression exceeds the cost budget.
	ReasonExpressionTooCostly = "ExpressionTooCostly"
	// ReasonTooManySegments: the source answers more segments than the
	// query's bound (the manager's --max-segments).
	ReasonTooManySegments = "TooManySegments"
)

// RejectionReason is the condition reason of a rejection: a RejectedError's
// own, otherwise fallback.
func RejectionReason(err error, fallback string) string {
	var r *RejectedError
	if errors.As(err, &r) && r.Reason != "" {
		return r.Reason
	}
	return fallback
}

// Evaluation is one evaluation of a metric.
type Evaluation struct {
	WindowStart, WindowEnd time.Time
	// Query is the query as run, without secrets.
	Query          string
	DefinitionHash string
	Overall        Outcome
	// Segments are every measured segment, worst first.
	Segments []Outcome
	// Target is what the value was judged against; nil without one.
	Target   *float64
	Baseline *Baseline
	// SegmentBaselines are the segments' own frozen baselines under a
	// relative objective (SegmentBaseline), sorted by key, bounded
	// (keepBaselines).
	SegmentBaselines []SegmentBaseline
	// Detector is the detector's new persisted state.
	Detector *Detector
	// Episodes are the episodes open after this evaluation, by segment.
	Episodes []Episode
	// Reason and Message summarise the outcome.
	Reason, Message string
	// Exclusion is the occurrence of an exclusion that covers the latest
	// interval of the window (its data left out); nil when none does.
	Exclusion *Occurrence
}

// Prior is what the evaluation leaves for the next one.
func (e *Evaluation) Prior() Prior {
	return Prior{DefinitionHash: e.DefinitionHash, Baseline: e.Baseline, SegmentBaselines: e.SegmentBaselines,
		Detector: e.Detector, Samples: e.Overall.Samples}
}

// Outcome is one segment's value in the window.
type Outcome struct {
	Segment             string
	Value, Lower, Upper *float64
	Samples             int64
	State               measure.State
	Weight              *float64
}

// Episode is an open change episode of a segment.
type Episode struct {
	Segment string
	Values  map[string]string
	Start   time.Time
	// Evidence is what the detector saw.
	Evidence Evidence
	// Gap is how far the segment is on the wrong side, in units of δ.
	Gap float64
	// WeightShare is the segment's share of the metric's weight.
	WeightShare float64
	// Baseline is the window's value when the episode was reported; under
	// a relative objective, the frozen baseline the segment was judged
	// against.
	Baseline  *TaskBaseline
	Objective TaskObjective
}

// Evidence is what the detector saw when an episode opened.
type Evidence struct {
	Statistic, Threshold, Samples float64
	// ObservedValue is the mean of the episode's own data.
	ObservedValue *float64
}

// TaskBaseline is the window a task's episode was measured on.
type TaskBaseline struct {
	Value, Lower, Upper    float64
	Samples                int64
	WindowStart, WindowEnd time.Time
}

// TaskObjective is what a task's verification tests against.
type TaskObjective struct {
	Direction Direction
	Target    float64
	MinShift  float64
}

// Evaluate measures the window ending at windowEnd, judges it against the
// objective and steps the change detector over the data that arrived since
// prior, exactly once. A metric without per-unit contributions opens its
// episodes from non-overlapping windows instead. Under a relative
// objective each segment is judged against its own frozen baseline
// (segmentReferences).
func Evaluate(ctx context.Context, src source.Source, m Metric, prior Prior, windowEnd time.Time) (*Evaluation, error) {
	if m.Derived != nil {
		return nil, rejected(fmt.Errorf("a derived metric is evaluated from its inputs (EvaluateDerived)"))
	}
	if err := m.Definition.Validate(); err != nil {
		return nil, rejected(err)
	}
	if src == nil {
		return nil, unavailable("no source", errors.New("the metric has no DataSource"))
	}
	windowStart := AddWall(windowEnd, -m.Window, m.Location)
	// A definition change resets the baseline and the detector.
	if prior.DefinitionHash != m.Hash {
		prior = Prior{}
	}
	// Every read below (window, baseline, calibration, feed, episode
	// evidence) leaves the metric's exclusions out, and those on the
	// interval grid are merges of one history's buckets.
	prefetched, episodes := evaluationReads(src, m, prior, windowStart, windowEnd)
	src = ExcludeFrom(prefetched, m)
	win, err := src.Query(ctx, m.Definition, m.Query, windowStart, windowEnd)
	if err != nil {
		return nil, unavailable("query", err)
	}
	res := &Evaluation{WindowStart: windowStart, WindowEnd: windowEnd, Query: win.Statement, DefinitionHash: m.Hash, Reason: "Measured"}
	if o, ok := m.ExclusionAt(windowEnd); ok {
		res.Exclusion = &o
	}
	prior = skipExcluded(m, prior)
	reads := &baselineReads{src: src, m: m}
	target, err := resolveTarget(ctx, reads, m, prior, windowStart, res)
	if err != nil {
		return nil, err
	}
	res.Target = target
	refs, err := segmentReferences(ctx, reads, m, prior, windowStart, win, target)
	if err != nil {
		return nil, err
	}
	if res.Overall, err = outcome(m, target, "", win.Overall); err != nil {
		return nil, err
	}
	for key, seg := range win.Segments {
		o, err := outcome(m, refs.of(key), key, seg.Stats)
		if err != nil {
			return nil, err
		}
		res.Segments = append(res.Segments, o)
	}
	SortWorstFirst(res.Segments, m.Objective.Direction)
	if target == nil {
		return res, nil
	}
	if measure.HasUnits(m.Definition) != nil {
		return res, tumble(ctx, src, m, *target, prior, windowEnd, res)
	}
	err = feed(ctx, src, episodes, m, refs, win, prior, windowEnd, res)
	res.SegmentBaselines = keepBaselines(refs, res.Detector, res.Segments)
	return res, err
}

// outcome judges one segment's statistics against its target: nil for a
// segment not judged yet (no baseline of its own), which shows neither
// value nor state beyond InsufficientData.
func outcome(m Metric, target *float64, key string, s *measure.Stats) (Outcome, error) {
	obj := m.Objective
	est, err := measure.Compute(m.Definition, s, obj.Confidence, obj.MinSamples)
	if err != nil {
		return Outcome{}, rejected(fmt.Errorf("compute %s: %w", key, err))
	}
	out := Outcome{Segment: key, Samples: int64(est.NEff), State: measure.StateInsufficientData}
	if est.Sufficient && target != nil {
		mobj := measure.Objective{Direction: measure.Direction(obj.Direction), Target: *target}
		if obj.Target != nil {
			mobj.WarningAt = obj.WarningAt
		}
		st, err := mobj.Evaluate(est)
		if err != nil {
			return out, rejected(err)
		}
		out.State = st
		out.Value, out.Lower, out.Upper = ptr(est.Value), ptr(est.Lower), ptr(est.Upper)
	}
	if m.Query.Weight != "" {
		out.Weight = ptr(s.Total.W)
	}
	return out, nil
}

// SortWorstFirst orders segments by how far they sit on the wrong side of
// the target, segments without a value last, ties by key.
func SortWorstFirst(segs []Outcome, dir Direction) {
	score := func(s Outcome) float64 {
		if s.Value == nil {
			return math.Inf(1)
		}
		if dir == AtMost {
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

// gapOf is how far a value sits on the wrong side of the target, in δ.
func gapOf(dir Direction, target, value, shift float64) float64 {
	gap := (target - value) / shift
	if dir == AtMost {
		gap = -gap
	}
	return gap
}
