package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// history reads the consecutive intervals [bounds[i], bounds[i+1]) of q
// from src in one source.History call. Element i is nil when the interval
// has no units, as source.History says.
func history(ctx context.Context, src source.Source, m Metric, q source.Query, bounds []time.Time) ([]*source.Result, error) {
	out, err := source.History(ctx, src, m.Definition, q, bounds)
	if err != nil {
		return nil, err
	}
	if len(bounds) > 1 && len(out) != len(bounds)-1 {
		return nil, fmt.Errorf("%w: the history answers %d intervals of %d", source.ErrBadQuery, len(out), len(bounds)-1)
	}
	return out, nil
}

// wallSteps are the bounds from, from+step, ... in m's wall-clock time,
// the last one clipped to to, at most limit intervals (no limit when
// limit <= 0). A step that a daylight-saving change folds onto the
// previous bound is skipped, so the bounds strictly increase.
func wallSteps(m Metric, from, to time.Time, step time.Duration, limit int) []time.Time {
	if !to.After(from) {
		return nil
	}
	bounds := []time.Time{from}
	for cur := from; cur.Before(to) && (limit <= 0 || len(bounds) <= limit); {
		next := AddWall(cur, step, m.Location)
		if next.After(to) {
			next = to
		}
		if !next.After(cur) {
			// A wall time skipped by a daylight-saving change maps
			// forward onto cur: one step more.
			next = AddWall(next, step, m.Location)
		}
		bounds = append(bounds, next)
		cur = next
	}
	return bounds
}

// QueryHistory answers a history with the exclusions cut out in one
// round trip to the wrapped source: the history runs over the bounds
// refined by every exclusion edge inside them, and each interval merges
// its included parts, as Query does.
func (x *excluding) QueryHistory(ctx context.Context, d measure.Definition, q source.Query, bounds []time.Time) ([]*source.Result, error) {
	if len(bounds) < 2 {
		return nil, nil
	}
	// fine are the refined bounds; owner[k] is the interval fine part k
	// lies in, or -1 when an exclusion covers it.
	fine := []time.Time{bounds[0]}
	var owner []int
	for i := 0; i+1 < len(bounds); i++ {
		cur := bounds[i]
		for _, p := range x.m.included(bounds[i], bounds[i+1]) {
			if p.from.After(cur) {
				fine, owner = append(fine, p.from), append(owner, -1)
			}
			fine, owner = append(fine, p.to), append(owner, i)
			cur = p.to
		}
		if bounds[i+1].After(cur) {
			fine, owner = append(fine, bounds[i+1]), append(owner, -1)
		}
	}
	parts, err := source.History(ctx, x.src, d, q, fine)
	if err != nil {
		return nil, err
	}
	limit := q.MaxSegments
	if limit <= 0 {
		limit = source.MaxSegments
	}
	out := make([]*source.Result, len(bounds)-1)
	for k, r := range parts {
		i := owner[k]
		if i < 0 || r == nil {
			continue
		}
		if out[i] == nil {
			out[i] = &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}, Statement: r.Statement}
		}
		o := out[i]
		o.Overall.Merge(r.Overall)
		for key, seg := range r.Segments {
			cur, ok := o.Segments[key]
			if !ok {
				cur = &source.Segment{Key: seg.Key, Values: seg.Values, Stats: &measure.Stats{}}
				o.Segments[key] = cur
			}
			cur.Stats.Merge(seg.Stats)
		}
		if len(o.Segments) > limit {
			return nil, fmt.Errorf("%w: more than %d segments across the parts of [%s, %s) outside exclusions",
				source.ErrTooManySegments, limit, bounds[i].UTC().Format(time.RFC3339), bounds[i+1].UTC().Format(time.RFC3339))
		}
	}
	for i, o := range out {
		if o.Empty() {
			out[i] = nil
		}
	}
	return out, nil
}
