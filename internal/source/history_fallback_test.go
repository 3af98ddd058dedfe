package source

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// refusingHistory answers windows but fails every history with err.
type refusingHistory struct {
	err     error
	queries int
}

func (r *refusingHistory) Query(context.Context, measure.Definition, Query, time.Time, time.Time) (*Result, error) {
	r.queries++
	return &Result{Overall: &measure.Stats{Total: measure.Cell{N: 1, W: 1}}}, nil
}
func (r *refusingHistory) Check(context.Context) error { return nil }
func (r *refusingHistory) Close() error                { return nil }
func (r *refusingHistory) QueryHistory(context.Context, measure.Definition, Query, []time.Time) ([]*Result, error) {
	return nil, r.err
}

// A history that times out or is too large is read interval by interval;
// any other failure, such as a refused query, is returned as it is.
func TestHistoryFallsBackToIntervalsWhenTooHeavy(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bounds := []time.Time{t0, t0.Add(24 * time.Hour), t0.Add(48 * time.Hour), t0.Add(72 * time.Hour)}
	for _, c := range []struct {
		err      error
		fallback bool
	}{
		{fmt.Errorf("history: %w", ErrTimeout), true},
		{fmt.Errorf("history: %w", ErrTooLarge), true},
		{fmt.Errorf("history: %w", ErrBadQuery), false},
		{fmt.Errorf("history: %w", ErrUnreachable), false},
	} {
		src := &refusingHistory{err: c.err}
		out, err := History(context.Background(), src, measure.Definition{}, Query{}, bounds)
		if c.fallback {
			if err != nil || len(out) != 3 || src.queries != 3 || out[0] == nil {
				t.Errorf("%v: got %d results, %d queries, error %v; want 3 per-interval answers", c.err, len(out), src.queries, err)
			}
			continue
		}
		if !errors.Is(err, c.err) || src.queries != 0 {
			t.Errorf("%v: error %v after %d queries, want the history's own error and no query", c.err, err, src.queries)
		}
	}
}

// boundedHistory answers histories of at most max intervals, one unit in
// each, and fails longer ones as too large.
type boundedHistory struct {
	refusingHistory
	max       int
	histories int
}

func (b *boundedHistory) QueryHistory(_ context.Context, _ measure.Definition, _ Query, bounds []time.Time) ([]*Result, error) {
	b.histories++
	if len(bounds)-1 > b.max {
		return nil, fmt.Errorf("history: %w", ErrTooLarge)
	}
	out := make([]*Result, len(bounds)-1)
	for i := range out {
		out[i] = &Result{Overall: &measure.Stats{Total: measure.Cell{N: int64(bounds[i].Day()), W: 1}}}
	}
	return out, nil
}

// A history too large for what the source holds is read in halves, each
// again in halves while too large: every interval answered once, in
// order, by a few histories and no query.
func TestHistoryTooLargeIsReadInHalves(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bounds := make([]time.Time, 31)
	for i := range bounds {
		bounds[i] = t0.AddDate(0, 0, i)
	}
	src := &boundedHistory{max: 8}
	out, err := History(context.Background(), src, measure.Definition{}, Query{}, bounds)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 30 {
		t.Fatalf("%d results for 30 intervals", len(out))
	}
	for i, r := range out {
		if r == nil || r.Overall.Total.N != int64(bounds[i].Day()) {
			t.Fatalf("interval %d: %+v, want its own answer", i, r)
		}
	}
	// 30 → 15 + 15 → 7 + 8 each: 4 answered, 3 refused.
	if src.queries != 0 || src.histories != 7 {
		t.Fatalf("%d queries and %d histories, want none and 7", src.queries, src.histories)
	}
}
