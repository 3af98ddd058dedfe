package source

import (
	"context"
	"strconv"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// QueryHistory answers every interval [bounds[i], bounds[i+1]) as Query
// would: each run of two or more consecutive intervals of one length is
// one QueryRange whose window and step are that length (its ends are the
// intervals' ends, evaluated at end−1ms as Query evaluates them), and an
// interval whose length differs from both neighbours' (a day of 23 or 25
// hours in a time zone) is one instant Query. Uniform bounds therefore
// cost one range query (two with SamplesPromQL) per 11,000 intervals.
// An interval without a rated reading is nil, as in History.
func (s *promSource) QueryHistory(ctx context.Context, def measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	if len(bounds) < 2 {
		return nil, nil
	}
	for i := 1; i < len(bounds); i++ {
		if !bounds[i].After(bounds[i-1]) {
			return nil, wrap(ErrBadQuery, "history bounds not increasing at %s", bounds[i].UTC().Format(time.RFC3339))
		}
	}
	if _, err := promExpressions(def, q, bounds[1].Sub(bounds[0])); err != nil {
		return nil, err
	}
	n := len(bounds) - 1
	out := make([]*Result, n)
	for i := 0; i < n; {
		length := bounds[i+1].Sub(bounds[i])
		j := i + 1
		for j < n && bounds[j+1].Sub(bounds[j]) == length {
			j++
		}
		// Intervals i to j-1 last length each.
		if j-i == 1 {
			r, err := s.Query(ctx, def, q, bounds[i], bounds[i+1])
			if err != nil {
				return nil, err
			}
			out[i] = r
			i = j
			continue
		}
		m, err := s.QueryRange(ctx, def, q, length, bounds[i+1], bounds[j], length)
		if err != nil {
			return nil, err
		}
		byEnd := make(map[int64]*Result, len(m))
		for end, r := range m {
			byEnd[end.UnixNano()] = r
		}
		for k := i; k < j; k++ {
			out[k] = byEnd[bounds[k+1].UnixNano()]
		}
		i = j
	}
	statement := "query=" + q.PromQL
	if q.SamplesPromQL != "" {
		statement += " samples=" + q.SamplesPromQL
	}
	statement += " intervals=" + strconv.Itoa(n) + " from=" + bounds[0].UTC().Format(time.RFC3339Nano) +
		" to=" + bounds[n].UTC().Format(time.RFC3339Nano)
	for i, r := range out {
		// As History's per-interval answers: an interval without rated
		// readings is nil.
		if r == nil || r.Overall.Total.N == 0 {
			out[i] = nil
			continue
		}
		r.Statement = statement
	}
	return out, nil
}
