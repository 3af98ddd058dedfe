// Package clock is the one source of time for evaluation, windows and
// verification, so a live run, a fast demo and a backtest over the same
// history see the same windows. It must not import Kubernetes packages.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns the wall-clock time.
func (Real) Now() time.Time { return time.Now() }

// Fast runs from origin at rate times the wall clock's speed: with rate
// 3600 an hour of data time passes every second. The demo uses it to show
// weeks of a closed loop in minutes.
type Fast struct {
	origin time.Time
	start  time.Time
	rate   float64
	wall   func() time.Time
}

// NewFast returns a clock that reads origin now and advances rate times
// faster than the wall clock.
func NewFast(origin time.Time, rate float64) *Fast {
	return &Fast{origin: origin, start: time.Now(), rate: rate, wall: time.Now}
}

// Now returns the fast clock's time.
func (f *Fast) Now() time.Time {
	elapsed := f.wall().Sub(f.start)
	return f.origin.Add(time.Duration(float64(elapsed) * f.rate))
}

// WallDuration converts a span of this clock's time into wall-clock time,
// for requeue delays.
func (f *Fast) WallDuration(d time.Duration) time.Duration {
	return time.Duration(float64(d) / f.rate)
}

// Manual is a clock tests and backtests move by hand.
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

// NewManual returns a clock standing at now.
func NewManual(now time.Time) *Manual { return &Manual{now: now} }

// Now returns the clock's time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Set moves the clock to t.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = t
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
}

// Scaler converts spans of clock time into wall-clock time; clocks that
// run at the wall clock's speed need not implement it.
type Scaler interface {
	WallDuration(time.Duration) time.Duration
}

// WallDuration converts d of c's time into wall-clock time.
func WallDuration(c Clock, d time.Duration) time.Duration {
	if s, ok := c.(Scaler); ok {
		return s.WallDuration(d)
	}
	return d
}
