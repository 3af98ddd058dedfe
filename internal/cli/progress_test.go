package cli

import (
	"bytes"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Piped or redirected, progress writes nothing: the report alone is the
// output.
func TestProgressIsSilentWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "backtest", 2, 10)
	p.evaluated(5)
	p.metricDone()
	p.finish()
	if buf.Len() != 0 {
		t.Fatalf("progress wrote %q to a pipe", buf.String())
	}
}

// On a terminal it rewrites one line with the Metrics done, the
// evaluations replayed and the time left at the rate so far, and clears
// it at the end.
func TestProgressLineShowsWorkAndTimeLeft(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	p := newProgressTo(&buf, "backtest", 4, 100, func() time.Time { return clock })
	clock = clock.Add(time.Second)
	p.metricDone()
	if line := buf.String(); strings.Contains(line, "left") {
		t.Fatalf("a time left after a second: %q", line)
	}
	p.done = 0
	clock = clock.Add(29 * time.Second)
	p.evaluated(25)
	p.metricDone()
	line := buf.String()
	last := line[strings.LastIndex(line, "\r")+1:]
	if want := "backtest: 1/4 Metrics, 25/100 evaluations, about 1m30s left"; strings.TrimRight(last, " ") != want {
		t.Fatalf("line %q, want %q", last, want)
	}
	// Redraws are throttled between forced ones.
	before := buf.Len()
	p.evaluated(1)
	if buf.Len() != before {
		t.Fatalf("redrew within %s: %q", p.every, buf.String()[before:])
	}
	p.finish()
	end := buf.String()[before:]
	if !strings.HasPrefix(end, "\r") || !strings.HasSuffix(end, "\r") || strings.TrimSpace(end) != "" {
		t.Fatalf("finish wrote %q, want the line blanked", end)
	}
}

// forEach calls f once for every index, on up to GOMAXPROCS goroutines.
func TestForEachRunsEveryIndexOnce(t *testing.T) {
	const n = 57
	var calls [n]atomic.Int32
	var running, most atomic.Int32
	forEach(n, func(i int) {
		r := running.Add(1)
		for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
		}
		time.Sleep(time.Millisecond)
		calls[i].Add(1)
		running.Add(-1)
	})
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("index %d called %d times", i, c)
		}
	}
	if m := most.Load(); int(m) > runtime.GOMAXPROCS(0) {
		t.Fatalf("%d at once, GOMAXPROCS is %d", m, runtime.GOMAXPROCS(0))
	}
}
