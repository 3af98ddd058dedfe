package source

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// RangeSource is a source that can evaluate one query at many window ends in one request.
type RangeSource interface {
	Source
	// QueryRange returns, for every end = first, first+step, ..., ≤ last, the Result that Query(ctx, def, q, end-window, end) would return.
	QueryRange(ctx context.Context, def measure.Definition, q Query, window time.Duration, first, last time.Time, step time.Duration) (map[time.Time]*Result, error)
}

// Prefetch wraps src for a replay that walks window ends aligned on step
// up to last: when src is a RangeSource, the first query whose end is
// aligned on step (a multiple of step since the Unix epoch, as evaluations
// align their ends) and not after last fetches that query's results for
// every aligned end from its own to last in one QueryRange, and later
// queries with the same definition, query and window length are answered
// from them. Any other query goes to src. A source that cannot answer
// ranges is returned as it is.
//
// If the range cannot be fetched (a range too heavy for the server, a
// proxy that serves instant queries only), the query and its later ends
// fall back to src.Query, whose results are the same by contract.
func Prefetch(src Source, step time.Duration, last time.Time) Source {
	rs, ok := src.(RangeSource)
	if !ok || step <= 0 {
		return src
	}
	return &prefetched{src: rs, step: step, last: last.UTC(), ranges: map[prefetchKey]*prefetchedRange{}}
}

// prefetched answers aligned queries from range results.
type prefetched struct {
	src  RangeSource
	step time.Duration
	last time.Time

	// mu serialises fetches: the same range is never fetched twice.
	mu     sync.Mutex
	ranges map[prefetchKey]*prefetchedRange
}

// prefetchKey says which results a query may be answered from.
type prefetchKey struct {
	definition string
	// query is every field of the Query, encoded.
	query  string
	window time.Duration
}

// prefetchedRange holds one key's results for the aligned ends from first
// to the wrapper's last.
type prefetchedRange struct {
	first   time.Time
	results map[time.Time]*Result
	// failed is set when the range could not be fetched.
	failed bool
}

// Query answers from the prefetched range when to is aligned and not
// after last, fetching the range first when needed; otherwise it asks src.
func (p *prefetched) Query(ctx context.Context, def measure.Definition, q Query, from, to time.Time) (*Result, error) {
	end, window := to.UTC(), to.Sub(from)
	if window <= 0 || p.last.Sub(end)%p.step != 0 || end.After(p.last) {
		return p.src.Query(ctx, def, q, from, to)
	}
	encoded, err := json.Marshal(q)
	if err != nil {
		return p.src.Query(ctx, def, q, from, to)
	}
	key := prefetchKey{definition: def.Hash(), query: string(encoded), window: window}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.ranges[key]
	if r == nil {
		r = &prefetchedRange{first: p.last.Add(p.step), results: map[time.Time]*Result{}}
		p.ranges[key] = r
	}
	if !r.failed && end.Before(r.first) {
		got, err := p.src.QueryRange(ctx, def, q, window, end, r.first.Add(-p.step), p.step)
		switch {
		case ctx.Err() != nil:
			return nil, err
		case err != nil:
			r.failed = true
		default:
			for t, res := range got {
				r.results[t] = res
			}
			r.first = end
		}
	}
	res, ok := r.results[end]
	if !ok {
		return p.src.Query(ctx, def, q, from, to)
	}
	return res.clone(), nil
}

// Check checks src.
func (p *prefetched) Check(ctx context.Context) error { return p.src.Check(ctx) }

// Close closes src.
func (p *prefetched) Close() error { return p.src.Close() }

// clone returns a deep copy, so a caller that merges into a result leaves
// the prefetched one as it was.
func (r *Result) clone() *Result {
	c := &Result{Overall: r.Overall.Clone(), Segments: make(map[string]*Segment, len(r.Segments)), Statement: r.Statement}
	for k, s := range r.Segments {
		values := make(map[string]string, len(s.Values))
		for col, v := range s.Values {
			values[col] = v
		}
		c.Segments[k] = &Segment{Key: s.Key, Values: values, Stats: s.Stats.Clone()}
	}
	return c
}
