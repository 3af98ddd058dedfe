package source

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// historyCase is one metric of the history tests; table names are the
// demo warehouse's, in SQLite and in the PostgreSQL copy alike.
type historyCase struct {
	name string
	def  measure.Definition
	q    Query
}

func historyCases() []historyCase {
	over := 14400.0
	return []historyCase{
		{"weighted NPS by persona", measure.Definition{Formula: measure.FormulaNPS},
			Query{Table: "survey_responses", Value: "score", Time: "responded_at", Weight: "revenue_weight",
				Segments: []string{"persona"}, Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps"}}}}},
		{"CSAT by stage and persona", measure.Definition{Formula: measure.FormulaCSAT},
			Query{Table: "survey_responses", Value: "score", Time: "responded_at", Segments: []string{"stage", "persona"},
				Filters: []Filter{{Column: "survey", Operator: In, Values: []string{"csat"}}}}},
		{"NPS clustered by account, unrated as detractors", measure.Definition{Formula: measure.FormulaNPS, Unrated: measure.UnratedCountAsNegative},
			Query{Table: "survey_responses", Value: "score", Time: "responded_at", Cluster: "account", Segments: []string{"persona"},
				Filters: []Filter{{Column: "survey", Operator: NotIn, Values: []string{"csat", "ces", "psat"}}}}},
		{"weighted CES clustered by account", measure.Definition{Formula: measure.FormulaCES},
			Query{Table: "survey_responses", Value: "score", Time: "responded_at", Weight: "revenue_weight", Cluster: "account",
				Segments: []string{"stage"}, Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"ces"}}}}},
		{"weighted mean from custom SQL", measure.Definition{Formula: measure.FormulaMean},
			Query{SQL: "SELECT created_at, category, first_response_seconds, 1.0 + handoffs AS w FROM tickets", Value: "first_response_seconds",
				Time: "created_at", Weight: "w", Segments: []string{"category"}}},
		{"weighted ratio clustered by account", measure.Definition{Formula: measure.FormulaRatio},
			Query{SQL: "SELECT created_at, account, category, resolution_seconds, first_response_seconds, 1.0 + handoffs AS w FROM tickets",
				Numerator: "resolution_seconds", Denominator: "first_response_seconds", Weight: "w", Time: "created_at", Cluster: "account",
				Segments: []string{"category"}}},
		{"percentile sketch with a share over, clustered", measure.Definition{Formula: measure.FormulaPercentile, Percentile: 90, ShareOver: &over},
			Query{Table: "tickets", Value: "first_response_seconds", Time: "created_at", Cluster: "account", Segments: []string{"category"}}},
		{"rate at the interaction time", measure.Definition{Formula: measure.FormulaRate},
			Query{Table: "tickets", Value: "first_contact_resolved", Time: "resolved_at", InteractionTime: "created_at",
				Filters: []Filter{{Column: "category", Operator: NotEquals, Values: []string{"billing"}}}}},
		{"sum, no segments", measure.Definition{Formula: measure.FormulaSum},
			Query{Table: "tickets", Value: "handoffs", Time: "created_at", Cluster: "account"}},
	}
}

// berlinDays are the midnights in Europe/Berlin from the first of
// October 2025 to mid-April 2026: the demo's data covers them, with the
// 25-hour day of 26 October and the 23-hour day of 29 March.
func berlinDays(t testing.TB) []time.Time {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for d := time.Date(2025, 10, 1, 0, 0, 0, 0, berlin); d.Before(time.Date(2026, 4, 15, 0, 0, 0, 0, berlin)); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	lengths := map[time.Duration]bool{}
	for i := 1; i < len(out); i++ {
		lengths[out[i].Sub(out[i-1])] = true
	}
	if !lengths[23*time.Hour] || !lengths[25*time.Hour] {
		t.Fatalf("the days have lengths %v, want 23 and 25 hours among them", lengths)
	}
	return out
}

// sameHistory fails unless every interval of got equals Query over that
// interval: nil where Query finds no rated unit, else the same statistics
// (counts exactly, sums within 1e-12), Statement aside.
func sameHistory(t *testing.T, what string, src Source, def measure.Definition, q Query, bounds []time.Time, got []*Result) {
	t.Helper()
	if len(got) != len(bounds)-1 {
		t.Fatalf("%s: %d results for %d intervals", what, len(got), len(bounds)-1)
	}
	full := 0
	for i := range got {
		want, err := src.Query(context.Background(), def, q, bounds[i], bounds[i+1])
		if err != nil {
			t.Fatalf("%s: interval %d: %v", what, i, err)
		}
		at := fmt.Sprintf("%s: interval %d [%s, %s)", what, i, bounds[i].Format(time.RFC3339), bounds[i+1].Format(time.RFC3339))
		if want.Overall.Total.N == 0 {
			if got[i] != nil {
				t.Fatalf("%s: %d units, want nil", at, got[i].Overall.Total.N)
			}
			continue
		}
		full++
		if got[i] == nil {
			t.Fatalf("%s: nil, want %d units", at, want.Overall.Total.N)
		}
		if err := historyEqual("result", reflect.ValueOf(got[i]), reflect.ValueOf(want)); err != nil {
			t.Fatalf("%s: %v", at, err)
		}
		if got[i].Statement != got[firstNonNil(got)].Statement {
			t.Fatalf("%s: a statement of its own", at)
		}
	}
	if full < len(got)/2 {
		t.Fatalf("%s: only %d of %d intervals have units: the fixture misses the bounds", what, full, len(got))
	}
}

