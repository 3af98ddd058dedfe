package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// recordHistoryRows are n survey answers and accounts' revenue over ten days
// around a change of daylight saving time, their times written in every
// form records use, with unrated, unreadable and zero-weight values, and
// a free-text note that needs CSV quoting (commas, quotes, line breaks).
func recordHistoryRows(n int) exportedTable {
	rng := rand.New(rand.NewPCG(7, 11))
	start := time.Date(2026, 3, 25, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 4, 2, 12, 0, 0, 0, time.UTC) // nothing after: the last intervals are empty
	t := exportedTable{columns: []string{"at", "score", "weight", "region", "channel", "account", "resolved", "num", "den", "note"}}
	regions := []string{"eu", "us", "apac"}
	channels := []string{"web", "email", "app", "phone"}
	notes := []string{"", "fine", `said "slow", then left`, "two\nlines", "a,b"}
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(rng.Int64N(int64(end.Sub(start)))))
		var when string
		switch i % 8 {
		case 0:
			when = at.Format(time.RFC3339)
		case 1:
			when = at.In(time.FixedZone("", 2*3600)).Format(time.RFC3339)
		case 2:
			when = at.Format(time.RFC3339Nano)
		case 3:
			when = at.Format("2006-01-02 15:04:05")
		case 4:
			when = at.Format("2006-01-02")
		case 5:
			when = strconv.FormatInt(at.Unix(), 10)
		case 6:
			when = at.In(time.FixedZone("", -5*3600-1800)).Format("2006-01-02 15:04:05.999Z07:00")
		case 7:
			if i%5 == 0 {
				when = "" // no time: in no interval
			} else {
				when = at.Format("2006-01-02T15:04:05.999999")
			}
		}
		score := strconv.Itoa(rng.IntN(11))
		switch rng.IntN(20) {
		case 0:
			score = ""
		case 1:
			score = "n/a"
		case 2:
			score = "12"
		}
		weight := strconv.FormatFloat(0.25+rng.Float64()*3, 'g', -1, 64)
		if rng.IntN(40) == 0 {
			weight = "0"
		}
		num, den := strconv.FormatFloat(rng.Float64()*1000, 'f', 2, 64), strconv.FormatFloat(200+rng.Float64()*800, 'f', 2, 64)
		if rng.IntN(30) == 0 {
			num = ""
		}
		t.rows = append(t.rows, []string{when, score, weight, regions[rng.IntN(3)], channels[rng.IntN(4)],
			"acct-" + strconv.Itoa(rng.IntN(80)), strconv.Itoa(rng.IntN(2)), num, den, notes[rng.IntN(len(notes))]})
	}
	// Answers exactly at midnight in Berlin, where intervals begin, and a
	// nanosecond before, where the previous ones end.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	for d := 0; d <= 6; d++ {
		b := time.Date(2026, 3, 25+d, 0, 0, 0, 0, berlin)
		for i, at := range []time.Time{b, b.Add(-time.Nanosecond)} {
			t.rows = append(t.rows, []string{at.Format(time.RFC3339Nano), strconv.Itoa(d + i), "1", "eu", "web", "acct-0", "1", "10", "20", "edge"})
		}
	}
	return t
}

