package engine_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	. "github.com/cxloop/cxloop/internal/engine"

	"github.com/cxloop/cxloop/internal/source"
)

// wideStart is the first day of the wide warehouse's answers.
var wideStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const (
	wideAccounts = 1800
	wideDays     = 50
	// wideDropDay is the day account a0000's answers turn to detractors.
	wideDropDay = 38
)

// writeWideWarehouse writes a SQLite file of NPS answers by account:
// every account answers once a day for wideDays days, so a daily 30-day
// window's per-interval history holds more than MaxHistoryStatistics
// statistics; account a0000 answers twenty times a day, promoters until
// wideDropDay and detractors from then on.
func writeWideWarehouse(t *testing.T) string {
	return writeAnswers(t, 10000, func(r *rand.Rand, add func(day int, account string, score int)) {
		for d := 0; d < wideDays; d++ {
			for a := 0; a < wideAccounts; a++ {
				add(d, fmt.Sprintf("a%04d", a), []int{3, 6, 7, 8, 9, 10, 10}[r.IntN(7)])
			}
			for k := 0; k < 20; k++ {
				score := 9 + r.IntN(2)
				if d >= wideDropDay {
					score = r.IntN(4)
				}
				add(d, "a0000", score)
			}
		}
	})
}

// writeAnswers writes a SQLite file wide.db of NPS answers (at, account,
// score) with an index on the time, the answers drawn by fill: add puts
// one on a day after wideStart at a random time of it. It returns the
// file's directory.
func writeAnswers(t *testing.T, seed uint64, fill func(r *rand.Rand, add func(day int, account string, score int))) string {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "wide.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE answers (at TIMESTAMP, account TEXT, score INTEGER)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT INTO answers VALUES (?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(18, seed))
	fill(r, func(day int, account string, score int) {
		at := wideStart.AddDate(0, 0, day).Add(time.Duration(r.Int64N(int64(24 * time.Hour)))).Truncate(time.Second)
		if _, err := ins.Exec(at.Format("2006-01-02 15:04:05"), account, score); err != nil {
			t.Fatal(err)
		}
	})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE INDEX answers_at ON answers (at)`); err != nil {
		t.Fatal(err)
	}
	return dir
}

// wideMetric is a daily NPS over 30 days by account.
func wideMetric() Metric {
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	m.Definition.Source = "wide"
	m.Hash = m.Definition.Hash()
	m.Query = source.Query{Table: "answers", Value: "score", Time: "at", Segments: []string{"account"}}
	target, shift := 20.0, 10.0
	m.Objective.Target, m.Objective.MinShift, m.Objective.MinSamples = &target, shift, 20
	return m
}

// A Metric of more segments than a per-interval history of its window may
// hold (MaxHistoryStatistics) evaluates every steady interval in one
// statement: its history is cut only where the evaluation's reads start
// and end (the window, the new interval, the episode's start), and every
// evaluation is the one that reads each range from the source on its
// own: the same values, detector and episodes.
func TestSteadyEvaluationOfAWideMetricIsOneStatement(t *testing.T) {
	ctx := context.Background()
	dir := writeWideWarehouse(t)
	open := func() source.Source {
		src, err := source.OpenSQLite(source.SQLiteConfig{Path: "wide.db", Roots: []string{dir}, Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}
	for _, tc := range []struct {
		name   string
		metric func() Metric
	}{
		{"daily", wideMetric},
		{"an exclusion off midnight in the window", func() Metric {
			m := wideMetric()
			m.Exclusions = []Exclusion{{Name: "outage", Start: wideStart.AddDate(0, 0, 36).Add(5 * time.Hour),
				End: wideStart.AddDate(0, 0, 37).Add(13 * time.Hour)}}
			return m
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.metric()
			first := wideStart.AddDate(0, 0, 35)
			// What the old grid asked: one bucket per interval of the
			// window is more than a history may hold.
			perDay := make([]time.Time, 31)
			for i := range perDay {
				perDay[i] = first.AddDate(0, 0, i-30)
			}
			if _, err := open().(source.HistorySource).QueryHistory(ctx, m.Definition, m.Query, perDay); !errors.Is(err, source.ErrTooLarge) {
				t.Fatalf("a per-interval history of the window: %v, want ErrTooLarge", err)
			}
			src := &counting{Source: open()}
			direct := plain{open()}
			var prior, directPrior Prior
			opened := 0
			for end := first; end.Before(wideStart.AddDate(0, 0, wideDays)); end = AddWall(end, m.Interval, m.Location) {
				src.queries.Store(0)
				src.histories.Store(0)
				got, err := Evaluate(ctx, src, m, prior, end)
				if err != nil {
					t.Fatal(err)
				}
				want, err := Evaluate(ctx, direct, m, directPrior, end)
				if err != nil {
					t.Fatal(err)
				}
				at := end.Format(time.DateOnly)
				if err := closeTo(at, reflect.ValueOf(got), reflect.ValueOf(want)); err != nil {
					t.Fatal(err)
				}
				if len(got.Segments) < wideAccounts {
					t.Fatalf("%s: %d segments in the window, want %d", at, len(got.Segments), wideAccounts)
				}
				prior, directPrior = got.Prior(), want.Prior()
				if len(got.Episodes) > 0 {
					opened++
				}
				if end.Equal(first) {
					continue // the first evaluation warms up on the window
				}
				q, h := src.queries.Load(), src.histories.Load()
				if q != 0 || h != 1 || strings.Contains(got.Query, ";") {
					t.Fatalf("%s: %d queries and %d histories, statement %.200q: want one history of one statement", at, q, h, got.Query)
				}
			}
			if opened < 2 {
				t.Fatalf("the drop of a0000 kept an episode open in %d evaluations: the episode's reads are not exercised", opened)
			}
		})
	}
}
