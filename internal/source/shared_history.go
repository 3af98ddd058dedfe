package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// SharedHistory serves the histories of several Metrics over one source
// from shared statements, for a replay of many of them (`kubectl cx
// backtest`): Metrics that read the same table with the same definition
// and differ only in the value of one Equals filter (one survey each of
// a responses table) are read by one history with that filter as In and
// its column as a segment, then split back into each Metric's answer.
// Without an index a table is then scanned once per group of Metrics, not
// once per Metric, as one GROUP BY over it would.
//
// Each Metric's (definition, query) is announced with Expect before the
// replays start; a QueryHistory that matches an announced query on the
// same bounds as others of its group fetches the group's history once
// and hands every member its own share, once. Anything else goes to the
// source as it is: queries with a cluster column (clusters are taken
// within a range and segment, so they would not split), groups whose
// shared history is too large (tried again in halves), and a member whose
// share cannot be told apart (a discriminating value the source spells
// differently from the filter, or no row at all) reads its own history.
type SharedHistory struct {
	HistorySource

	mu       sync.Mutex
	expected []sharedMember
	groups   map[string]*sharedGroup
}

// sharedMember is one announced query.
type sharedMember struct {
	def measure.Definition
	q   Query
}

// sharedGroup is the fetch of one group on one grid.
type sharedGroup struct {
	once   sync.Once
	shares map[string][]*Result // by member key; taken once
	mu     sync.Mutex
}

// NewSharedHistory wraps src; a source that answers no histories is
// returned as it is (its reads cannot be shared this way).
func NewSharedHistory(src Source) Source {
	hs, ok := src.(HistorySource)
	if !ok {
		return src
	}
	if _, ranged := src.(RangeSource); ranged {
		return src
	}
	return &SharedHistory{HistorySource: hs, groups: map[string]*sharedGroup{}}
}

// Expect announces a query a replay will read the history of.
func (s *SharedHistory) Expect(def measure.Definition, q Query) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expected = append(s.expected, sharedMember{def: def, q: q})
}

// memberKey identifies a query exactly.
func memberKey(def measure.Definition, q Query) string {
	b, _ := json.Marshal(q)
	return def.Hash() + "\x00" + string(b)
}

// discriminators are the positions of the filters a query's group may
// vary in: Equals filters with one value on a column that is not a
// segment.
func discriminators(q Query) []int {
	var out []int
	for i, f := range q.Filters {
		if f.Operator != Equals || len(f.Values) != 1 {
			continue
		}
		seg := false
		for _, c := range q.Segments {
			seg = seg || c == f.Column
		}
		if !seg {
			out = append(out, i)
		}
	}
	return out
}

// groupKey is what the members of a group share: everything but the
// value of the filter at position i. The definition counts without its
// Source, the canonical text of the query that the rest of the key holds
// (filter included).
func groupKey(def measure.Definition, q Query, i int) string {
	g := q
	g.Filters = append([]Filter(nil), q.Filters...)
	g.Filters[i] = Filter{Column: q.Filters[i].Column, Operator: Equals}
	def.Source = ""
	return memberKey(def, g)
}

// QueryHistory answers an announced query from its group's shared
// history, and any other from the source.
func (s *SharedHistory) QueryHistory(ctx context.Context, def measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	if q.Cluster != "" || len(bounds) < 2 {
		return s.HistorySource.QueryHistory(ctx, def, q, bounds)
	}
	me := memberKey(def, q)
	pos, members := s.group(def, q, me)
	if len(members) < 2 {
		return s.HistorySource.QueryHistory(ctx, def, q, bounds)
	}
	key := fmt.Sprintf("%s\x00%d\x00%d\x00%d", groupKey(def, q, pos), bounds[0].UnixNano(), bounds[len(bounds)-1].UnixNano(), len(bounds))
	s.mu.Lock()
	g := s.groups[key]
	if g == nil {
		g = &sharedGroup{}
		s.groups[key] = g
	}
	s.mu.Unlock()
	g.once.Do(func() {
		g.shares = map[string][]*Result{}
		s.fetch(ctx, members, pos, bounds, g.shares)
	})
	g.mu.Lock()
	share, ok := g.shares[me]
	delete(g.shares, me)
	g.mu.Unlock()
	if !ok {
		return s.HistorySource.QueryHistory(ctx, def, q, bounds)
	}
	return share, nil
}

