package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// HistorySource is a source that answers a whole history of consecutive
// intervals in one round trip: one GROUP BY on the interval bucket in a
// database, one streaming pass over a file or an API's pages.
type HistorySource interface {
	Source
	// QueryHistory returns, for every interval i, [bounds[i], bounds[i+1]),
	// the Result that Query(ctx, d, q, bounds[i], bounds[i+1]) would
	// return, Statement aside (it is the history's statement, the same in
	// every element). bounds are strictly increasing; the answer has
	// len(bounds)-1 elements, nil for an interval without units (none
	// rated, unrated or rejected: see Result.Empty), so that a window merged
	// from the buckets counts every unit a direct Query counts.
	QueryHistory(ctx context.Context, d measure.Definition, q Query, bounds []time.Time) ([]*Result, error)
}

// A HistoryRead is one history of several read at once: Query's
// statistics per interval [Bounds[i], Bounds[i+1]).
type HistoryRead struct {
	Query  Query
	Bounds []time.Time
}

// HistoriesSource is a HistorySource that answers several histories of
// one definition in one round trip (one statement in a database).
type HistoriesSource interface {
	HistorySource
	// QueryHistories returns, for each read, what QueryHistory returns
	// for it.
	QueryHistories(ctx context.Context, d measure.Definition, reads []HistoryRead) ([][]*Result, error)
}

// Histories returns, for each read, what History returns for it: all in
// one round trip when src is a HistoriesSource, one History per read
// otherwise or when the reads together failed (too large for one round
// trip, a timeout): each is then read as History reads it alone.
func Histories(ctx context.Context, src Source, d measure.Definition, reads []HistoryRead) ([][]*Result, error) {
	if hs, ok := src.(HistoriesSource); ok && len(reads) > 1 {
		out, err := hs.QueryHistories(ctx, d, reads)
		if err == nil || ctx.Err() != nil {
			return out, err
		}
		if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrTimeout) {
			return nil, err
		}
	}
	return eachHistory(ctx, src, d, reads)
}

// eachHistory reads each history on its own, with History.
func eachHistory(ctx context.Context, src Source, d measure.Definition, reads []HistoryRead) ([][]*Result, error) {
	out := make([][]*Result, len(reads))
	for i, r := range reads {
		rs, err := History(ctx, src, d, r.Query, r.Bounds)
		if err != nil {
			return nil, err
		}
		out[i] = rs
	}
	return out, nil
}

// Empty reports whether a result holds no unit at all: none rated, none
// unrated, none rejected. A history's element for such an interval is nil.
func (r *Result) Empty() bool {
	if r == nil || r.Overall == nil {
		return true
	}
	o := r.Overall
	return o.Total.N == 0 && o.Unrated.N == 0 && o.Rejected.N == 0
}

// History returns the statistics of every interval [bounds[i],
// bounds[i+1]) of q: from src in one round trip when it is a
// HistorySource, in halves when that history was too large, else (or
// when it timed out) one Query per interval. Element i is nil when the
// interval has no units (Result.Empty).
func History(ctx context.Context, src Source, d measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	if len(bounds) < 2 {
		return nil, nil
	}
	for i := 1; i < len(bounds); i++ {
		if !bounds[i].After(bounds[i-1]) {
			return nil, fmt.Errorf("%w: history bounds not increasing at %s", ErrBadQuery, bounds[i].UTC().Format(time.RFC3339))
		}
	}
	if hs, ok := src.(HistorySource); ok {
		out, err := hs.QueryHistory(ctx, d, q, bounds)
		// A history too heavy for the source (a statement past the
		// DataSource's timeout, an answer past a memory bound) is read
		// in parts instead: the answers are the same by contract, each
		// within the source's limits. One too large for a bound on what
		// it holds is read as two halves, each again in halves if need
		// be, so the warm-up of a Metric of 10,000 accounts is a few
		// histories rather than one query per interval; one that timed
		// out is read interval by interval, as a range is.
		switch {
		case err == nil || ctx.Err() != nil:
			return out, err
		case errors.Is(err, ErrTooLarge) && len(bounds) > 2:
			mid := len(bounds) / 2
			first, err := History(ctx, src, d, q, bounds[:mid+1])
			if err != nil {
				return nil, err
			}
			rest, err := History(ctx, src, d, q, bounds[mid:])
			if err != nil {
				return nil, err
			}
			return append(first, rest...), nil
		case !(errors.Is(err, ErrTimeout) || errors.Is(err, ErrTooLarge)):
			return out, err
		}
	}
	return perInterval(ctx, src, d, q, bounds)
}

// perInterval is History's answer from one Query per interval.
func perInterval(ctx context.Context, src Source, d measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	out := make([]*Result, len(bounds)-1)
	for i := range out {
		r, err := src.Query(ctx, d, q, bounds[i], bounds[i+1])
		if err != nil {
			return nil, err
		}
		if !r.Empty() {
			out[i] = r
		}
	}
	return out, nil
}
