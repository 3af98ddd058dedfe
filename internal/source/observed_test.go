package source

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

type bareSource struct{}

func (bareSource) Query(context.Context, measure.Definition, Query, time.Time, time.Time) (*Result, error) {
	return &Result{Overall: &measure.Stats{}}, nil
}
func (bareSource) Check(context.Context) error { return nil }
func (bareSource) Close() error                { return nil }

type historyOnly struct{ bareSource }

func (historyOnly) QueryHistory(_ context.Context, _ measure.Definition, _ Query, bounds []time.Time) ([]*Result, error) {
	return make([]*Result, len(bounds)-1), nil
}

type rangeOnly struct{ bareSource }

func (rangeOnly) QueryRange(context.Context, measure.Definition, Query, time.Duration, time.Time, time.Time, time.Duration) (map[time.Time]*Result, error) {
	return nil, errors.New("range refused")
}

type both struct {
	historyOnly
	rangeOnly
}

func (both) Query(context.Context, measure.Definition, Query, time.Time, time.Time) (*Result, error) {
	return &Result{Overall: &measure.Stats{}}, nil
}
func (both) Check(context.Context) error { return nil }
func (both) Close() error                { return nil }

// The observed wrapper keeps exactly the optional interfaces of the source
// it wraps, so History and Prefetch take the same path, and tells its
// observer of every round trip with its kind and outcome.
func TestObservedKeepsInterfacesAndCountsRoundTrips(t *testing.T) {
	cases := []struct {
		name            string
		src             Source
		history, range_ bool
	}{
		{"plain", bareSource{}, false, false},
		{"history", historyOnly{}, true, false},
		{"range", rangeOnly{}, false, true},
		{"both", both{}, true, true},
	}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen := map[QueryKind]int{}
			failed := 0
			src := Observed(c.src, func(kind QueryKind, _ time.Duration, err error) {
				seen[kind]++
				if err != nil {
					failed++
				}
			})
			_, h := src.(HistorySource)
			_, r := src.(RangeSource)
			if h != c.history || r != c.range_ {
				t.Fatalf("history %v range %v, want %v %v", h, r, c.history, c.range_)
			}
			if _, err := src.Query(ctx, measure.Definition{}, Query{}, t0, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			bounds := []time.Time{t0, t0.Add(time.Hour), t0.Add(2 * time.Hour), t0.Add(3 * time.Hour)}
			if _, err := History(ctx, src, measure.Definition{}, Query{}, bounds); err != nil {
				t.Fatal(err)
			}
			if r {
				_, _ = src.(RangeSource).QueryRange(ctx, measure.Definition{}, Query{}, time.Hour, t0, t0, time.Hour)
			}
			want := map[QueryKind]int{WindowQuery: 1 + 3}
			if c.history {
				want = map[QueryKind]int{WindowQuery: 1, HistoryQuery: 1}
			}
			if c.range_ {
				want[RangeQuery] = 1
			}
			for _, k := range []QueryKind{WindowQuery, HistoryQuery, RangeQuery} {
				if seen[k] != want[k] {
					t.Errorf("%s round trips: %d, want %d", k, seen[k], want[k])
				}
			}
			if c.range_ != (failed == 1) {
				t.Errorf("%d failed round trips observed", failed)
			}
		})
	}
	if Observed(bareSource{}, nil) != (bareSource{}) {
		t.Error("without an observer the source is not returned as it is")
	}
}
