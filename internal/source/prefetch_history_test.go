package source

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// countingHistory counts the round trips asked of the warehouse: Query
// calls and QueryHistory calls. Its histories are the warehouse's own
// when the driver answers them, else one query per interval underneath
// (source.History), counted as one round trip all the same: what is
// counted is what the prefetch asks.
type countingHistory struct {
	Source
	queries, histories atomic.Int64
}

func (c *countingHistory) Query(ctx context.Context, d measure.Definition, q Query, from, to time.Time) (*Result, error) {
	c.queries.Add(1)
	return c.Source.Query(ctx, d, q, from, to)
}

func (c *countingHistory) QueryHistory(ctx context.Context, d measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	c.histories.Add(1)
	return History(ctx, c.Source, d, q, bounds)
}

func sameMerged(t *testing.T, what string, got, want *Result) {
	t.Helper()
	if err := historyEqual("result", reflect.ValueOf(got), reflect.ValueOf(want)); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// days are the midnight bounds of n days from start.
func days(start time.Time, n int) []time.Time {
	out := make([]time.Time, n+1)
	for i := range out {
		out[i] = start.AddDate(0, 0, i)
	}
	return out
}

// namedQuery is a definition and query of the demo warehouse, named.
type namedQuery struct {
	name string
	def  measure.Definition
	q    Query
}

// warehouseQueries are the demo warehouse's queries the prefetch tests
// read: weighted and segmented categorical formulas and a percentile.
func warehouseQueries() []namedQuery {
	over := 14400.0
	return []namedQuery{
		{"weighted segmented NPS", measure.Definition{Formula: measure.FormulaNPS},
			Query{Table: "survey_responses", Value: "score", Time: "responded_at", Weight: "revenue_weight",
				Segments: []string{"persona"}, Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps"}}}}},
		{"CSAT by stage and persona", measure.Definition{Formula: measure.FormulaCSAT},
			Query{Table: "survey_responses", Value: "score", Time: "responded_at", Segments: []string{"stage", "persona"},
				Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"csat"}}}}},
		{"percentile with a share over", measure.Definition{Formula: measure.FormulaPercentile, Percentile: 90, ShareOver: &over},
			Query{Table: "tickets", Value: "first_response_seconds", Time: "created_at", Segments: []string{"category"}}},
	}
}

func TestPrefetchedHistoryAnswersWindowsAsTheirOwnQueries(t *testing.T) {
	ctx := context.Background()
	grid := days(t0.AddDate(0, 0, -150), 150)
	for _, tc := range append(warehouseQueries(), namedQuery{"mean", measure.Definition{Formula: measure.FormulaMean},
		Query{Table: "tickets", Value: "resolution_seconds", Time: "resolved_at"}}) {
		t.Run(tc.name, func(t *testing.T) {
			direct := openWarehouse(t)
			counted := &countingHistory{Source: direct}
			p := PrefetchHistory(counted, grid)
			if p == Source(counted) {
				t.Fatal("a history source was not wrapped")
			}
			windows := 0
			for _, width := range []int{1, 7, 28} {
				for i := 0; i+width < len(grid); i += 3 {
					from, to := grid[i], grid[i+width]
					got, err := p.Query(ctx, tc.def, tc.q, from, to)
					if err != nil {
						t.Fatal(err)
					}
					want, err := direct.Query(ctx, tc.def, tc.q, from, to)
					if err != nil {
						t.Fatal(err)
					}
					if want.Overall.Total.N == 0 && width == 28 {
						t.Fatalf("fixture holds no units in [%s, %s)", from, to)
					}
					sameMerged(t, fmt.Sprintf("[%s, %s)", from.Format(time.DateOnly), to.Format(time.DateOnly)), got, want)
					windows++
				}
			}
			if q, h := counted.queries.Load(), counted.histories.Load(); q != 0 || h != 1 {
				t.Fatalf("%d windows took %d queries and %d histories, want 0 and 1", windows, q, h)
			}

			// A calibration's steps on the grid come from the buckets too.
			steps := []time.Time{grid[0], grid[7], grid[14], grid[40]}
			hist, err := History(ctx, p, tc.def, tc.q, steps)
			if err != nil {
				t.Fatal(err)
			}
			for k := range hist {
				want, err := direct.Query(ctx, tc.def, tc.q, steps[k], steps[k+1])
				if err != nil {
					t.Fatal(err)
				}
				if want.Overall.Total.N == 0 {
					want = nil
				}
				if (hist[k] == nil) != (want == nil) {
					t.Fatalf("history step %d: %v, want %v", k, hist[k], want)
				}
				if want != nil {
					sameMerged(t, fmt.Sprintf("history step %d", k), hist[k], want)
				}
			}

			// Off the grid, the source answers.
			if _, err := p.Query(ctx, tc.def, tc.q, grid[3].Add(time.Hour), grid[10]); err != nil {
				t.Fatal(err)
			}
			if q, h := counted.queries.Load(), counted.histories.Load(); q != 1 || h != 1 {
				t.Fatalf("after a read off the grid: %d queries and %d histories, want 1 and 1", q, h)
			}
		})
	}
}