// group returns the filter position and the announced queries (q first)
// of q's largest group; fewer than two when q shares with none.
func (s *SharedHistory) group(def measure.Definition, q Query, me string) (int, []sharedMember) {
	s.mu.Lock()
	defer s.mu.Unlock()
	announced := false
	for _, e := range s.expected {
		announced = announced || memberKey(e.def, e.q) == me
	}
	if !announced {
		return 0, nil
	}
	best, bestPos := []sharedMember(nil), 0
	for _, i := range discriminators(q) {
		gk := groupKey(def, q, i)
		members := []sharedMember{{def: def, q: q}}
		seen := map[string]bool{q.Filters[i].Values[0]: true}
		for _, e := range s.expected {
			if e.q.Cluster != "" || len(e.q.Filters) != len(q.Filters) || e.q.Filters[i].Operator != Equals ||
				len(e.q.Filters[i].Values) != 1 || groupKey(e.def, e.q, i) != gk {
				continue
			}
			if v := e.q.Filters[i].Values[0]; !seen[v] {
				seen[v] = true
				members = append(members, e)
			}
		}
		if len(members) > len(best) {
			best, bestPos = members, i
		}
	}
	return bestPos, best
}

// fetch reads the members' history in one statement, or in halves while
// it is too large, and stores each member's share; a member left out
// reads its own.
func (s *SharedHistory) fetch(ctx context.Context, members []sharedMember, pos int, bounds []time.Time, shares map[string][]*Result) {
	if len(members) < 2 {
		return
	}
	first := members[0].q
	col := first.Filters[pos].Column
	values := make([]string, len(members))
	byValue := map[string]sharedMember{}
	for i, m := range members {
		values[i] = m.q.Filters[pos].Values[0]
		byValue[values[i]] = m
	}
	sort.Strings(values)
	shared := first
	shared.Filters = append([]Filter(nil), first.Filters...)
	shared.Filters[pos] = Filter{Column: col, Operator: In, Values: values}
	shared.Segments = append([]string{col}, first.Segments...)
	shared.MaxSegments = len(members) * max(1, first.maxSegments())
	got, err := s.HistorySource.QueryHistory(ctx, members[0].def, shared, bounds)
	if errors.Is(err, ErrTooLarge) {
		half := len(members) / 2
		s.fetch(ctx, members[:half], pos, bounds, shares)
		s.fetch(ctx, members[half:], pos, bounds, shares)
		return
	}
	if err != nil || len(got) != len(bounds)-1 {
		return
	}
	split, ok := splitHistory(got, col, byValue)
	if !ok {
		return
	}
	for v, rs := range split {
		shares[memberKey(byValue[v].def, byValue[v].q)] = rs
	}
}

// splitHistory splits a shared history by the value of its first segment
// column col into each member's history: the member's segments without
// col, and its population merged from them. ok is false when a row's
// value belongs to no member. A member without a row, or with more
// segments than its query allows, has no share.
func splitHistory(got []*Result, col string, byValue map[string]sharedMember) (map[string][]*Result, bool) {
	out := map[string][]*Result{}
	for v := range byValue {
		out[v] = make([]*Result, len(got))
	}
	rows := map[string]bool{}
	for i, r := range got {
		if r == nil {
			continue
		}
		for _, seg := range r.Segments {
			v := seg.Values[col]
			m, ok := byValue[v]
			if !ok {
				return nil, false
			}
			q := m.q
			rows[v] = true
			res := out[v][i]
			if res == nil {
				res = newResult(r.Statement)
				out[v][i] = res
			}
			res.Overall.Merge(seg.Stats)
			if len(q.Segments) == 0 {
				continue
			}
			own := make(map[string]string, len(seg.Values)-1)
			for c, x := range seg.Values {
				if c != col {
					own[c] = x
				}
			}
			k := SegmentKey(own)
			if s, ok := res.Segments[k]; ok {
				s.Stats.Merge(seg.Stats)
			} else {
				res.Segments[k] = &Segment{Key: k, Values: own, Stats: seg.Stats.Clone()}
			}
		}
	}
	for v, rs := range out {
		q := byValue[v].q
		keep := rows[v]
		for _, r := range rs {
			if r != nil && len(r.Segments) > q.maxSegments() {
				keep = false
			}
		}
		if !keep {
			delete(out, v)
		}
	}
	return out, true
}
