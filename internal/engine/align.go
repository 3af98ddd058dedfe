package engine

import "time"

// alignOrigin is a Monday at midnight: intervals count from it, so a 24h
// interval starts at midnight and a 168h one on Monday, in the metric's
// time zone.
var alignOrigin = time.Date(2001, time.January, 1, 0, 0, 0, 0, time.UTC)

// Align returns the latest interval boundary at or before t in loc (UTC
// when nil). Boundaries are multiples of interval from a Monday midnight,
// counted in local wall-clock time, so a daily interval starts at local
// midnight on both sides of a daylight-saving change. It is the one
// alignment the operator, plan, backtest and verification use.
func Align(t time.Time, interval time.Duration, loc *time.Location) time.Time {
	if interval <= 0 {
		return t
	}
	w := wall(t, loc)
	d := w.Sub(alignOrigin)
	n := d / interval
	if d%interval < 0 {
		n--
	}
	out := unwall(alignOrigin.Add(n*interval), loc)
	if out.After(t) {
		// A wall time skipped by a daylight-saving change maps forward;
		// the boundary is never after t.
		return Align(AddWall(out, -interval, loc), interval, loc)
	}
	return out
}

// WindowEnd is the end of the latest evaluation that may run at now: the
// boundary at or before now − settle, where settle is late data's grace.
func WindowEnd(now time.Time, interval, settle time.Duration, loc *time.Location) time.Time {
	return Align(now.Add(-settle), interval, loc)
}

// NextBoundary is the first boundary after t.
func NextBoundary(t time.Time, interval time.Duration, loc *time.Location) time.Time {
	return AddWall(Align(t, interval, loc), interval, loc)
}

// AddWall adds d to t in wall-clock time of loc: a day later is the same
// local time the next day, whatever daylight saving does in between.
func AddWall(t time.Time, d time.Duration, loc *time.Location) time.Time {
	return unwall(wall(t, loc).Add(d), loc)
}

func wall(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), lt.Nanosecond(), time.UTC)
}

func unwall(w time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
}
