package engine_test

import (
	"context"
	. "github.com/cxloop/cxloop/internal/engine"
	"hash/fnv"
	"sync"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// synthetic is a source of NPS answers drawn deterministically per hour
// and segment: promoters and detractors at fixed shares, each segment's
// shares moving at its own change time. It records every window asked of
// it.
type synthetic struct {
	perHour  int
	segments []string
	// promoters and detractors before and after each segment's change.
	before, after [2]float64
	change        map[string]time.Time
	// restore is when a segment's shares return to before (a fix).
	restore map[string]time.Time

	mu      sync.Mutex
	queries [][2]time.Time
}

func (s *synthetic) Query(_ context.Context, d measure.Definition, q source.Query, from, to time.Time) (*source.Result, error) {
	s.mu.Lock()
	s.queries = append(s.queries, [2]time.Time{from, to})
	s.mu.Unlock()
	res := &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}, Statement: "synthetic"}
	only := ""
	for _, f := range q.Filters {
		if f.Column == "stage" {
			only = f.Values[0]
		}
	}
	for h := from.Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
		if h.Before(from) {
			continue
		}
		for _, seg := range s.segments {
			if only != "" && seg != only {
				continue
			}
			shares := s.before
			if c, ok := s.change[seg]; ok && !h.Before(c) {
				shares = s.after
			}
			if r, ok := s.restore[seg]; ok && !h.Before(r) {
				shares = s.before
			}
			foldAnswers(d, res, len(q.Segments) > 0, h, seg, s.perHour, shares)
		}
	}
	return res, nil
}

// foldAnswers folds n deterministic NPS answers of stage seg in hour h,
// promoters and detractors at shares, into the overall statistics and,
// when segmented, into the stage's.
func foldAnswers(d measure.Definition, res *source.Result, segmented bool, h time.Time, seg string, n int, shares [2]float64) {
	for i := 0; i < n; i++ {
		u := uniform(h, seg, i)
		score := 8.0
		switch {
		case u < shares[0]:
			score = 10
		case u < shares[0]+shares[1]:
			score = 0
		}
		row := measure.Row{Value: score, Valid: true}
		d.Fold(res.Overall, row)
		if segmented {
			key := source.SegmentKey(map[string]string{"stage": seg})
			sg, ok := res.Segments[key]
			if !ok {
				sg = &source.Segment{Key: key, Values: map[string]string{"stage": seg}, Stats: &measure.Stats{}}
				res.Segments[key] = sg
			}
			d.Fold(sg.Stats, row)
		}
	}
}

func (s *synthetic) Check(context.Context) error { return nil }
func (s *synthetic) Close() error                { return nil }

// windowEnds are the ends of the full windows asked of the source.
func (s *synthetic) windowEnds(window time.Duration) map[time.Time]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[time.Time]bool{}
	for _, q := range s.queries {
		if q[1].Sub(q[0]) == window {
			out[q[1]] = true
		}
	}
	return out
}

func uniform(h time.Time, seg string, i int) float64 {
	f := fnv.New64a()
	var b [8]byte
	for k, v := 0, uint64(h.Unix())*1000003+uint64(i); k < 8; k, v = k+1, v>>8 {
		b[k] = byte(v)
	}
	f.Write(b[:])
	f.Write([]byte(seg))
	return float64(f.Sum64()>>11) / float64(1<<53)
}

// npsMetric is a segmented NPS metric at target 30, defaults applied.
func npsMetric(interval, window time.Duration) Metric {
	target := 30.0
	def := measure.Definition{Formula: measure.FormulaNPS, DetractorMax: 6, PromoterMin: 9, Source: "synthetic"}
	return Metric{Namespace: "cx", Name: "nps", UID: "uid-1", Team: "success", Definition: def, Hash: def.Hash(),
		Query:     source.Query{Table: "answers", Value: "score", Time: "at", Segments: []string{"stage"}},
		Durations: Durations{Window: window, Interval: interval, VerifyWindow: 14 * 24 * time.Hour, DueAfter: 336 * time.Hour, Retention: 2160 * time.Hour},
		Location:  time.UTC,
		Objective: Objective{Direction: AtLeast, Target: &target, Confidence: 0.95, MinSamples: 30, Budget: 0.01},
		Policy:    Policy{MinFreshSamples: 30, MaxAttempts: 2, MaxOpenTasks: 5}}
}
