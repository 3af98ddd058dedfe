package source

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// evaluationCuts is a history cut only where an evaluation's reads start
// or end, in Berlin's wall time: 29 days before the last, the last day,
// an episode's start inside the long bucket and an exclusion's edges off
// midnight. Its buckets are 1 hour to 17 days long.
func evaluationCuts(t *testing.T) []time.Time {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(t0.Year(), t0.Month(), t0.Day(), 0, 0, 0, 0, berlin)
	day := func(n int) time.Time { return end.AddDate(0, 0, n) }
	return []time.Time{day(-60), day(-30), day(-13), day(-9).Add(6 * time.Hour), day(-9).Add(7 * time.Hour), day(-1), end}
}

// testPrefetchOnCuts reads, through an evaluation's prefetch
// (PrefetchReads) over uneven cuts, every
// span between two cuts of each query, and compares it with the source's
// own Query over the same span: counts exactly, sums within 1e-12. A
// clustered query's single buckets are exact too (the source takes its
// clusters within each bucket, as Query over it does), its longer spans
// go to the source. Every query is one history.
func testPrefetchOnCuts(t *testing.T, direct Source) {
	ctx := context.Background()
	cuts := evaluationCuts(t)
	for _, tc := range append(warehouseQueries(), namedQuery{"NPS clustered by account", measure.Definition{Formula: measure.FormulaNPS},
		Query{Table: "survey_responses", Value: "score", Time: "responded_at", Cluster: "account",
			Segments: []string{"persona"}, Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps"}}}}}) {
		t.Run(tc.name, func(t *testing.T) {
			counted := &countingHistory{Source: direct}
			p := PrefetchReads(counted, cuts)
			spans, offCuts := 0, int64(0)
			for i := 0; i < len(cuts); i++ {
				for j := i + 1; j < len(cuts); j++ {
					from, to := cuts[i], cuts[j]
					got, err := p.Query(ctx, tc.def, tc.q, from, to)
					if err != nil {
						t.Fatal(err)
					}
					want, err := direct.Query(ctx, tc.def, tc.q, from, to)
					if err != nil {
						t.Fatal(err)
					}
					if j == len(cuts)-1 && i == 0 && want.Overall.Total.N == 0 {
						t.Fatalf("fixture holds no units in [%s, %s)", from, to)
					}
					sameMerged(t, fmt.Sprintf("[%s, %s)", from.Format(time.RFC3339), to.Format(time.RFC3339)), got, want)
					spans++
					if tc.q.Cluster != "" && j > i+1 {
						offCuts++
					}
				}
			}
			if q, h := counted.queries.Load(), counted.histories.Load(); q != offCuts || h != 1 {
				t.Fatalf("%d spans took %d queries and %d histories, want %d and 1", spans, q, h, offCuts)
			}
			// One evaluation's spans merge the buckets themselves: no
			// pre-merged run, each as large as a window, is held.
			for _, b := range p.(*historyPrefetch).buckets {
				if len(b.blocks.runs) != 0 {
					t.Fatalf("%d levels of runs held", len(b.blocks.runs))
				}
			}
			if tc.q.Cluster != "" {
				return
			}
			// A feed over the last bounds, and a history of longer spans,
			// come from the same buckets.
			for _, bounds := range [][]time.Time{cuts[len(cuts)-3:], {cuts[0], cuts[2], cuts[len(cuts)-1]}} {
				hist, err := History(ctx, p, tc.def, tc.q, bounds)
				if err != nil {
					t.Fatal(err)
				}
				for k := range hist {
					want, err := direct.Query(ctx, tc.def, tc.q, bounds[k], bounds[k+1])
					if err != nil {
						t.Fatal(err)
					}
					if want.Empty() {
						want = nil
					}
					if (hist[k] == nil) != (want == nil) {
						t.Fatalf("history step %d: %v, want %v", k, hist[k], want)
					}
					if want != nil {
						sameMerged(t, fmt.Sprintf("history step %d", k), hist[k], want)
					}
				}
			}
			if q, h := counted.queries.Load(), counted.histories.Load(); q != 0 || h != 1 {
				t.Fatalf("the histories took %d queries and %d histories in all, want 0 and 1", q, h)
			}
		})
	}
}

func TestSQLitePrefetchOnUnevenCutsIsQueryPerSpan(t *testing.T) {
	testPrefetchOnCuts(t, openWarehouse(t))
}

func TestPostgresPrefetchOnUnevenCutsIsQueryPerSpan(t *testing.T) {
	u := postgresDSN(t)
	loadWarehouse(t, u)
	pw, _ := u.User.Password()
	testPrefetchOnCuts(t, openPostgres(t, u, pw, 20*time.Second))
}

// An evaluation inside a replay reads the replay's buckets and runs: its
// prefetch is the replay's, left as it was.
func TestPrefetchReadsInAReplayIsTheReplays(t *testing.T) {
	replay := PrefetchHistory(openWarehouse(t), days(t0.AddDate(0, 0, -60), 60))
	if _, ok := replay.(*historyPrefetch); !ok {
		t.Fatal("the replay's history source was not wrapped")
	}
	if got := PrefetchReads(replay, evaluationCuts(t)); got != replay || replay.(*historyPrefetch).direct {
		t.Fatal("an evaluation's prefetch replaced or changed the replay's")
	}
}
