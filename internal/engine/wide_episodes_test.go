package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
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
// days evaluates every steady interval in one round trip, one statement:
// its window, new interval and as many episodes' starts as keep the
// history within MaxHistoryStatistics, and the evidence of the episodes
// already open in one history narrowed to their accounts, joined to it
// by UNION ALL, with the running segments closest to opening one, so an
// evaluation in which episodes open is one round trip too. Every
// evaluation is the one that reads each range from the source on its
// own.
func TestSteadyEvaluationWithEpisodesOffTheCutsIsOneRoundTrip(t *testing.T) {
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
	// The round trips as the manager counts them (source.Observed).
	var queries, histories atomic.Int64
	src := source.Observed(open(), func(kind source.QueryKind, _ time.Duration, _ error) {
		if kind == source.HistoryQuery {
			histories.Add(1)
		} else {
			queries.Add(1)
		}
	})
	direct := plain{open()}
	var prior, directPrior Prior
	alongside, openedAlongside, mostEpisodes := 0, 0, 0
	for end := first; end.Before(wideStart.AddDate(0, 0, wideDays)); end = AddWall(end, m.Interval, m.Location) {
		queries.Store(0)
		histories.Store(0)
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
		wasOpen := map[string]bool{}
		if prior.Detector != nil {
			for _, s := range prior.Detector.Segments {
				wasOpen[s.Segment] = s.Open()
			}
		}
		opened := 0
		for _, ep := range got.Episodes {
			if !wasOpen[ep.Segment] {
				opened++
			}
		}
		prior, directPrior = got.Prior(), want.Prior()
		mostEpisodes = max(mostEpisodes, len(got.Episodes))
		if end.Equal(first) {
			continue // the first evaluation warms up on the window
		}
		q, h := queries.Load(), histories.Load()
		if q != 0 || h != 1 {
			t.Fatalf("%s: %d queries and %d histories with %d episodes open, %d of them opening, want one history", at, q, h, len(got.Episodes), opened)
		}
		if strings.Contains(got.Query, "UNION ALL") {
			alongside++
			if opened > 0 {
				openedAlongside++
			}
		}
	}
	if mostEpisodes < rotaDropped/2 || alongside == 0 || openedAlongside == 0 {
		t.Fatalf("at most %d episodes open, %d evaluations read a narrowed history alongside, %d of them opening episodes: the episodes off the cuts are not exercised",
			mostEpisodes, alongside, openedAlongside)
	}
}
