package controllers

import (
	"context"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/source"
)

// ReplayEvent is an episode that would have opened or ended.
type ReplayEvent struct {
	Metric  string    `json:"metric"`
	Segment string    `json:"segment"`
	Event   string    `json:"event"`
	At      time.Time `json:"at"`
	// EpisodeStart is the episode's start, the detector's estimate of when
	// the change began.
	EpisodeStart time.Time `json:"episodeStart"`
	Value        *float64  `json:"value,omitempty"`
}

// Replay evaluates a Metric at every interval-aligned window end in
// (from, to] with the same Engine and status handling the manager uses,
// carrying the Metric's status from one evaluation to the next, and
// returns the episodes that would have opened (one task each) and ended,
// and the last evaluation.
func Replay(ctx context.Context, e *Engine, m *cxv1.Metric, ds *cxv1.DataSource, from, to time.Time) ([]ReplayEvent, *EvaluationResult, error) {
	d, err := metricspec.ParseDurations(m)
	if err != nil {
		return nil, nil, err
	}
	// Every evaluation reads its aligned window ends up to `to` from range
	// queries where the source answers them, one wrapper per source.
	re := *e
	wrapped := map[source.Source]source.Source{}
	re.wrap = func(s source.Source) source.Source {
		if _, ok := s.(source.RangeSource); !ok {
			return s
		}
		if w, ok := wrapped[s]; ok {
			return w
		}
		w := source.Prefetch(s, d.Interval, to)
		wrapped[s] = w
		return w
	}
	e = &re
	cur := m.DeepCopy()
	cur.Status = cxv1.MetricStatus{}
	var events []ReplayEvent
	var last *EvaluationResult
	open := map[string]time.Time{}
	for end := detect.Bounds(from, d.Interval, 0).Add(d.Interval); !end.After(to); end = end.Add(d.Interval) {
		res, err := e.Evaluate(ctx, cur, ds, end)
		if err != nil {
			return events, last, err
		}
		last = res
		now := map[string]time.Time{}
		for _, ep := range res.Episodes {
			now[ep.Segment] = ep.Start
			if start, ok := open[ep.Segment]; !ok || !start.Equal(ep.Start) {
				events = append(events, ReplayEvent{Metric: m.Name, Segment: ep.Segment, Event: "TaskOpened", At: end,
					EpisodeStart: ep.Start, Value: ep.Evidence.ObservedValue})
			}
		}
		for seg, start := range open {
			if _, ok := now[seg]; !ok {
				events = append(events, ReplayEvent{Metric: m.Name, Segment: seg, Event: "EpisodeEnded", At: end, EpisodeStart: start})
			}
		}
		open = now
		next := cur.Status.DeepCopy()
		applyEvaluation(cur, next, res)
		cur.Status = *next
	}
	return events, last, nil
}