// recordHistoryCases are formulas and queries of every family, segmented,
// filtered and clustered.
func recordHistoryCases() []struct {
	def measure.Definition
	q   Query
} {
	over := 7.5
	return []struct {
		def measure.Definition
		q   Query
	}{
		{measure.Definition{Formula: measure.FormulaNPS}, Query{Value: "score", Time: "at"}},
		{measure.Definition{Formula: measure.FormulaNPS}, Query{Value: "score", Time: "at", Weight: "weight", Cluster: "account",
			Segments: []string{"region"}, Filters: []Filter{{Column: "channel", Operator: NotEquals, Values: []string{"email"}}}}},
		{measure.Definition{Formula: measure.FormulaCSAT, ScaleMin: 0, ScaleMax: 10}, Query{Value: "score", Time: "at",
			Segments: []string{"region", "channel"}, Filters: []Filter{{Column: "channel", Operator: In, Values: []string{"web", "app", "phone"}}}}},
		{measure.Definition{Formula: measure.FormulaMean}, Query{Value: "score", Time: "at", Weight: "weight", Cluster: "account",
			Filters: []Filter{{Column: "score", Operator: GreaterThan, Values: []string{"2"}}}}},
		{measure.Definition{Formula: measure.FormulaRate}, Query{Value: "resolved", Time: "at", Segments: []string{"channel"}, Cluster: "account"}},
		{measure.Definition{Formula: measure.FormulaPercentile, Percentile: 90, ShareOver: &over}, Query{Value: "score", Time: "at",
			Segments: []string{"region"}, Filters: []Filter{{Column: "region", Operator: NotIn, Values: []string{"apac"}}}}},
		{measure.Definition{Formula: measure.FormulaRatio}, Query{Numerator: "num", Denominator: "den", Time: "at", Cluster: "account",
			Segments: []string{"region"}}},
		{measure.Definition{Formula: measure.FormulaSum}, Query{Value: "num", Time: "at", Segments: []string{"note"}}},
	}
}

// recordHistoryBounds are days in Berlin (one of them 23 hours long, when the
// clocks go forward), then intervals of uneven lengths, the last ones
// after the data ends.
func recordHistoryBounds(t *testing.T) []time.Time {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	day := time.Date(2026, 3, 25, 0, 0, 0, 0, berlin)
	for i := 0; i <= 6; i++ {
		out = append(out, day.AddDate(0, 0, i))
	}
	last := out[len(out)-1]
	for _, d := range []time.Duration{7 * time.Hour, 30 * time.Minute, 90 * time.Second, 17 * time.Hour, 36 * time.Hour, 48 * time.Hour, time.Hour} {
		last = last.Add(d)
		out = append(out, last)
	}
	if h := out[5].Sub(out[4]); h != 23*time.Hour {
		t.Fatalf("the day the clocks go forward lasts %s", h)
	}
	return out
}

// sameRecordHistory checks that every interval of a history is what Query
// answers for it: the same segments, every count exactly and every sum
// within 1e-12 relative; nil exactly when Query found no record.
func sameRecordHistory(t *testing.T, what string, src Source, def measure.Definition, q Query, bounds []time.Time, got []*Result) {
	t.Helper()
	if len(got) != len(bounds)-1 {
		t.Fatalf("%s: %d intervals, want %d", what, len(got), len(bounds)-1)
	}
	empty, full := 0, 0
	for i := range got {
		want, err := src.Query(context.Background(), def, q, bounds[i], bounds[i+1])
		if err != nil {
			t.Fatalf("%s: Query of interval %d: %v", what, i, err)
		}
		at := fmt.Sprintf("%s interval %d [%s, %s)", what, i, bounds[i].Format(time.RFC3339), bounds[i+1].Format(time.RFC3339))
		if o := want.Overall; o.Total.N+o.Unrated.N+o.Rejected.N == 0 {
			if got[i] != nil {
				t.Fatalf("%s: no records, yet %+v", at, got[i].Overall)
			}
			empty++
			continue
		}
		if got[i] == nil {
			t.Fatalf("%s: nil, want %d units", at, want.Overall.Total.N)
		}
		full++
		if got[i].Statement != want.Statement {
			t.Fatalf("%s: statement %q, want %q", at, got[i].Statement, want.Statement)
		}
		recordJSONClose(t, at+" overall", recordStatsJSON(t, got[i].Overall), recordStatsJSON(t, want.Overall))
		if len(got[i].Segments) != len(want.Segments) || got[i].Segments == nil {
			t.Fatalf("%s: %d segments, want %d", at, len(got[i].Segments), len(want.Segments))
		}
		for k, s := range want.Segments {
			g, ok := got[i].Segments[k]
			if !ok {
				t.Fatalf("%s: no segment %q", at, k)
			}
			if g.Key != s.Key || len(g.Values) != len(s.Values) {
				t.Fatalf("%s: segment %+v, want %+v", at, g, s)
			}
			for c, v := range s.Values {
				if g.Values[c] != v {
					t.Fatalf("%s: segment %q %s=%q, want %q", at, k, c, g.Values[c], v)
				}
			}
			recordJSONClose(t, at+" "+k, recordStatsJSON(t, g.Stats), recordStatsJSON(t, s.Stats))
		}
	}
	if empty == 0 || full < 6 {
		t.Fatalf("%s: %d intervals with records and %d without: the data does not test both", what, full, empty)
	}
}