// Clusters are taken within a query's range, so a window's cluster sums
// are not the merge of its days': a clustered query is answered from the
// buckets one interval at a time, and its windows by the source.
func TestPrefetchedHistoryLeavesClusteredWindowsToTheSource(t *testing.T) {
	ctx := context.Background()
	grid := days(t0.AddDate(0, 0, -60), 60)
	def := measure.Definition{Formula: measure.FormulaNPS}
	q := Query{Table: "survey_responses", Value: "score", Time: "responded_at", Cluster: "account",
		Segments: []string{"segment"}, Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps"}}}}
	direct := openWarehouse(t)
	counted := &countingHistory{Source: direct}
	p := PrefetchHistory(counted, grid)

	for i := 0; i+1 < len(grid); i++ {
		got, err := p.Query(ctx, def, q, grid[i], grid[i+1])
		if err != nil {
			t.Fatal(err)
		}
		want, err := direct.Query(ctx, def, q, grid[i], grid[i+1])
		if err != nil {
			t.Fatal(err)
		}
		sameMerged(t, grid[i].Format(time.DateOnly), got, want)
	}
	if q, h := counted.queries.Load(), counted.histories.Load(); q != 0 || h != 1 {
		t.Fatalf("%d days took %d queries and %d histories, want 0 and 1", len(grid)-1, q, h)
	}

	window, err := p.Query(ctx, def, q, grid[0], grid[28])
	if err != nil {
		t.Fatal(err)
	}
	want, err := direct.Query(ctx, def, q, grid[0], grid[28])
	if err != nil {
		t.Fatal(err)
	}
	sameMerged(t, "window", window, want)
	if q := counted.queries.Load(); q != 1 {
		t.Fatalf("a clustered window took %d queries of the source, want 1", q)
	}
	// The reason: the merge of the days counts an account once a day.
	merged := &measure.Stats{}
	for i := 0; i < 28; i++ {
		r, err := p.Query(ctx, def, q, grid[i], grid[i+1])
		if err != nil {
			t.Fatal(err)
		}
		merged.Merge(r.Overall)
	}
	if merged.Clusters.G <= want.Overall.Clusters.G {
		t.Fatalf("the days' merge has %d clusters, the window %d: the fixture does not show why", merged.Clusters.G, want.Overall.Clusters.G)
	}

	// A history of weeks merges days: the source answers it.
	if _, err := History(ctx, p, def, q, []time.Time{grid[0], grid[7], grid[14]}); err != nil {
		t.Fatal(err)
	}
	if h := counted.histories.Load(); h != 2 {
		t.Fatalf("a clustered history of weeks took %d histories in all, want the buckets' and its own", h)
	}
}

func TestPrefetchHistoryWrapsOnlyHistorySources(t *testing.T) {
	grid := days(t0.AddDate(0, 0, -10), 10)
	plain := plainSource{openWarehouse(t)}
	if got := PrefetchHistory(plain, grid); got != Source(plain) {
		t.Fatal("a source without histories was wrapped")
	}
	counted := &countingHistory{Source: openWarehouse(t)}
	if got := PrefetchHistory(counted, []time.Time{grid[1], grid[0]}); got != Source(counted) {
		t.Fatal("bounds out of order were accepted")
	}
}

// A segment's own reads (an episode's evidence, a task's verification)
// come from the segmented query's buckets once those are fetched: no
// history of their own, the same statistics as the segment's own query.
func TestPrefetchedHistoryAnswersASegmentFromItsPopulation(t *testing.T) {
	ctx := context.Background()
	grid := days(t0.AddDate(0, 0, -90), 90)
	def := measure.Definition{Formula: measure.FormulaCSAT}
	base := Query{Table: "survey_responses", Value: "score", Time: "responded_at", Segments: []string{"stage", "persona"},
		Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"csat"}}}}
	narrow := func(values map[string]string) Query {
		q := base
		q.Filters = append([]Filter(nil), base.Filters...)
		for _, col := range base.Segments {
			if v, ok := values[col]; ok {
				q.Filters = append(q.Filters, Filter{Column: col, Operator: Equals, Values: []string{v}})
			}
		}
		q.Segments = nil
		return q
	}
	direct := openWarehouse(t)
	counted := &countingHistory{Source: direct}
	p := PrefetchHistory(counted, grid)
	whole, err := p.Query(ctx, def, base, grid[0], grid[28])
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.Segments) < 3 {
		t.Fatalf("fixture has %d segments, want several", len(whole.Segments))
	}
	reads := []map[string]string{{}}
	for _, s := range whole.Segments {
		reads = append(reads, s.Values)
	}
	for _, values := range reads {
		q := narrow(values)
		for _, span := range [][2]int{{0, 28}, {30, 90}, {61, 62}} {
			from, to := grid[span[0]], grid[span[1]]
			got, err := p.Query(ctx, def, q, from, to)
			if err != nil {
				t.Fatal(err)
			}
			want, err := direct.Query(ctx, def, q, from, to)
			if err != nil {
				t.Fatal(err)
			}
			sameMerged(t, fmt.Sprintf("%v [%s, %s)", values, from.Format(time.DateOnly), to.Format(time.DateOnly)), got, want)
		}
	}
	if q, h := counted.queries.Load(), counted.histories.Load(); q != 0 || h != 1 {
		t.Fatalf("%d segment reads took %d queries and %d histories, want 0 and 1", 3*len(reads), q, h)
	}

	// A narrower filter than a segment's is another query: its own history.
	q := narrow(map[string]string{"stage": "support"})
	if _, err := p.Query(ctx, def, q, grid[0], grid[28]); err != nil {
		t.Fatal(err)
	}
	// And a clustered one: its population's clusters are not its segments'.
	c := base
	c.Cluster = "account"
	if _, err := p.Query(ctx, def, c, grid[0], grid[1]); err != nil {
		t.Fatal(err)
	}
	cq := narrow(map[string]string{"stage": "support", "persona": "admin"})
	cq.Cluster = "account"
	if _, err := p.Query(ctx, def, cq, grid[0], grid[1]); err != nil {
		t.Fatal(err)
	}
	if h := counted.histories.Load(); h != 4 {
		t.Fatalf("%d histories, want one more for the narrower query and one for each clustered one", h)
	}
}
