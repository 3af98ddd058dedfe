package source

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// narrowedTo is q with an In filter on its first segment column to the
// values that column takes in [from, to) (at most two of them), as an
// evaluation narrows its query to its open episodes' segments; ok is
// false without segments.
func narrowedTo(t *testing.T, src Source, def measure.Definition, q Query, from, to time.Time) (Query, bool) {
	t.Helper()
	if len(q.Segments) == 0 {
		return q, false
	}
	r, err := src.Query(context.Background(), def, q, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, s := range r.Segments {
		if v := s.Values[q.Segments[0]]; v != "" && !slices.Contains(values, v) {
			values = append(values, v)
		}
	}
	slices.Sort(values)
	if len(values) > 2 {
		values = values[:2]
	}
	if len(values) == 0 {
		t.Fatalf("no values of %s in the fixture", q.Segments[0])
	}
	n := q
	n.Filters = append(slices.Clone(q.Filters), Filter{Column: q.Segments[0], Operator: In, Values: values})
	return n, true
}

// testSQLHistories reads, for every history case, a history over Berlin's
// days together with a history of the query narrowed to a few segments
// over other, uneven bounds: each answer is Query over each of its
// intervals, in one statement joined by UNION ALL when neither takes
// cluster sums, and one round trip as the manager counts them.
func testSQLHistories(t *testing.T, src Source) {
	ctx := context.Background()
	days := berlinDays(t)
	var trips atomic.Int64
	observed := Observed(src, func(QueryKind, time.Duration, error) { trips.Add(1) })
	hs, ok := observed.(HistoriesSource)
	if !ok {
		t.Fatal("the SQL source answers no batches of histories")
	}
	for _, tc := range historyCases() {
		t.Run(tc.name, func(t *testing.T) {
			main := HistoryRead{Query: tc.q, Bounds: days[:60]}
			uneven := []time.Time{days[20], days[23], days[24], days[41], days[59]}
			other := HistoryRead{Query: tc.q, Bounds: uneven}
			if n, ok := narrowedTo(t, src, tc.def, tc.q, days[20], days[59]); ok {
				other.Query = n
			}
			trips.Store(0)
			got, err := hs.QueryHistories(ctx, tc.def, []HistoryRead{main, {Query: tc.q, Bounds: days[5:6]}, other})
			if err != nil {
				t.Fatal(err)
			}
			if n := trips.Load(); n != 1 {
				t.Errorf("%d round trips, want 1", n)
			}
			if len(got) != 3 || got[1] != nil {
				t.Fatalf("%d answers (the second %v), want 3, the second nil (one bound)", len(got), got[1])
			}
			sameHistory(t, "the days", src, tc.def, main.Query, main.Bounds, got[0])
			sameHistory(t, "the narrowed history", src, tc.def, other.Query, other.Bounds, got[2])
			statement := got[0][firstNonNil(got[0])].Statement
			if got[2][firstNonNil(got[2])].Statement != statement {
				t.Error("the two histories carry different statements")
			}
			// Clustered, each history is its aggregation and its cluster
			// sums, in one transaction.
			parts, union := strings.Count(statement, ";\n")+1, strings.Count(statement, "UNION ALL")
			if c := clustered(tc.def, tc.q); c && parts != 4 || !c && (parts != 1 || union != 1) {
				t.Errorf("%d statements with %d UNION ALL for a query clustered %v", parts, union, c)
			}
		})
	}
	t.Run("different segment columns", func(t *testing.T) {
		tc := historyCases()[1]
		byStage := tc.q
		byStage.Segments = []string{"stage"}
		got, err := hs.QueryHistories(ctx, tc.def, []HistoryRead{{Query: tc.q, Bounds: days[:30]}, {Query: byStage, Bounds: days[10:40]}})
		if err != nil {
			t.Fatal(err)
		}
		sameHistory(t, "by stage and persona", src, tc.def, tc.q, days[:30], got[0])
		sameHistory(t, "by stage", src, tc.def, byStage, days[10:40], got[1])
		if s := got[0][firstNonNil(got[0])].Statement; strings.Contains(s, "UNION ALL") || strings.Count(s, ";\n") != 1 {
			t.Error("histories of different segment columns joined in one statement")
		}
	})
}

func TestSQLiteHistoriesInOneStatement(t *testing.T) {
	testSQLHistories(t, openWarehouse(t))
}

func TestPostgresHistoriesInOneStatement(t *testing.T) {
	u := postgresDSN(t)
	loadWarehouse(t, u)
	pw, _ := u.User.Password()
	testSQLHistories(t, openPostgres(t, u, pw, 20*time.Second))
}

// A history read alongside an evaluation's (ReadAlongside) comes in the
// same round trip as the evaluation's first read, and its QueryHistory is
// answered from it, once, equal to the source's own answer.
func TestPrefetchReadsAHistoryAlongside(t *testing.T) {
	ctx := context.Background()
	src := openWarehouse(t)
	days := berlinDays(t)
	tc := historyCases()[0]
	var trips atomic.Int64
	observed := Observed(src, func(QueryKind, time.Duration, error) { trips.Add(1) })
	cuts := []time.Time{days[30], days[59], days[60]}
	narrowed, _ := narrowedTo(t, src, tc.def, tc.q, days[30], days[60])
	extra := HistoryRead{Query: narrowed, Bounds: []time.Time{days[33], days[47], days[60]}}

	reads := PrefetchReads(observed, cuts)
	if !ReadAlongside(reads, tc.def, tc.q, extra) {
		t.Fatal("the prefetch takes no history alongside")
	}
	if _, err := reads.Query(ctx, tc.def, tc.q, days[30], days[60]); err != nil {
		t.Fatal(err)
	}
	if n := trips.Load(); n != 1 {
		t.Fatalf("%d round trips for the window, want 1", n)
	}
	if ReadAlongside(reads, tc.def, tc.q, extra) {
		t.Error("a history taken alongside one already read")
	}
	got, err := reads.(HistorySource).QueryHistory(ctx, tc.def, extra.Query, extra.Bounds)
	if err != nil {
		t.Fatal(err)
	}
	if n := trips.Load(); n != 1 {
		t.Fatalf("%d round trips after the narrowed history, want 1", n)
	}
	sameHistory(t, "read alongside", src, tc.def, extra.Query, extra.Bounds, got)
	if _, err := reads.(HistorySource).QueryHistory(ctx, tc.def, extra.Query, extra.Bounds); err != nil {
		t.Fatal(err)
	}
	if n := trips.Load(); n != 2 {
		t.Errorf("%d round trips after reading the narrowed history again, want 2: it is answered once", n)
	}
	if ReadAlongside(PrefetchReads(src, cuts), tc.def, tc.q, HistoryRead{Query: narrowed, Bounds: extra.Bounds[:1]}) {
		t.Error("a history of one bound taken alongside")
	}
}
