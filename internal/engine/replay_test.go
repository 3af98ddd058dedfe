package engine_test

import (
	"context"
	. "github.com/cxloop/cxloop/internal/engine"
	"testing"
	"time"
)

// The operator evaluates at m.WindowEnd(now) (so does plan, through the
// same function); a backtest walks the window ends of a range. For every
// interval they must be the same instants.
func TestOperatorPlanAndBacktestChooseTheSameWindowEnds(t *testing.T) {
	ctx := context.Background()
	from := time.Date(2026, 2, 4, 5, 0, 0, 0, time.UTC) // a Wednesday
	to := from.Add(5 * 7 * 24 * time.Hour)
	for _, interval := range []time.Duration{time.Hour, 24 * time.Hour, 168 * time.Hour} {
		window := 4 * interval
		m := npsMetric(interval, window)
		m.Query.Segments = nil

		live := &synthetic{perHour: 1, segments: []string{"all"}, before: [2]float64{0.45, 0.15}}
		var prior Prior
		liveEnds := map[time.Time]bool{}
		for now := from.Add(time.Nanosecond); now.Before(to.Add(37 * time.Minute)); now = now.Add(37 * time.Minute) {
			if now.After(to) {
				now = to
			}
			end := m.WindowEnd(now)
			if !end.After(from) || liveEnds[end] {
				continue
			}
			liveEnds[end] = true
			res, err := Evaluate(ctx, live, m, prior, end)
			if err != nil {
				t.Fatal(err)
			}
			prior = res.Prior()
		}

		replayed := &synthetic{perHour: 1, segments: []string{"all"}, before: [2]float64{0.45, 0.15}}
		if _, err := Replay(ctx, replayed, m, from, to, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		got := replayed.windowEnds(window)
		if len(got) != len(liveEnds) || len(got) == 0 {
			t.Fatalf("interval %s: backtest evaluated %d window ends, the operator %d", interval, len(got), len(liveEnds))
		}
		for end := range liveEnds {
			if !got[end] {
				t.Errorf("interval %s: the operator evaluated at %s, the backtest did not", interval, end)
			}
			if interval == 168*time.Hour && end.Weekday() != time.Monday {
				t.Errorf("a weekly window ends on %s, not on a Monday", end.Weekday())
			}
		}
	}
}

// A backtest plans tasks as the operator does: with three segments
// dropping and maxOpenTasks 1, one task opens and two are held back.
func TestReplayHoldsBackWhatCapacityDoesNotAllow(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	drop := start.Add(40 * 24 * time.Hour)
	src := &synthetic{perHour: 4, segments: []string{"kickoff", "integration", "training"},
		before: [2]float64{0.45, 0.15}, after: [2]float64{0.30, 0.30},
		change: map[string]time.Time{"kickoff": drop, "integration": drop, "training": drop}}
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	m.Policy.MaxOpenTasks = 1
	res, err := Replay(ctx, src, m, start, drop.Add(20*24*time.Hour), ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, ev := range res.Events {
		count[ev.Event]++
		if ev.Event == EventHeldBack && ev.Reason != "MetricCapacity" {
			t.Errorf("held back for %s", ev.Reason)
		}
		if ev.Event == EventTaskOpened && ev.At.Before(drop) {
			t.Errorf("a task opened at %s, before the drop", ev.At)
		}
	}
	if count[EventTaskOpened] != 1 || count[EventHeldBack] < 2 {
		t.Fatalf("events %v: want one task opened and the other drops held back", count)
	}
}

// With the owner played, a fix that restores the metric is Verified and
// one that changes nothing is reopened and, after maxAttempts, escalated.
// 1,440 answers a day bring a third attempt's n* (about 11,700 at its
// share of the level) within its 14-day verify window.
func TestReplayVerifiesAndReopensResolutions(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	drop := start.Add(40 * 24 * time.Hour)
	for _, c := range []struct {
		name    string
		restore map[string]time.Time
		want    []string
		not     []string
	}{
		// The fix lands after the first resolution: that attempt reopens,
		// the next one is verified.
		{"a fix that works", map[string]time.Time{"all": drop.Add(12 * 24 * time.Hour)}, []string{"Resolved", "Reopened", "Verified"}, []string{"Escalated", "Recovered"}},
		{"a fix that does nothing", nil, []string{"Resolved", "Reopened", "Escalated"}, []string{"Verified", "Recovered"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := &synthetic{perHour: 60, segments: []string{"all"}, before: [2]float64{0.45, 0.15}, after: [2]float64{0.30, 0.30},
				change: map[string]time.Time{"all": drop}, restore: c.restore}
			m := npsMetric(24*time.Hour, 30*24*time.Hour)
			m.Query.Segments = nil
			m.Policy.MaxAttempts = 1
			if c.restore != nil {
				m.Policy.MaxAttempts = 3
			}
			res, err := Replay(ctx, src, m, start, drop.Add(90*24*time.Hour), ReplayOptions{ResolveAfter: 3 * 24 * time.Hour, TeamEscalation: "leads"})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]ReplayEvent{}
			for _, ev := range res.Events {
				if ev.Segment == "" {
					if _, ok := seen[ev.Event]; !ok {
						seen[ev.Event] = ev
					}
				}
			}
			if _, ok := seen[EventTaskOpened]; !ok {
				t.Fatalf("no task opened: %+v", res.Events)
			}
			for _, w := range c.want {
				if _, ok := seen[w]; !ok {
					t.Errorf("no %s event: %+v", w, res.Events)
				}
			}
			for _, n := range c.not {
				if _, ok := seen[n]; ok {
					t.Errorf("a %s event: %+v", n, seen[n])
				}
			}
			if e, ok := seen["Escalated"]; ok && e.Reason != "escalated to team leads" {
				t.Errorf("escalated: %q", e.Reason)
			}
		})
	}
}
