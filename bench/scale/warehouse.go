package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"time"

	_ "modernc.org/sqlite"

	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/simulate"
)

// The clock starts at t0, the end of the history; the data runs on for
// the steady intervals, a quiet interval and the drop after them.
var t0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

const (
	steadyDays = 3
	dropDays   = 14
	// windowDays is every Metric's window (720h).
	windowDays = 30
	// The drop: the first Metric's first account, from the day after the
	// steady intervals, answers heavily and all detractors.
	dropMetric  = "m0000"
	dropAccount = "a00"
	dropPerDay  = 150
	// Volume: every Metric's account answers twice a day; the wide Metric's
	// accounts once every few days.
	perAccountDay = 2
	wideEvery     = 5
	// The wide Metric's drop: from the same day its first wideDropped
	// accounts answer wideDropPerDay a day (Poisson) instead of their rota,
	// at an NPS wideDropBy points lower, with the answer mix the
	// simulation draws at that level (simulate.NPSShares).
	wideDropped    = 20
	wideDropPerDay = 150
	wideDropBy     = 130
	// The reference mix every account answers with: NPS 30.
	promoters, detractors = 0.5, 0.2
	level                 = 100 * (promoters - detractors)
)

// warehouse is the SQLite file every Metric reads.
type warehouse struct {
	path                    string
	metrics, segments, wide int
	start, end              time.Time
}

func metricName(i int) string  { return fmt.Sprintf("m%04d", i) }
func accountName(i int) string { return fmt.Sprintf("a%02d", i) }
func wideAccount(i int) string { return fmt.Sprintf("w%05d", i) }

// quietDay is the interval after the steady ones, in which nobody
// answers; the day that leaves the window as it enters is quiet too, so
// the window evaluated at its end holds the same rows as the one before.
var quietDay = t0.AddDate(0, 0, steadyDays)

// dropFrom is the drop's first day, the one after the quiet interval.
var dropFrom = quietDay.AddDate(0, 0, 1)

func quiet(day time.Time) bool {
	return day.Equal(quietDay) || day.Equal(quietDay.AddDate(0, 0, -windowDays))
}

// generate writes one table of NPS answers, indexed on (metric, time), and
// returns its rows. Scores are drawn around an NPS of about 30, the
// Metrics' target minus a margin, so no task opens but the planted drop's.
func (w warehouse) generate() (int, error) {
	db, err := sql.Open("sqlite", w.path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.Exec(`PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
		CREATE TABLE responses (metric TEXT NOT NULL, account TEXT NOT NULL, score INTEGER NOT NULL, answered_at TIMESTAMP NOT NULL)`); err != nil {
		return 0, err
	}
	tx, err := db.Begin()
	if err != nil {
		return 0, err
	}
	ins, err := tx.Prepare(`INSERT INTO responses VALUES (?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	r := rand.New(rand.NewPCG(1, 2))
	score := func() int {
		switch u := r.Float64(); {
		case u < promoters:
			return 9 + r.IntN(2)
		case u < 1-detractors:
			return 7 + r.IntN(2)
		default:
			return r.IntN(7)
		}
	}
	// The wide drop draws from its own stream, so every other row is the
	// same with or without it.
	dr := rand.New(rand.NewPCG(3, 4))
	dropped := simulate.NPSShares(level-wideDropBy, promoters, detractors)
	droppedScore := func() int {
		switch u := dr.Float64(); {
		case u < dropped[0]:
			return dr.IntN(7)
		case u < dropped[0]+dropped[1]:
			return 7 + dr.IntN(2)
		default:
			return 9 + dr.IntN(2)
		}
	}
	rows := 0
	add := func(metric, account string, s int, at time.Time) error {
		rows++
		_, err := ins.Exec(metric, account, s, demodata.FormatTime(at))
		return err
	}
	for day, d := w.start, 0; day.Before(w.end); day, d = day.AddDate(0, 0, 1), d+1 {
		if quiet(day) {
			continue
		}
		for m := 0; m < w.metrics; m++ {
			for a := 0; a < w.segments; a++ {
				for k := 0; k < perAccountDay; k++ {
					if err := add(metricName(m), accountName(a), score(), day.Add(time.Duration(r.IntN(86400))*time.Second)); err != nil {
						return 0, err
					}
				}
			}
		}
		wideDrop := !day.Before(dropFrom)
		for a := d % wideEvery; a < w.wide; a += wideEvery {
			s, at := score(), day.Add(time.Duration(r.IntN(86400))*time.Second)
			if wideDrop && a < wideDropped {
				continue // answering at the drop's volume instead
			}
			if err := add("wide", wideAccount(a), s, at); err != nil {
				return 0, err
			}
		}
		for a := 0; wideDrop && a < min(wideDropped, w.wide); a++ {
			for range simulate.Poisson(dr, wideDropPerDay) {
				if err := add("wide", wideAccount(a), droppedScore(), day.Add(time.Duration(dr.IntN(86400))*time.Second)); err != nil {
					return 0, err
				}
			}
		}
		if !day.Before(dropFrom) && w.metrics > 0 {
			for k := 0; k < dropPerDay; k++ {
				if err := add(dropMetric, dropAccount, r.IntN(7), day.Add(time.Duration(r.IntN(86400))*time.Second)); err != nil {
					return 0, err
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	_, err = db.Exec(`CREATE INDEX responses_metric_time ON responses (metric, answered_at)`)
	return rows, err
}

// groupByOnce times the baseline: one GROUP BY over the whole table that
// yields every count any evaluation needs (metric, account, day, score).
func (w warehouse) groupByOnce(ctx context.Context) (time.Duration, error) {
	db, err := sql.Open("sqlite", w.path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	start := time.Now()
	rs, err := db.QueryContext(ctx, `SELECT metric, account, substr(answered_at, 1, 10), score, COUNT(*)
		FROM responses GROUP BY 1, 2, 3, 4`)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	groups := 0
	for rs.Next() {
		groups++
	}
	if err := rs.Err(); err != nil {
		return 0, err
	}
	if groups == 0 {
		return 0, fmt.Errorf("the baseline GROUP BY found no rows")
	}
	return time.Since(start), nil
}