// testSQLHistory runs every history case on src over Berlin's days and
// over bounds that fall exactly on units' times.
func testSQLHistory(t *testing.T, src Source) {
	hs, ok := src.(HistorySource)
	if !ok {
		t.Fatal("the SQL source answers no histories")
	}
	ctx := context.Background()
	days := berlinDays(t)
	for _, tc := range historyCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hs.QueryHistory(ctx, tc.def, tc.q, days)
			if err != nil {
				t.Fatal(err)
			}
			sameHistory(t, "Berlin days", src, tc.def, tc.q, days, got)
			want := 1
			if clustered(tc.def, tc.q) {
				want = 2
			}
			if n := statements(got); n != want {
				t.Errorf("%d statements for %d intervals, want %d", n, len(days)-1, want)
			}
		})
	}
	t.Run("one interval", func(t *testing.T) {
		for _, tc := range historyCases() {
			got, err := hs.QueryHistory(ctx, tc.def, tc.q, days[30:32])
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			sameHistory(t, tc.name, src, tc.def, tc.q, days[30:32], got)
		}
	})
	t.Run("bounds on the units' times", func(t *testing.T) {
		// Every 11th distinct response time of a week is a bound: a unit at
		// a bound belongs to the interval it starts, as in Query.
		tc := historyCases()[0]
		week, err := src.Query(ctx, tc.def, tc.q, days[40], days[47])
		if err != nil || week.Overall.Total.N < 50 {
			t.Fatalf("fixture: %v, %+v", err, week)
		}
		bounds := unitTimes(t, src, days[40], days[47])
		var picked []time.Time
		for i := 0; i < len(bounds); i += 11 {
			picked = append(picked, bounds[i])
		}
		if len(picked) < 4 {
			t.Fatalf("%d bounds from %d unit times", len(picked), len(bounds))
		}
		got, err := hs.QueryHistory(ctx, tc.def, tc.q, picked)
		if err != nil {
			t.Fatal(err)
		}
		sameHistory(t, "bounds on units", src, tc.def, tc.q, picked, got)
	})
}

// unitTimes are the distinct times of the NPS responses in [from, to),
// read through the source's own engine, as instants.
func unitTimes(t *testing.T, src Source, from, to time.Time) []time.Time {
	t.Helper()
	s := src.(*sqlSource)
	q := "SELECT DISTINCT responded_at FROM survey_responses WHERE survey = 'nps' AND responded_at >= " + s.dialect.placeholder(1) +
		" AND responded_at < " + s.dialect.placeholder(2) + " ORDER BY responded_at"
	rows, err := s.db.Query(q, s.dialect.timeArg(from), s.dialect.timeArg(to))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at any
		if err := rows.Scan(&at); err != nil {
			t.Fatal(err)
		}
		switch v := at.(type) {
		case time.Time:
			out = append(out, time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC))
		case string:
			p, err := time.Parse(sqliteTimeLayout, v)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		default:
			t.Fatalf("a time of type %T", at)
		}
	}
	return out
}

func TestSQLiteHistoryEqualsQueryPerInterval(t *testing.T) {
	testSQLHistory(t, openWarehouse(t))
}

func TestPostgresHistoryEqualsQueryPerInterval(t *testing.T) {
	u := postgresDSN(t)
	loadWarehouse(t, u)
	pw, _ := u.User.Password()
	testSQLHistory(t, openPostgres(t, u, pw, 20*time.Second))
}

// A history longer than one statement's buckets runs several statements
// in one transaction and still answers every interval as Query does.
func TestSQLiteLongHistoryIsChunked(t *testing.T) {
	src := openWarehouse(t)
	tc := historyCases()[3]
	start := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	bounds := make([]time.Time, historyBucketsPerStatement+500)
	for i := range bounds {
		bounds[i] = start.Add(time.Duration(i) * 10 * time.Minute)
	}
	got, err := src.(HistorySource).QueryHistory(context.Background(), tc.def, tc.q, bounds)
	if err != nil {
		t.Fatal(err)
	}
	if n := statements(got); n != 4 {
		t.Errorf("%d statements, want 2 chunks of 2", n)
	}
	// Around the chunks' seam, and a sample elsewhere.
	for _, lo := range []int{0, 3000, historyBucketsPerStatement - 75, len(bounds) - 200} {
		part := make([]*Result, 0, 150)
		for i := lo; i < lo+150; i++ {
			part = append(part, got[i])
		}
		sameHistoryPart(t, src, tc, bounds[lo:lo+151], part)
	}
}

