package source

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// benchYear is the first day of the benchmark's year of responses.
var benchYear = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// writeBenchWarehouse writes a SQLite file of a year of survey responses,
// perDay a day, indexed on the response time as the demo warehouse is.
func writeBenchWarehouse(b *testing.B, dir string, perDay int) {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "year.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE responses (responded_at TIMESTAMP, survey TEXT, score INTEGER, persona TEXT, account TEXT, w REAL)`); err != nil {
		b.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	personas := []string{"executive", "admin", "end-user"}
	surveys := []string{"nps", "nps", "nps", "ces"}
	for d := 0; d < 365; d++ {
		for i := 0; i < perDay; i++ {
			at := benchYear.AddDate(0, 0, d).Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
			var score any = rng.IntN(11)
			if rng.IntN(30) == 0 {
				score = nil
			}
			if _, err := ins.Exec(at.Format(sqliteTimeLayout), surveys[rng.IntN(len(surveys))], score, personas[rng.IntN(3)],
				"acct-"+string(rune('a'+rng.IntN(26)))+string(rune('a'+rng.IntN(26))), 0.5+rng.Float64()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`CREATE INDEX responses_at ON responses (responded_at)`); err != nil {
		b.Fatal(err)
	}
}

// openBenchYear writes the benchmark's year of responses, 1,000 a day,
// opens it, and returns the source and the bounds of its first n days.
func openBenchYear(b *testing.B, n int) (Source, []time.Time) {
	b.Helper()
	dir := b.TempDir()
	writeBenchWarehouse(b, dir, 1000)
	src, err := OpenSQLite(SQLiteConfig{Path: "year.db", Roots: []string{dir}, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	days := make([]time.Time, n+1)
	for i := range days {
		days[i] = benchYear.AddDate(0, 0, i)
	}
	return src, days
}

// BenchmarkSQLiteHistoryVersusPerInterval reads a year of daily buckets
// from a SQLite file with one QueryHistory and with one Query per day,
// and reports how many times faster the history is (per-interval/history)
// beside each path's time per year.
func BenchmarkSQLiteHistoryVersusPerInterval(b *testing.B) {
	src, days := openBenchYear(b, 365)
	hs := src.(HistorySource)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		def  measure.Definition
		q    Query
	}{
		{"weighted NPS by persona", measure.Definition{Formula: measure.FormulaNPS},
			Query{Table: "responses", Value: "score", Time: "responded_at", Weight: "w", Segments: []string{"persona"},
				Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps"}}}}},
		{"mean clustered by account", measure.Definition{Formula: measure.FormulaMean},
			Query{Table: "responses", Value: "score", Time: "responded_at", Cluster: "account", Segments: []string{"persona"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// The two paths agree before either is timed.
			got, err := hs.QueryHistory(ctx, bc.def, bc.q, days)
			if err != nil {
				b.Fatal(err)
			}
			for _, i := range []int{0, 100, 364} {
				want, err := src.Query(ctx, bc.def, bc.q, days[i], days[i+1])
				if err != nil {
					b.Fatal(err)
				}
				if err := historyEqual("result", reflect.ValueOf(got[i]), reflect.ValueOf(want)); err != nil {
					b.Fatalf("day %d: %v", i, err)
				}
			}
			var history, perInterval time.Duration
			runs := 0
			for b.Loop() {
				start := time.Now()
				if _, err := hs.QueryHistory(ctx, bc.def, bc.q, days); err != nil {
					b.Fatal(err)
				}
				history += time.Since(start)
				start = time.Now()
				for i := 0; i+1 < len(days); i++ {
					if _, err := src.Query(ctx, bc.def, bc.q, days[i], days[i+1]); err != nil {
						b.Fatal(err)
					}
				}
				perInterval += time.Since(start)
				runs++
			}
			b.ReportMetric(float64(perInterval)/float64(history), "per-interval/history")
			b.ReportMetric(history.Seconds()/float64(runs), "history-s/year")
			b.ReportMetric(perInterval.Seconds()/float64(runs), "per-interval-s/year")
		})
	}
}

// BenchmarkSQLiteHistoryHeldPerStatistic reads 60 daily buckets of NPS by
// account (676 accounts, about 450 of them answering a day: 27,000
// statistics, as a wide Metric's history holds) and reports the heap the
// history holds per statistic, and as a ratio to the bare counts it
// carries (24 bytes a score cell: a count and two weight sums).
func BenchmarkSQLiteHistoryHeldPerStatistic(b *testing.B) {
	src, days := openBenchYear(b, 60)
	hs := src.(HistorySource)
	def := measure.Definition{Formula: measure.FormulaNPS}
	q := Query{Table: "responses", Value: "score", Time: "responded_at", Segments: []string{"account"},
		Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps"}}}}
	var held, statistics, cells float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got, err := hs.QueryHistory(context.Background(), def, q, days)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		statistics, cells = 0, 0
		for _, r := range got {
			for _, seg := range r.Segments {
				statistics++
				cells += float64(len(seg.Stats.Scores))
			}
		}
		runtime.KeepAlive(got)
		held = float64(after.HeapAlloc) - float64(before.HeapAlloc)
	}
	b.ReportMetric(held/statistics, "B/statistic")
	b.ReportMetric(statistics, "statistics")
	b.ReportMetric(held/(24*cells), "x-bare-counts")
}
