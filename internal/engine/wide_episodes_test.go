package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	. "github.com/cxloop/cxloop/internal/engine"

	"github.com/cxloop/cxloop/internal/source"
)

const (
	// rotaAccounts answer once every rotaEvery days, as bench/scale's
	// wide Metric: a day holds a fifth of them, a window all of them.
	rotaAccounts = 10000
	rotaEvery    = 5
	// rotaDropped accounts answer twenty times a day, promoters until
	// their drop, from day 31 to 43 two days apart, and detractors after.
	rotaDropped = 14
)

// writeRotaWarehouse writes a SQLite file of NPS answers by account over
// wideDays days: a window's history cut at every open episode's start
// holds more than MaxHistoryStatistics statistics.
func writeRotaWarehouse(t *testing.T) string {
	return writeAnswers(t, 12000, func(r *rand.Rand, add func(day int, account string, score int)) {
		for d := 0; d < wideDays; d++ {
			for a := d % rotaEvery; a < rotaAccounts; a += rotaEvery {
				add(d, fmt.Sprintf("a%05d", a), []int{3, 6, 7, 8, 9, 10, 10}[r.IntN(7)])
			}
			for a := 0; a < rotaDropped; a++ {
				for k := 0; k < 20; k++ {
					score := 9 + r.IntN(2)
					if d >= 31+2*(a%7) {
						score = r.IntN(4)
					}
					add(d, fmt.Sprintf("a%05d", a), score)
				}
			}
		}
	})
}

// A Metric of 10,000 accounts with episodes open from seven different
// days evaluates every steady interval in at most two statements: its
// window, new interval and as many episodes' starts as keep the history
// within MaxHistoryStatistics in one, the other episodes' evidence in one
// history narrowed to their accounts; and every evaluation is the one
// that reads each range from the source on its own.
func TestSteadyEvaluationWithEpisodesOffTheCutsIsTwoStatements(t *testing.T) {
	ctx := context.Background()
	dir := writeRotaWarehouse(t)
	open := func() source.Source {
		src, err := source.OpenSQLite(source.SQLiteConfig{Path: "wide.db", Roots: []string{dir}, Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}
	m := wideMetric()
	first := wideStart.AddDate(0, 0, 35)
	src := &counting{Source: open()}
	direct := plain{open()}
	var prior, directPrior Prior
	narrowed, mostEpisodes := 0, 0
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
		prior, directPrior = got.Prior(), want.Prior()
		mostEpisodes = max(mostEpisodes, len(got.Episodes))
		if end.Equal(first) {
			continue // the first evaluation warms up on the window
		}
		q, h := src.queries.Load(), src.histories.Load()
		if q != 0 || h > 2 {
			t.Fatalf("%s: %d queries and %d histories with %d episodes open, want at most two histories", at, q, h, len(got.Episodes))
		}
		if h == 2 {
			narrowed++
		}
	}
	if mostEpisodes < rotaDropped/2 || narrowed == 0 {
		t.Fatalf("at most %d episodes open, %d evaluations read a narrowed history: the episodes off the cuts are not exercised", mostEpisodes, narrowed)
	}
}