func recordStatsJSON(t *testing.T, s *measure.Stats) any {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// recordJSONClose compares decoded JSON: the same keys and lengths, numbers
// within 1e-12 relative (counts, far below 1e12, compare exactly).
func recordJSONClose(t *testing.T, what string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
		for k, v := range w {
			recordJSONClose(t, what+"."+k, g[k], v)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
		for i := range w {
			recordJSONClose(t, fmt.Sprintf("%s[%d]", what, i), g[i], w[i])
		}
	case float64:
		g, ok := got.(float64)
		if !ok || !(g == w || math.Abs(g-w) <= 1e-12*math.Max(math.Abs(g), math.Abs(w))) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	default:
		if got != want {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	}
}

func TestCSVHistoryIsQueryPerInterval(t *testing.T) {
	dir := t.TempDir()
	rows := recordHistoryRows(6000)
	rows.writeCSV(t, filepath.Join(dir, "answers.csv"), ';')
	src, err := OpenCSV(CSVConfig{Path: "answers.csv", Roots: []string{dir}, Delimiter: ';'})
	if err != nil {
		t.Fatal(err)
	}
	hs, ok := src.(HistorySource)
	if !ok {
		t.Fatal("the CSV source answers no history")
	}
	bounds := recordHistoryBounds(t)
	for _, tc := range recordHistoryCases() {
		q := tc.q
		q.Table = RecordsTable
		got, err := hs.QueryHistory(context.Background(), tc.def, q, bounds)
		if err != nil {
			t.Fatalf("%s: %v", tc.def.Formula, err)
		}
		sameRecordHistory(t, "csv "+tc.def.Formula+" "+strings.Join(q.Segments, ","), src, tc.def, q, bounds, got)
	}
}

func TestHTTPJSONHistoryIsQueryPerIntervalInOnePass(t *testing.T) {
	rows := recordHistoryRows(2000)
	numeric := map[string]bool{"weight": true, "num": true, "den": true, "resolved": true}
	srv := pagedServer(t, rows.jsonRecords(numeric, map[string]bool{"region": true}), 500, Cursor)
	src := openJSONSource(t, HTTPJSONConfig{URL: srv.URL + "/v1/responses", RecordsPath: "data", Pagination: Cursor,
		CursorPath: "meta.next_cursor", CursorParam: "after", Network: loopback(t)})
	bounds := recordHistoryBounds(t)
	for _, tc := range recordHistoryCases() {
		q := tc.q
		q.Table = RecordsTable
		for i, s := range q.Segments {
			if s == "region" {
				q.Segments = append([]string(nil), q.Segments...)
				q.Segments[i] = "customer.region"
			}
		}
		for i, f := range q.Filters {
			if f.Column == "region" {
				q.Filters = append([]Filter(nil), q.Filters...)
				q.Filters[i].Column = "customer.region"
			}
		}
		got, err := src.(HistorySource).QueryHistory(context.Background(), tc.def, q, bounds)
		if err != nil {
			t.Fatalf("%s: %v", tc.def.Formula, err)
		}
		sameRecordHistory(t, "http json "+tc.def.Formula, src, tc.def, q, bounds, got)
	}
}

// A URL naming the window asks for the whole history's once.
func TestHTTPJSONHistoryAsksForTheWholeSpan(t *testing.T) {
	var asked []string
	srv := recordServerSeeing(t, &asked, `{"data":[{"at":"2026-03-02T10:00:00Z","score":5},{"at":"2026-03-03T10:00:00Z","score":4}]}`)
	src := openJSONSource(t, HTTPJSONConfig{URL: srv + "/v1?since={{ .From }}&until={{ .To.Unix }}", RecordsPath: "data", Network: loopback(t)})
	bounds := []time.Time{time.Date(2026, 3, 1, 23, 0, 0, 500, time.UTC), time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 3, 23, 0, 0, 1, time.UTC)}
	got, err := src.(HistorySource).QueryHistory(context.Background(), csatDef, Query{Table: RecordsTable, Value: "score", Time: "at"}, bounds)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("/v1?since=2026-03-01T23%%3A00%%3A00Z&until=%d", time.Date(2026, 3, 3, 23, 0, 1, 0, time.UTC).Unix())
	if len(asked) != 1 || asked[0] != want {
		t.Fatalf("asked %q, want once %q", asked, want)
	}
	if len(got) != 2 || got[0].Overall.Scores.Get(5).N != 1 || got[1].Overall.Scores.Get(4).N != 1 || got[0].Overall.Total.N != 1 {
		t.Fatalf("history %+v", got)
	}
}

func TestRecordHistoryLimits(t *testing.T) {
	dir := t.TempDir()
	text := "at,score,team,account\n"
	for i := 0; i < 40; i++ {
		text += fmt.Sprintf("2026-03-%02dT10:00:00Z,%d,team-%d,acct-%d\n", 1+i%20, i%5+1, i%3, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.csv"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := OpenCSV(CSVConfig{Path: "a.csv", Roots: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	hs := src.(HistorySource)
	var days []time.Time
	for d := 0; d <= 20; d++ {
		days = append(days, time.Date(2026, 3, 1+d, 0, 0, 0, 0, time.UTC))
	}
	q := Query{Table: RecordsTable, Value: "score", Time: "at", Segments: []string{"team"}}

	// Each interval holds two teams: a bound of two segments is kept per
	// interval, as Query keeps it per window, not over the history.
	q.MaxSegments = 2
	if _, err := hs.QueryHistory(context.Background(), csatDef, q, days); err != nil {
		t.Fatalf("two teams a day under a bound of two: %v", err)
	}
	q.MaxSegments = 1
	if _, err := hs.QueryHistory(context.Background(), csatDef, q, days); !errors.Is(err, ErrTooManySegments) {
		t.Fatalf("two teams a day under a bound of one: %v", err)
	}
	q.MaxSegments = 0

	// Intervals × segments past MaxHistoryStats, before reading anything.
	many := make([]time.Time, MaxHistoryStats+2)
	for i := range many {
		many[i] = days[0].Add(time.Duration(i) * time.Second)
	}
	if _, err := hs.QueryHistory(context.Background(), csatDef, q, many); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "MaxHistoryStats") {
		t.Fatalf("%d intervals: %v", len(many)-1, err)
	}
	if _, err := hs.QueryHistory(context.Background(), csatDef, q, []time.Time{days[1], days[0]}); !errors.Is(err, ErrBadQuery) {
		t.Fatalf("decreasing bounds: %v", err)
	}

	// A record whose time cannot be read fails the history as it fails a
	// query, naming its line.
	if err := os.WriteFile(filepath.Join(dir, "b.csv"), []byte(text+"someday,3,team-1,acct-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad, _ := OpenCSV(CSVConfig{Path: "b.csv", Roots: []string{dir}})
	if _, err := bad.(HistorySource).QueryHistory(context.Background(), csatDef, q, days); !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "line 42") {
		t.Fatalf("unreadable time: %v", err)
	}
}

// recordServerSeeing serves body to every request, noting what each asks.
func recordServerSeeing(t *testing.T, asked *[]string, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*asked = append(*asked, r.URL.RequestURI())
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
