package engine

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// Recurrence says whether an exclusion repeats.
type Recurrence string

// The recurrences.
const (
	RecurrenceNone   Recurrence = "None"
	RecurrenceWeekly Recurrence = "Weekly"
	RecurrenceYearly Recurrence = "Yearly"
)

// week is a recurrence step in wall-clock time.
const week = 7 * 24 * time.Hour

// Exclusion is a known event (an outage, a price change, the holidays)
// whose data the metric leaves out of everything it computes.
type Exclusion struct {
	Name string
	// Start and End bound the first occurrence, [Start, End).
	Start, End time.Time
	// Recurrence repeats it at the same wall-clock time in the metric's
	// time zone.
	Recurrence Recurrence
	Reason     string
}

// Occurrence is one occurrence of an exclusion, [Start, End).
type Occurrence struct {
	Name, Reason string
	Start, End   time.Time
}

// occurrences returns e's occurrences that overlap [from, to), in order.
func (e Exclusion) occurrences(from, to time.Time, loc *time.Location) []Occurrence {
	if !e.End.After(e.Start) || !to.After(from) {
		return nil
	}
	at := func(k int) Occurrence {
		o := Occurrence{Name: e.Name, Reason: e.Reason, Start: e.Start, End: e.End}
		switch e.Recurrence {
		case RecurrenceWeekly:
			o.Start = AddWall(e.Start, time.Duration(k)*week, loc)
			o.End = AddWall(e.End, time.Duration(k)*week, loc)
		case RecurrenceYearly:
			o.Start = unwall(wall(e.Start, loc).AddDate(k, 0, 0), loc)
			o.End = unwall(wall(e.End, loc).AddDate(k, 0, 0), loc)
		}
		return o
	}
	// The candidates: k = 0 for a one-off; for a recurring exclusion the
	// steps around [from, to), one more either side for what daylight
	// saving moves.
	lo, hi := 0, 0
	switch e.Recurrence {
	case RecurrenceWeekly:
		lo = int(from.Sub(e.End)/week) - 1
		hi = int(to.Sub(e.Start)/week) + 1
	case RecurrenceYearly:
		y := wall(e.Start, loc).Year()
		lo = wall(from, loc).Year() - y - 1
		hi = wall(to, loc).Year() - y + 1
	}
	lo = max(lo, 0)
	var out []Occurrence
	for k := lo; k <= hi; k++ {
		o := at(k)
		if o.Start.Before(to) && o.End.After(from) && o.End.After(o.Start) {
			out = append(out, o)
		}
	}
	return out
}

