package source

import (
	"context"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// QueryKind names one kind of round trip to a source.
type QueryKind string

// The kinds of round trip.
const (
	// WindowQuery is Query: one window.
	WindowQuery QueryKind = "window"
	// HistoryQuery is QueryHistory: consecutive intervals at once.
	HistoryQuery QueryKind = "history"
	// RangeQuery is QueryRange: one window at many ends at once.
	RangeQuery QueryKind = "range"
)

// Observer is told of every round trip a source makes: its kind, how long
// it took and how it ended.
type Observer func(kind QueryKind, took time.Duration, err error)

// Observed wraps src so that observe sees each of its queries. The wrapper
// answers exactly the optional interfaces src answers (HistorySource,
// RangeSource), so callers that look for them (History, Prefetch) take the
// same path through it as through src.
func Observed(src Source, observe Observer) Source {
	if observe == nil {
		return src
	}
	o := observed{Source: src, observe: observe}
	hs, history := src.(HistorySource)
	rs, ranges := src.(RangeSource)
	switch {
	case history && ranges:
		return observedBoth{observedHistory{o, hs}, observedRange{o, rs}}
	case history:
		return observedHistory{o, hs}
	case ranges:
		return observedRange{o, rs}
	}
	return o
}

type observed struct {
	Source
	observe Observer
}

func (o observed) Query(ctx context.Context, d measure.Definition, q Query, from, to time.Time) (*Result, error) {
	start := time.Now()
	r, err := o.Source.Query(ctx, d, q, from, to)
	o.observe(WindowQuery, time.Since(start), err)
	return r, err
}

type observedHistory struct {
	observed
	hs HistorySource
}

func (o observedHistory) QueryHistory(ctx context.Context, d measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	start := time.Now()
	r, err := o.hs.QueryHistory(ctx, d, q, bounds)
	o.observe(HistoryQuery, time.Since(start), err)
	return r, err
}

// QueryHistories is one round trip when src answers several histories at
// once, and one observed History per read otherwise.
func (o observedHistory) QueryHistories(ctx context.Context, d measure.Definition, reads []HistoryRead) ([][]*Result, error) {
	hs, ok := o.hs.(HistoriesSource)
	if !ok {
		return eachHistory(ctx, o, d, reads)
	}
	start := time.Now()
	r, err := hs.QueryHistories(ctx, d, reads)
	o.observe(HistoryQuery, time.Since(start), err)
	return r, err
}

type observedRange struct {
	observed
	rs RangeSource
}

func (o observedRange) QueryRange(ctx context.Context, d measure.Definition, q Query, window time.Duration, first, last time.Time, step time.Duration) (map[time.Time]*Result, error) {
	start := time.Now()
	r, err := o.rs.QueryRange(ctx, d, q, window, first, last, step)
	o.observe(RangeQuery, time.Since(start), err)
	return r, err
}

// observedBoth answers both optional interfaces; Query, Check and Close
// come from the history side.
type observedBoth struct {
	observedHistory
	r observedRange
}

func (o observedBoth) QueryRange(ctx context.Context, d measure.Definition, q Query, window time.Duration, first, last time.Time, step time.Duration) (map[time.Time]*Result, error) {
	return o.r.QueryRange(ctx, d, q, window, first, last, step)
}
