package source

import (
	"context"
	"encoding/json"
	"fmt"
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

// maxPrefetchBuckets bounds the intervals a replay's history prefetch
// holds per query; a longer replay (minutely intervals over years) reads
// its windows from the source as it goes.
const maxPrefetchBuckets = 200_000

// PrefetchHistory wraps src for a replay whose reads fall on the interval
// grid bounds (strictly increasing: the Metric's aligned interval bounds,
// in its time zone, over the replay's whole span). When src is a
// HistorySource and not a RangeSource (whose aligned windows Prefetch
// serves), the first read of a query fetches that query's interval
// buckets over all of bounds in one QueryHistory, and every read of the
// same definition and query whose ends are both bounds is answered by
// merging the buckets it covers: a window, a baseline, the detector's
// feed, the calibration's steps (QueryHistory with bounds on the grid).
// Counts merge exactly, sums up to rounding in the last bits; the
// Statement is the history's.
//
// A query with a cluster column is answered from buckets only one
// interval at a time: clusters are taken within a query's range
// (measure.Clusters), so an account answering on several days is one
// cluster of a window but one per day in the merged buckets, and the
// window's cluster sums would differ from the merge. Its window reads go
// to src. Reads off the grid go to src, and so does a query whose
// history cannot be fetched (its reads then fail or succeed as src says).
//
// A src that is itself such a prefetch (a replay's) is returned as it is:
// its reads are already merges of buckets.
func PrefetchHistory(src Source, bounds []time.Time) Source {
	switch src.(type) {
	case RangeSource, *historyPrefetch:
		return src
	}
	hs, ok := src.(HistorySource)
	if !ok || len(bounds) < 2 || len(bounds) > maxPrefetchBuckets+1 {
		return src
	}
	p := &historyPrefetch{src: hs, bounds: make([]time.Time, len(bounds)), index: make(map[int64]int, len(bounds)),
		buckets: map[historyKey]*historyBuckets{}}
	for i, b := range bounds {
		if i > 0 && !b.After(bounds[i-1]) {
			return src
		}
		p.bounds[i] = b
		p.index[b.UnixNano()] = i
	}
	return p
}

// PrefetchReads is PrefetchHistory for the few reads of one evaluation
// over bounds cut where they start and end: a span is merged from its
// buckets as they are, and no pre-merged runs are built. A replay's
// thousands of windows gain from the runs (blocks); one evaluation's
// handful do not, and each run of a Metric of 10,000 accounts weighs as
// much as its window.
func PrefetchReads(src Source, bounds []time.Time) Source {
	out := PrefetchHistory(src, bounds)
	if p, ok := out.(*historyPrefetch); ok && out != src {
		p.direct = true
	}
	return out
}

// DerivesSegments reports whether src is a replay's prefetch
// (PrefetchHistory): it holds the query's buckets on every interval of
// the replay, so a read of one segment from any interval on (an
// episode's evidence, ForSegment) is merged from them (derived), and
// narrowing a history to some segments would only read the source again
// over the whole replay.
func DerivesSegments(src Source) bool {
	p, ok := src.(*historyPrefetch)
	return ok && !p.direct
}

// historyPrefetch answers grid-aligned reads from interval buckets.
type historyPrefetch struct {
	src HistorySource
	// direct says spans merge their buckets without runs (PrefetchReads).
	direct bool
	bounds []time.Time
	// index is the position of each bound, by its Unix nanoseconds.
	index map[int64]int

	// mu serialises fetches: a key's history is fetched once.
	mu      sync.Mutex
	buckets map[historyKey]*historyBuckets
	// alongside are histories read in the same round trip as a key's
	// (ReadAlongside), and extra their answers once read, by readKey.
	alongside map[historyKey]HistoryRead
	extra     map[string][]*Result
}

// historyKey says which buckets a query may be answered from.
type historyKey struct {
	definition string
	// query is every field of the Query, encoded.
	query string
}

// historyBuckets are one key's results per interval of the grid.
type historyBuckets struct {
	// def and q are the definition's hash and the query fetched.
	def     string
	q       Query
	results []*Result
	// statement is the history's, the Statement of every answer.
	statement string
	// failed is set when the history could not be fetched.
	failed bool

	// direct says spans merge the buckets themselves, without blocks.
	direct bool

	// mu guards blocks, the buckets' pre-merged runs.
	mu     sync.Mutex
	blocks blocks
}

// span returns the grid positions of from and to; ok is false when
// either is off the grid or they are not in order.
func (p *historyPrefetch) span(from, to time.Time) (i, j int, ok bool) {
	i, oki := p.index[from.UnixNano()]
	j, okj := p.index[to.UnixNano()]
	return i, j, oki && okj && j > i
}

// of returns the buckets of def and q, fetching them on first use; nil
// when they cannot be had (the caller asks src).
func (p *historyPrefetch) of(ctx context.Context, def measure.Definition, q Query) (*historyBuckets, error) {
	key, ok := keyOf(def, q)
	if !ok {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[key]
	if b == nil {
		if b = p.derived(def, q); b != nil {
			b.direct = p.direct
			p.buckets[key] = b
			return b, nil
		}
		b = &historyBuckets{def: def.Hash(), q: q, direct: p.direct}
		p.buckets[key] = b
		got, err := p.fetch(ctx, def, key, q)
		switch {
		case ctx.Err() != nil:
			delete(p.buckets, key)
			return nil, err
		case err != nil || len(got) != len(p.bounds)-1:
			b.failed = true
		default:
			b.results = got
			for _, r := range got {
				if r != nil {
					b.statement = r.Statement
					break
				}
			}
		}
	}
	if b.failed {
		return nil, nil
	}
	return b, nil
}

// Query answers from the buckets when from and to are on the grid (and,
// for a query with a cluster column, one interval apart); otherwise it
// asks src.
func (p *historyPrefetch) Query(ctx context.Context, def measure.Definition, q Query, from, to time.Time) (*Result, error) {
	i, j, ok := p.span(from, to)
	if !ok || (q.Cluster != "" && j-i > 1) {
		return p.src.Query(ctx, def, q, from, to)
	}
	b, err := p.of(ctx, def, q)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return p.src.Query(ctx, def, q, from, to)
	}
	return b.merge(def, q, i, j, p.bounds)
}

// QueryHistory answers from the buckets when every bound is on the grid
// (and, for a query with a cluster column, the bounds are consecutive
// intervals of it); otherwise it asks src for the history.
func (p *historyPrefetch) QueryHistory(ctx context.Context, def measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	if len(bounds) < 2 {
		return nil, nil
	}
	if k, ok := readKey(def, q, bounds); ok {
		p.mu.Lock()
		got, read := p.extra[k]
		delete(p.extra, k)
		p.mu.Unlock()
		if read {
			return got, nil
		}
	}
	pos := make([]int, len(bounds))
	for k, t := range bounds {
		i, ok := p.index[t.UnixNano()]
		if !ok || (k > 0 && (i <= pos[k-1] || (q.Cluster != "" && i != pos[k-1]+1))) {
			return History(ctx, p.src, def, q, bounds)
		}
		pos[k] = i
	}
	b, err := p.of(ctx, def, q)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return History(ctx, p.src, def, q, bounds)
	}
	out := make([]*Result, len(bounds)-1)
	for k := range out {
		r, err := b.merge(def, q, pos[k], pos[k+1], p.bounds)
		if err != nil {
			return nil, err
		}
		if r.Overall.Total.N > 0 {
			out[k] = r
		}
	}
	return out, nil
}

// merge is the result over the buckets [i, j): what Query over
// [bounds[i], bounds[j]) returns, merged from the aligned runs that tile
// the span (blocks). The buckets and runs are left as they are.
func (b *historyBuckets) merge(def measure.Definition, q Query, i, j int, bounds []time.Time) (*Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := newResult(b.statement)
	if clustered(def, q) {
		// A clustered query's statistics say so even without units.
		out.Overall.MarkClustered()
	}
	tile := spans
	if b.direct {
		tile = buckets
	}
	err := tile(i, j, func(level, n int) error {
		mergeInto(out, b.run(def, q, level, n))
		// Each run is within the bound; the window must be too, as
		// the window's own query would have failed.
		if len(out.Segments) > q.maxSegments() {
			return fmt.Errorf("[%s, %s): %w", bounds[i].UTC().Format(time.RFC3339),
				bounds[j].UTC().Format(time.RFC3339), tooManySegments(q.maxSegments(), len(out.Segments)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Check checks src.
func (p *historyPrefetch) Check(ctx context.Context) error { return p.src.Check(ctx) }

// Close closes src.
func (p *historyPrefetch) Close() error { return p.src.Close() }
