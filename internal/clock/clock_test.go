package clock

import (
	"path/filepath"
	"testing"
	"time"
)

func TestFastAdvancesAtItsRate(t *testing.T) {
	origin := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	wall := origin
	f := &Fast{origin: origin, start: wall, rate: 3600, wall: func() time.Time { return wall }}
	wall = wall.Add(2 * time.Second)
	if got, want := f.Now(), origin.Add(2*time.Hour); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
	if got := WallDuration(f, 24*time.Hour); got != 24*time.Second {
		t.Fatalf("WallDuration(24h) = %v, want 24s", got)
	}
}

func TestManualMovesOnlyByHand(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewManual(t0)
	if !m.Now().Equal(t0) {
		t.Fatal("manual clock moved by itself")
	}
	m.Advance(time.Hour)
	if !m.Now().Equal(t0.Add(time.Hour)) {
		t.Fatalf("Advance: %v", m.Now())
	}
	if got := WallDuration(m, time.Hour); got != time.Hour {
		t.Fatalf("WallDuration on a manual clock = %v", got)
	}
}

func TestFileReadsTheTimeItHolds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "now")
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if _, err := NewFile(path, time.Second); err == nil {
		t.Fatal("a clock file that does not exist was accepted")
	}
	if err := WriteFile(path, start); err != nil {
		t.Fatal(err)
	}
	f, err := NewFile(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Now().Equal(start) {
		t.Fatalf("now %s, want %s", f.Now(), start)
	}
	if err := WriteFile(path, start.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if !f.Now().Equal(start.AddDate(0, 0, 1)) {
		t.Fatalf("after a step: now %s", f.Now())
	}
	if d := WallDuration(f, 24*time.Hour); d != time.Second {
		t.Fatalf("a day's requeue waits %s, want the poll", d)
	}
}
