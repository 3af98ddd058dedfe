package source

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// recordingHistory records the histories its source is asked for.
type recordingHistory struct {
	HistorySource
	mu    sync.Mutex
	calls []Query
}

func (c *recordingHistory) QueryHistory(ctx context.Context, def measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	c.mu.Lock()
	c.calls = append(c.calls, q)
	c.mu.Unlock()
	return c.HistorySource.QueryHistory(ctx, def, q, bounds)
}

// sharedWarehouse writes three surveys' answers over 40 days, by stage
// (some without one), into an SQLite file, and opens it; bounds are the
// 40 days' midnights.
func sharedWarehouse(t *testing.T) (src HistorySource, bounds []time.Time) {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "answers.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE answers (at TIMESTAMP, survey TEXT, stage TEXT, score INTEGER)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stages := []any{"onboarding", "support", "training", nil}
	for i := 0; i < 3000; i++ {
		at := start.Add(time.Duration(rng.Int64N(int64(40 * 24 * time.Hour))))
		survey := fmt.Sprintf("s%d", rng.IntN(3))
		if _, err := tx.Exec(`INSERT INTO answers VALUES (?, ?, ?, ?)`, at.Format(sqliteTimeLayout), survey,
			stages[rng.IntN(len(stages))], rng.IntN(11)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	opened, err := OpenSQLite(SQLiteConfig{Path: "answers.db", Roots: []string{dir}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { opened.Close() })
	for d := 0; d <= 40; d++ {
		bounds = append(bounds, start.AddDate(0, 0, d))
	}
	return opened.(HistorySource), bounds
}

// Metrics that differ only in an Equals filter's value get, from one
// shared statement, exactly the histories their own statements give
// (counts exact, sums within 1e-12), segmented or not; a survey with no
// answers, a query outside the group and an unannounced one read their
// own. Each answer is what Query gives over each interval.
func TestSharedHistoryMatchesEachMetricsOwn(t *testing.T) {
	ctx := context.Background()
	plain, bounds := sharedWarehouse(t)
	// As the engine's, each definition's Source names its own filter.
	nps := func(q Query) measure.Definition {
		return measure.Definition{Formula: measure.FormulaNPS, Source: fmt.Sprintf("answers %v", q.Filters)}
	}
	survey := func(v string, segments ...string) Query {
		return Query{Table: "answers", Value: "score", Time: "at", Segments: segments,
			Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{v}}, {Column: "score", Operator: LessThan, Values: []string{"11"}}}}
	}
	for _, segments := range [][]string{nil, {"stage"}} {
		t.Run(fmt.Sprintf("segments %v", segments), func(t *testing.T) {
			counted := &recordingHistory{HistorySource: plain}
			shared := NewSharedHistory(counted).(*SharedHistory)
			members := []Query{survey("s0", segments...), survey("s1", segments...), survey("s2", segments...), survey("none", segments...)}
			for _, q := range members {
				shared.Expect(nps(q), q)
			}
			other := survey("s1", segments...)
			other.Filters = other.Filters[:1] // not in the group: no score filter
			for _, q := range append(members, other) {
				got, err := shared.QueryHistory(ctx, nps(q), q, bounds)
				if err != nil {
					t.Fatal(err)
				}
				if v := q.Filters[0].Values[0]; v == "none" {
					for i, r := range got {
						if r != nil {
							t.Fatalf("none: interval %d has %d units", i, r.Overall.Total.N)
						}
					}
				} else {
					sameHistory(t, v, plain, nps(q), q, bounds, got)
				}
			}
			// One shared statement for s0, s1, s2 and none; none (no
			// rows) and the query outside the group read their own.
			if len(counted.calls) != 3 || len(counted.calls[0].Filters[0].Values) != 4 || counted.calls[0].Filters[0].Operator != In {
				t.Fatalf("source asked for %d histories: %+v", len(counted.calls), counted.calls)
			}
		})
	}
}

// A shared history past MaxHistoryStatistics is read again in halves,
// each still exact.
func TestSharedHistoryHalvesWhenTooLarge(t *testing.T) {
	ctx := context.Background()
	plain, bounds := sharedWarehouse(t)
	nps := func(v string) measure.Definition {
		return measure.Definition{Formula: measure.FormulaNPS, Source: "answers survey=" + v}
	}
	q := func(v string) Query {
		return Query{Table: "answers", Value: "score", Time: "at", Segments: []string{"stage"},
			Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{v}}}}
	}
	// One survey's history holds 40 × (4 + 1) statistics; three together
	// 40 × (12 + 1), past a limit of 400.
	defer func(old int) { historyStatisticsLimit = old }(historyStatisticsLimit)
	historyStatisticsLimit = 400
	counted := &recordingHistory{HistorySource: plain}
	shared := NewSharedHistory(counted).(*SharedHistory)
	for _, v := range []string{"s0", "s1", "s2"} {
		shared.Expect(nps(v), q(v))
	}
	for _, v := range []string{"s0", "s1", "s2"} {
		got, err := shared.QueryHistory(ctx, nps(v), q(v), bounds)
		if err != nil {
			t.Fatal(err)
		}
		sameHistory(t, v, plain, nps(v), q(v), bounds, got)
	}
	// All three (too large), then s0 alone and s1 with s2 (both fit), and
	// s0 reads its own: a group of one is not shared.
	if len(counted.calls) != 3 {
		t.Fatalf("source asked for %d histories: %+v", len(counted.calls), counted.calls)
	}
}