// sameHistoryPart checks part of a history, whose intervals may be
// mostly empty, against Query.
func sameHistoryPart(t *testing.T, src Source, tc historyCase, bounds []time.Time, got []*Result) {
	t.Helper()
	for i, g := range got {
		want, err := src.Query(context.Background(), tc.def, tc.q, bounds[i], bounds[i+1])
		if err != nil {
			t.Fatal(err)
		}
		if want.Overall.Total.N == 0 {
			if g != nil {
				t.Fatalf("interval from %s: %d units, want nil", bounds[i], g.Overall.Total.N)
			}
			continue
		}
		if g == nil {
			t.Fatalf("interval from %s: nil, want %d units", bounds[i], want.Overall.Total.N)
		}
		if err := historyEqual("result", reflect.ValueOf(g), reflect.ValueOf(want)); err != nil {
			t.Fatalf("interval from %s: %v", bounds[i], err)
		}
	}
}

// The bounds on segments hold per interval, and the bound on a history's
// statistics in all.
func TestSQLiteHistoryBounds(t *testing.T) {
	src := openWarehouse(t)
	hs := src.(HistorySource)
	ctx := context.Background()
	// Hours of tickets by category: an hour has fewer categories than
	// the span.
	days := make([]time.Time, 20*24+1)
	for i := range days {
		days[i] = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
	}
	tc := historyCases()[6]
	res, err := src.Query(ctx, tc.def, tc.q, days[0], days[len(days)-1])
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	got, err := hs.QueryHistory(ctx, tc.def, tc.q, days)
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, r := range got {
		if r != nil {
			most = max(most, len(r.Segments))
			held += 1 + len(r.Segments)
		}
	}
	if most >= len(res.Segments) || most < 2 {
		t.Fatalf("fixture: at most %d segments an hour of %d in all", most, len(res.Segments))
	}
	q := tc.q
	q.MaxSegments = most
	if _, err := hs.QueryHistory(ctx, tc.def, q, days); err != nil {
		t.Fatalf("%d segments an hour under a bound of %d: %v", most, most, err)
	}
	q.MaxSegments = most - 1
	if _, err := hs.QueryHistory(ctx, tc.def, q, days); !errors.Is(err, ErrTooManySegments) {
		t.Fatalf("%d segments an hour under a bound of %d: %v, want ErrTooManySegments", most, most-1, err)
	}
	// The same history under a bound on its statistics of exactly what it
	// holds, and of one less.
	defer func(limit int) { historyStatisticsLimit = limit }(historyStatisticsLimit)
	historyStatisticsLimit = held
	if _, err := hs.QueryHistory(ctx, tc.def, tc.q, days); err != nil {
		t.Fatalf("%d statistics under a bound of %d: %v", held, held, err)
	}
	historyStatisticsLimit = held - 1
	if _, err := hs.QueryHistory(ctx, tc.def, tc.q, days); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "MaxHistoryStatistics") {
		t.Fatalf("%d statistics under a bound of %d: %v, want ErrTooLarge naming MaxHistoryStatistics", held, held-1, err)
	}
}

// A history validates like Query: identifiers, stacked statements and
// bounds out of order are refused before any SQL runs, filter values are
// bound, and a writing query fails on the read-only connection.
func TestSQLiteHistoryRefusesBadInput(t *testing.T) {
	hs := openWarehouse(t).(HistorySource)
	ctx := context.Background()
	def := measure.Definition{Formula: measure.FormulaNPS}
	days := berlinDays(t)[:10]
	for name, q := range map[string]Query{
		"column":  {Table: "survey_responses", Value: "score; DROP TABLE survey_responses", Time: "responded_at"},
		"segment": {Table: "survey_responses", Value: "score", Time: "responded_at", Segments: []string{`persona" --`}},
		"cluster": {Table: "survey_responses", Value: "score", Time: "responded_at", Cluster: "account) OR (1=1"},
		"stacked": {SQL: "SELECT * FROM survey_responses; DELETE FROM survey_responses", Value: "score", Time: "responded_at"},
	} {
		if _, err := hs.QueryHistory(ctx, def, q, days); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%s: got %v, want ErrBadQuery", name, err)
		}
	}
	q := Query{Table: "survey_responses", Value: "score", Time: "responded_at",
		Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps' OR '1'='1"}}}}
	got, err := hs.QueryHistory(ctx, def, q, days)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if r != nil {
			t.Fatalf("bound filter value: interval %d has %d units", i, r.Overall.Total.N)
		}
	}
	w := Query{SQL: "UPDATE survey_responses SET score = 0 RETURNING responded_at, score", Value: "score", Time: "responded_at"}
	if _, err := hs.QueryHistory(ctx, def, w, days); err == nil {
		t.Fatal("a writing subquery ran")
	}
	back := []time.Time{days[2], days[1]}
	if _, err := hs.QueryHistory(ctx, def, Query{Table: "survey_responses", Value: "score", Time: "responded_at"}, back); !errors.Is(err, ErrBadQuery) {
		t.Fatalf("bounds out of order: %v, want ErrBadQuery", err)
	}
}
