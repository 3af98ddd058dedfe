package engine

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// episodeReads answers the evidence reads of the open episodes whose start
// is not a cut of the evaluation's history (evaluationCuts keeps it within
// episodeCutStatistics): each reads its segment from its start to
// the window's end (ForSegment), and all of them are answered from one
// history of the query narrowed to their segments' values (an In filter
// per segment column), cut at their starts. A segment's read is the merge
// of its statistics in the buckets from its start on, as the prefetched
// history's spans are merged.
//
// The episodes open before the evaluation, and the running segments
// closest to opening one, are known before its first read (predict):
// their narrowed history is read in the same round trip as the
// evaluation's own (source.ReadAlongside), and an episode open after the
// feed is answered from it. Only the episodes that open in this
// evaluation off the cuts and off that prediction need a narrowed history
// of their own, read after the feed (expect). Other reads go to src.
type episodeReads struct {
	source.Source
	m         Metric
	cuts      map[int64]bool
	windowEnd time.Time

	// predicted is the history of the episodes open before the
	// evaluation, nil when there are none off the cuts.
	predicted *narrowedHistory
	// reads are the episodes' queries, encoded, with their segment's key,
	// the history that answers them and the position of their start in
	// its bounds; set by expect.
	reads map[string]episodeRead
}

// narrowedHistory is one history of the query narrowed to some segments,
// cut at their episodes' starts and ending at the window's end.
type narrowedHistory struct {
	q        source.Query
	bounds   []time.Time
	segments map[string]bool

	once    sync.Once
	results []*source.Result
	err     error
}

// episodeRead is one episode's evidence read.
type episodeRead struct {
	segment string
	h       *narrowedHistory
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

// offCuts are the open episodes of state, other than the population's,
// whose start is before the window's end and not a cut.
func (e *episodeReads) offCuts(state map[string]detect.SegmentState) map[string]time.Time {
	out := map[string]time.Time{}
	for key, s := range state {
		if key == "" || !s.Open() || s.Since.IsZero() || !s.Since.Before(e.windowEnd) || e.cuts[s.Since.UnixNano()] {
			continue
		}
		out[key] = s.Since
	}
	return out
}

// narrow is the history of the query narrowed to the segments of
// episodes (key to start); nil when there are none, or a segment value is
// empty (NULL and "" group alike but do not filter alike).
func (e *episodeReads) narrow(episodes map[string]time.Time) *narrowedHistory {
	if len(episodes) == 0 {
		return nil
	}
	q := e.m.Query
	inColumn := make([][]string, len(q.Segments))
	h := &narrowedHistory{segments: map[string]bool{}}
	starts := []time.Time{e.windowEnd}
	for key, since := range episodes {
		values, err := source.ParseSegmentKey(key)
		if err != nil || len(values) != len(q.Segments) {
			return nil
		}
		for i, col := range q.Segments {
			if values[col] == "" {
				return nil
			}
			inColumn[i] = append(inColumn[i], values[col])
		}
		h.segments[key] = true
		starts = append(starts, since)
	}
	h.bounds = sortedCuts(starts)
	h.q = q
	h.q.Filters = slices.Clone(q.Filters)
	for i, col := range q.Segments {
		slices.Sort(inColumn[i])
		h.q.Filters = append(h.q.Filters, source.Filter{Column: col, Operator: source.In, Values: slices.Compact(inColumn[i])})
	}
	return h
}

// predictedStatistics bounds the statistics of the predicted history's
// running segments (open episodes are always in it): a tenth of what one
// history may hold.
const predictedStatistics = source.MaxHistoryStatistics / 10

// predict announces the detector's state before the evaluation: the
// history of its open episodes off the cuts is read alongside the
// evaluation's, with the running segments off the cuts closest to their
// threshold (highest statistic first) while the history's estimated
// statistics stay within predictedStatistics, since an episode that opens in this evaluation
// opens from one of them and reads its evidence from where it started.
// e may be nil.
func (e *episodeReads) predict(state map[string]detect.SegmentState) {
	if e == nil {
		return
	}
	episodes := e.offCuts(state)
	var running []string
	for key, s := range state {
		if key != "" && !s.Open() && s.Statistic > 0 && !s.Since.IsZero() && s.Since.Before(e.windowEnd) && !e.cuts[s.Since.UnixNano()] {
			running = append(running, key)
		}
	}
	sort.Slice(running, func(i, j int) bool {
		a, b := state[running[i]], state[running[j]]
		if a.Statistic != b.Statistic {
			return a.Statistic > b.Statistic
		}
		return running[i] < running[j]
	})
	// Each segment is priced at one statistic per bucket it can have data
	// in, at most one per unit fed since its statistic left zero and one
	// for the new interval: a segment that answers every few days costs a
	// few statistics, not a bucket of every start.
	starts := map[int64]bool{}
	for _, since := range episodes {
		starts[since.UnixNano()] = true
	}
	cost := func(s detect.SegmentState) int {
		return min(len(starts)+1, int(math.Ceil(s.Samples))+2)
	}
	total := 0
	for key := range episodes {
		total += cost(state[key])
	}
	for _, key := range running {
		s := state[key]
		if total+cost(s) > predictedStatistics {
			break
		}
		total += cost(s)
		episodes[key] = s.Since
		starts[s.Since.UnixNano()] = true
	}
	h := e.narrow(episodes)
	if h != nil && source.ReadAlongside(e.Source, e.m.Definition, e.m.Query, source.HistoryRead{Query: h.q, Bounds: h.bounds}) {
		e.predicted = h
	}
}

// expect announces the detector's state after the feed, before its open
// episodes' evidence is read: those whose start is not a cut are read
// from the predicted history when it has their segment and start, and
// the others from one narrowed history of their own. e may be nil.
func (e *episodeReads) expect(state map[string]detect.SegmentState) {
	if e == nil {
		return
	}
	reads := map[string]episodeRead{}
	late := map[string]time.Time{}
	add := func(key string, since time.Time, h *narrowedHistory) bool {
		values, err := source.ParseSegmentKey(key)
		if err != nil {
			return false
		}
		encoded, err := json.Marshal(ForSegment(e.m.Query, values))
		from := slices.IndexFunc(h.bounds, since.Equal)
		if err != nil || from < 0 || from == len(h.bounds)-1 {
			return false
		}
		reads[string(encoded)] = episodeRead{segment: key, h: h, from: from}
		return true
	}
	for key, since := range e.offCuts(state) {
		if p := e.predicted; p != nil && p.segments[key] && add(key, since, p) {
			continue
		}
		late[key] = since
	}
	if h := e.narrow(late); h != nil {
		for key, since := range late {
			add(key, since, h)
		}
	}
	e.reads = reads
}

// Query answers an episode's evidence read from its narrowed history.
func (e *episodeReads) Query(ctx context.Context, def measure.Definition, q source.Query, from, to time.Time) (*source.Result, error) {
	encoded, err := json.Marshal(q)
	r, ok := e.reads[string(encoded)]
	if err != nil || !ok || def.Hash() != e.m.Definition.Hash() || !to.Equal(r.h.bounds[len(r.h.bounds)-1]) || !from.Equal(r.h.bounds[r.from]) {
		return e.Source.Query(ctx, def, q, from, to)
	}
	h := r.h
	h.once.Do(func() {
		h.results, h.err = source.History(ctx, e.Source, e.m.Definition, h.q, h.bounds)
	})
	if h.err != nil || len(h.results) != len(h.bounds)-1 {
		return e.Source.Query(ctx, def, q, from, to)
	}
	out := &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}}
	for _, b := range h.results[r.from:] {
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