// Occurrences returns the occurrences of m's exclusions that overlap
// [from, to), by start, then name.
func (m Metric) Occurrences(from, to time.Time) []Occurrence {
	var out []Occurrence
	for _, e := range m.Exclusions {
		out = append(out, e.occurrences(from, to, m.Location)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// ExclusionAt is the occurrence that covers the latest interval before
// windowEnd, the one an evaluation at windowEnd reports: of those that
// overlap it, the one that started first.
func (m Metric) ExclusionAt(windowEnd time.Time) (Occurrence, bool) {
	occ := m.Occurrences(AddWall(windowEnd, -m.Interval, m.Location), windowEnd)
	if len(occ) == 0 {
		return Occurrence{}, false
	}
	return occ[0], true
}

// span is a time range [from, to).
type span struct{ from, to time.Time }

// included returns the parts of [from, to) no exclusion covers, in order.
func (m Metric) included(from, to time.Time) []span {
	var out []span
	cur := from
	for _, o := range m.Occurrences(from, to) {
		if o.Start.After(cur) {
			out = append(out, span{cur, o.Start})
		}
		if o.End.After(cur) {
			cur = o.End
		}
	}
	if to.After(cur) {
		out = append(out, span{cur, to})
	}
	return out
}

// ExcludeFrom wraps src so that every query leaves out the time m's
// exclusions cover: Query(from, to) runs src over the included parts of
// [from, to) and merges their statistics (counts exactly, sums up to
// rounding), and a range wholly excluded returns no data. Every entry
// point that reads a metric's source with a Metric in hand wraps it, so
// the window, the detector's feed, the baseline, calibration and the
// verification of a fix all see the same data. A source already wrapped
// is rewrapped with m's exclusions; without exclusions src is returned as
// it is.
func ExcludeFrom(src source.Source, m Metric) source.Source {
	if x, ok := src.(*excluding); ok {
		src = x.src
	}
	if src == nil || len(m.Exclusions) == 0 {
		return src
	}
	return &excluding{src: src, m: m}
}

// excluding is a source with a metric's exclusions cut out.
type excluding struct {
	src source.Source
	m   Metric
}

// Query implements source.Source.
func (x *excluding) Query(ctx context.Context, d measure.Definition, q source.Query, from, to time.Time) (*source.Result, error) {
	parts := x.m.included(from, to)
	if len(parts) == 1 && parts[0].from.Equal(from) && parts[0].to.Equal(to) {
		return x.src.Query(ctx, d, q, from, to)
	}
	out := &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}}
	limit := q.MaxSegments
	if limit <= 0 {
		limit = source.MaxSegments
	}
	for _, p := range parts {
		r, err := x.src.Query(ctx, d, q, p.from, p.to)
		if err != nil {
			return nil, err
		}
		if out.Statement == "" {
			out.Statement = r.Statement
		}
		out.Overall.Merge(r.Overall)
		for key, seg := range r.Segments {
			cur, ok := out.Segments[key]
			if !ok {
				// Cloned: a source may cache its results (a prefetched range).
				cur = &source.Segment{Key: seg.Key, Values: seg.Values, Stats: &measure.Stats{}}
				out.Segments[key] = cur
			}
			cur.Stats.Merge(seg.Stats)
		}
		// Each part is within the bound; their union must be too.
		if len(out.Segments) > limit {
			return nil, fmt.Errorf("%w: more than %d segments across the parts of [%s, %s) outside exclusions",
				source.ErrTooManySegments, limit, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
		}
	}
	return out, nil
}

// Check implements source.Source.
func (x *excluding) Check(ctx context.Context) error { return x.src.Check(ctx) }

// Close implements source.Source.
func (x *excluding) Close() error { return x.src.Close() }

// skipExcluded moves the detector's feed past an exclusion it stands in:
// the excluded intervals hold no data by construction, and the feed only
// moves past intervals that held data, so a long exclusion would
// otherwise hold it at the exclusion's start. It stays on the interval
// grid: the interval the exclusion ends in is fed its included part.
func skipExcluded(m Metric, prior Prior) Prior {
	d := prior.Detector
	if d == nil || d.FedUntil.IsZero() || len(m.Exclusions) == 0 {
		return prior
	}
	fed := d.FedUntil
	for range 2 * len(m.Exclusions) {
		moved := false
		for _, o := range m.Occurrences(fed, fed.Add(time.Nanosecond)) {
			if next := Align(o.End, m.Interval, m.Location); next.After(fed) {
				fed, moved = next, true
			}
		}
		if !moved {
			break
		}
	}
	if fed.Equal(d.FedUntil) {
		return prior
	}
	c := *d
	c.FedUntil = fed
	prior.Detector = &c
	return prior
}

// EventExcluded is the replay event of an exclusion's occurrence: the
// evaluation it first covered left its data out.
const EventExcluded = "Excluded"

// excludedEvent is the Excluded event of res, once per occurrence: last
// is the occurrence reported before, updated.
func excludedEvent(res *Evaluation, last *Occurrence) (ReplayEvent, bool) {
	x := res.Exclusion
	if x == nil || (x.Name == last.Name && x.Start.Equal(last.Start)) {
		return ReplayEvent{}, false
	}
	*last = *x
	reason := fmt.Sprintf("%s until %s", x.Name, x.End.UTC().Format(time.RFC3339))
	if x.Reason != "" {
		reason += ": " + x.Reason
	}
	return ReplayEvent{Event: EventExcluded, Reason: reason}, true
}
