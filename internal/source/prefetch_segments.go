package source

import (
	"encoding/json"
	"slices"

	"github.com/cxloop/cxloop/internal/measure"
)

// derived returns the buckets of q taken from a fetched query's segments,
// nil when there is none to take them from. q is one segment of a
// segmented query already fetched (its segment columns narrowed to one
// value each by equality filters, as the engine narrows a query to a
// segment's episode or task) or that query's whole population (no
// segment columns): every bucket of q is then that segment's statistics,
// or the population's, so a replay reads each segment's episode evidence
// and verification without another history.
//
// Only queries without a cluster column are: a segmented query's
// population merges its segments' cluster sums (an account in two
// segments is two clusters), the unsegmented query's takes each account
// once. An empty segment value is left to the source as well: NULL and
// the empty string group alike but do not filter alike.
func (p *historyPrefetch) derived(def measure.Definition, q Query) *historyBuckets {
	if len(q.Segments) > 0 || q.Cluster != "" {
		return nil
	}
	hash := def.Hash()
	for _, b := range p.buckets {
		if b.failed || b.results == nil || b.def != hash || len(b.q.Segments) == 0 {
			continue
		}
		values, ok := segmentOf(b.q, q)
		if !ok {
			continue
		}
		key := SegmentKey(values)
		out := &historyBuckets{def: hash, q: q, statement: b.statement, results: make([]*Result, len(b.results))}
		for i, r := range b.results {
			if r == nil {
				continue
			}
			st := r.Overall
			if len(values) > 0 {
				seg, ok := r.Segments[key]
				if !ok {
					continue
				}
				st = seg.Stats
			}
			// A segment's bucket without rated units still counts its
			// unrated and rejected ones in a window, as its own query's.
			if st.Total.N > 0 || st.Unrated.N > 0 || st.Rejected.N > 0 {
				// Shared, not copied: merge reads buckets and never
				// writes them.
				out.results[i] = &Result{Overall: st, Segments: map[string]*Segment{}, Statement: r.Statement}
			}
		}
		return out
	}
	return nil
}

// segmentOf reports whether q is base narrowed to one segment (values
// holds its column values) or to its whole population (values empty):
// base without segment columns, its filters followed by one equality
// filter of one non-empty value per segment column, in base's order.
func segmentOf(base, q Query) (map[string]string, bool) {
	if len(q.Filters) < len(base.Filters) {
		return nil, false
	}
	for i, f := range base.Filters {
		g := q.Filters[i]
		if f.Column != g.Column || f.Operator != g.Operator || !slices.Equal(f.Values, g.Values) {
			return nil, false
		}
	}
	extra := q.Filters[len(base.Filters):]
	if len(extra) != 0 && len(extra) != len(base.Segments) {
		return nil, false
	}
	values := map[string]string{}
	for i, f := range extra {
		if f.Column != base.Segments[i] || f.Operator != Equals || len(f.Values) != 1 || f.Values[0] == "" {
			return nil, false
		}
		values[f.Column] = f.Values[0]
	}
	// Every other field alike.
	a, b := base, q
	a.Segments, a.Filters, b.Filters = nil, nil, nil
	ea, err1 := json.Marshal(a)
	eb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil || string(ea) != string(eb) {
		return nil, false
	}
	return values, true
}
