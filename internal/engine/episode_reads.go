package engine

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// episodeReads answers the evidence reads of the open episodes whose start
// is not a cut of the evaluation's history (evaluationCuts keeps it within
// source.MaxHistoryStatistics): each reads its segment from its start to
// the window's end (ForSegment), and all of them are answered from one
// history of the query narrowed to their segments' values (an In filter
// per segment column), cut at their starts. A segment's read is the merge
// of its statistics in the buckets from its start on, as the prefetched
// history's spans are merged. Other reads go to src.
type episodeReads struct {
	source.Source
	m         Metric
	cuts      map[int64]bool
	windowEnd time.Time

	// narrowed is the query filtered to the episodes' segments, set by
	// expect, and bounds its history's.
	narrowed source.Query
	bounds   []time.Time
	// reads are the episodes' queries, encoded, with their segment's key
	// and the position of their start in bounds.
	reads map[string]episodeRead

	once    sync.Once
	results []*source.Result
	err     error
}

// episodeRead is one episode's evidence read.
type episodeRead struct {
	segment string
	from    int
}

// newEpisodeReads wraps src, the evaluation's history cut at cuts; nil
// when src answers no histories, the query has no segments, or it has a
// cluster column (its cluster sums do not merge across buckets).
func newEpisodeReads(src source.Source, m Metric, cuts []time.Time, windowEnd time.Time) *episodeReads {
	if _, ok := src.(source.HistorySource); !ok || m.Query.Cluster != "" || len(m.Query.Segments) == 0 {
		return nil
	}
	e := &episodeReads{Source: src, m: m, cuts: map[int64]bool{}, windowEnd: windowEnd}
	for _, c := range cuts {
		e.cuts[c.UnixNano()] = true
	}
	return e
}

// expect announces the detector's state after the feed, before its open
// episodes' evidence is read: those whose start is not a cut are read
// from the narrowed history. Nothing is expected when a segment value is
// empty (NULL and "" group alike but do not filter alike); their reads
// then go to src. e may be nil.
func (e *episodeReads) expect(state map[string]detect.SegmentState) {
	if e == nil {
		return
	}
	q := e.m.Query
	reads := map[string]episodeRead{}
	since := map[string]time.Time{}
	inColumn := make([][]string, len(q.Segments))
	var starts []time.Time
	for key, s := range state {
		if key == "" || !s.Open() || s.Since.IsZero() || !s.Since.Before(e.windowEnd) || e.cuts[s.Since.UnixNano()] {
			continue
		}
		values, err := source.ParseSegmentKey(key)
		if err != nil || len(values) != len(q.Segments) {
			continue
		}
		for i, col := range q.Segments {
			if values[col] == "" {
				return
			}
			inColumn[i] = append(inColumn[i], values[col])
		}
		encoded, err := json.Marshal(ForSegment(q, values))
		if err != nil {
			return
		}
		reads[string(encoded)] = episodeRead{segment: key}
		since[string(encoded)] = s.Since
		starts = append(starts, s.Since)
	}
	if len(reads) == 0 {
		return
	}
	e.bounds = sortedCuts(append(starts, e.windowEnd))
	e.narrowed = q
	e.narrowed.Filters = slices.Clone(q.Filters)
	for i, col := range q.Segments {
		slices.Sort(inColumn[i])
		e.narrowed.Filters = append(e.narrowed.Filters,
			source.Filter{Column: col, Operator: source.In, Values: slices.Compact(inColumn[i])})
	}
	for k, r := range reads {
		r.from = slices.IndexFunc(e.bounds, since[k].Equal)
		reads[k] = r
	}
	e.reads = reads
}

// Query answers an episode's evidence read from the narrowed history.
func (e *episodeReads) Query(ctx context.Context, def measure.Definition, q source.Query, from, to time.Time) (*source.Result, error) {
	encoded, err := json.Marshal(q)
	r, ok := e.reads[string(encoded)]
	if err != nil || !ok || def.Hash() != e.m.Definition.Hash() || !to.Equal(e.bounds[len(e.bounds)-1]) || !from.Equal(e.bounds[r.from]) {
		return e.Source.Query(ctx, def, q, from, to)
	}
	e.once.Do(func() {
		e.results, e.err = source.History(ctx, e.Source, e.m.Definition, e.narrowed, e.bounds)
	})
	if e.err != nil || len(e.results) != len(e.bounds)-1 {
		return e.Source.Query(ctx, def, q, from, to)
	}
	out := &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}}
	for _, b := range e.results[r.from:] {
		if b == nil {
			continue
		}
		out.Statement = b.Statement
		if seg, ok := b.Segments[r.segment]; ok {
			out.Overall.Merge(seg.Stats)
		}
	}
	return out, nil
}

// QueryHistory is src's.
func (e *episodeReads) QueryHistory(ctx context.Context, def measure.Definition, q source.Query, bounds []time.Time) ([]*source.Result, error) {
	return e.Source.(source.HistorySource).QueryHistory(ctx, def, q, bounds)
}
