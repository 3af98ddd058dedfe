package engine_test

import (
	. "github.com/cxloop/cxloop/internal/engine"
	"testing"
	"time"
)

func TestAlignStartsDaysAtMidnightAndWeeksOnMonday(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string, loc *time.Location) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name     string
		now      string
		interval time.Duration
		loc      *time.Location
		want     string
	}{
		{"hourly", "2026-03-05 13:47", time.Hour, time.UTC, "2026-03-05 13:00"},
		{"daily", "2026-03-05 13:47", 24 * time.Hour, time.UTC, "2026-03-05 00:00"},
		// 2026-03-05 is a Thursday; epoch alignment would say Thursday.
		{"weekly starts Monday", "2026-03-05 13:47", 168 * time.Hour, time.UTC, "2026-03-02 00:00"},
		{"weekly on the Monday itself", "2026-03-09 00:00", 168 * time.Hour, time.UTC, "2026-03-09 00:00"},
		{"daily in Berlin", "2026-03-05 13:47", 24 * time.Hour, berlin, "2026-03-05 00:00"},
		{"weekly in Berlin", "2026-03-05 13:47", 168 * time.Hour, berlin, "2026-03-02 00:00"},
		// Berlin moves to summer time on 2026-03-29: days stay at midnight.
		{"daily after the spring change", "2026-03-30 08:00", 24 * time.Hour, berlin, "2026-03-30 00:00"},
		{"hourly across the skipped hour", "2026-03-29 03:30", time.Hour, berlin, "2026-03-29 03:00"},
		{"six-hourly", "2026-03-05 13:47", 6 * time.Hour, time.UTC, "2026-03-05 12:00"},
	} {
		got := Align(at(c.now, c.loc), c.interval, c.loc)
		if want := at(c.want, c.loc); !got.Equal(want) {
			t.Errorf("%s: Align(%s, %s) = %s, want %s", c.name, c.now, c.interval, got.In(c.loc), want)
		}
		if got.After(at(c.now, c.loc)) {
			t.Errorf("%s: the boundary %s is after now", c.name, got)
		}
		if next := NextBoundary(got, c.interval, c.loc); !Align(next, c.interval, c.loc).Equal(next) || !next.After(got) {
			t.Errorf("%s: the next boundary %s is not aligned after %s", c.name, next, got)
		}
	}
}

func TestWindowEndHoldsBackTheSettleDelay(t *testing.T) {
	now := time.Date(2026, 3, 5, 3, 0, 0, 0, time.UTC)
	if got := WindowEnd(now, 24*time.Hour, 6*time.Hour, nil); !got.Equal(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("window end %s", got)
	}
}
