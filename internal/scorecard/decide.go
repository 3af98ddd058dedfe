package scorecard

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/engine"
)

// Policy is how a scorecard decides on tasks. A score has no per-response
// units (it is a weighted mean of other metrics' estimates), so, like a
// Metric without per-unit contributions, it is judged on non-overlapping
// windows: each window of length Window, aligned like every evaluation,
// is scored once when it closes, and an account is in an episode while
// its closed windows breach Target − Shift/2 at the level that keeps
// Budget false tasks a month across the accounts judged.
type Policy struct {
	// Target is the objective on the 0–100 score and Shift the smallest
	// drop worth a task, in score points.
	Target, Shift float64
	// Budget is false tasks a month for the whole scorecard, on accounts
	// that sit at the target.
	Budget float64
	// Window is the length of a judged window; Location aligns it.
	Window   time.Duration
	Location *time.Location
}

// Episode is an account whose closed windows breach.
type Episode struct {
	Account string
	// Start is the start of the first breaching window.
	Start time.Time
	// Score is the latest breaching window's score, StdErr its standard
	// error with the window's spread, and Samples the samples behind it.
	Score, StdErr float64
	Samples       int64
}

// Detector is what a scorecard's decisions carry from window to window.
type Detector struct {
	// FedUntil is the end of the latest window judged.
	FedUntil time.Time
	// Episodes are the open episodes, by account.
	Episodes []Episode
	// Medians are the median account scores of past closed windows,
	// oldest first, at most MaxMedians: how far a window's scores move
	// together (a common mood) is read from them. A median moves with a
	// mood that moves every account, not with the few accounts that drop.
	Medians []float64
}

// MaxMedians is how many closed windows' medians a detector keeps.
const MaxMedians = 12

// minMedians is how many past medians it takes to estimate their spread.
const minMedians = 2

// Closed is the latest window closed at now: [from, to).
func (p Policy) Closed(now time.Time) (from, to time.Time) {
	to = engine.Align(now, p.Window, p.Location)
	return engine.AddWall(to, -p.Window, p.Location), to
}

// Due reports whether the window ending at to is yet to be judged.
func (d Detector) Due(to time.Time) bool { return to.After(d.FedUntil) }

// Episode is the account's open episode, if any.
func (d Detector) Episode(account string) (Episode, bool) {
	i, ok := slices.BinarySearchFunc(d.Episodes, account, func(e Episode, k string) int { return strings.Compare(e.Account, k) })
	if !ok {
		return Episode{}, false
	}
	return d.Episodes[i], true
}

// Spread is the standard deviation of the past windows' medians: how far
// a whole window's scores move together. While fewer than two are known
// it is half the shift, so the first windows are never judged as if the
// accounts moved independently.
func (d Detector) Spread(shift float64) float64 {
	v := d.Medians
	if len(v) < minMedians {
		return shift / 2
	}
	var mean, ss float64
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(v)-1))
}

// Judge judges one closed window [from, to) whose scores are res, and
// returns the detector after it. An account is tested on its score's
// standard error and the window's common spread together,
// √(se² + Spread²): a mood that lowers every account at once is not a
// drop in each. Accounts whose coverage is too low, and accounts with no
// data, are not judged: missing data never opens or ends an episode.
func (p Policy) Judge(det Detector, res Result, from, to time.Time) (Detector, error) {
	judged := 0
	for _, a := range res.Accounts {
		if !a.unjudged {
			judged++
		}
	}
	level, err := detect.TumblingLevel(p.Budget, p.Window, max(1, judged))
	if err != nil {
		return det, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	spread := det.Spread(p.Shift)
	next := Detector{FedUntil: to, Medians: appendMedian(det.Medians, res)}
	kept := map[string]Episode{}
	for _, e := range det.Episodes {
		kept[e.Account] = e
	}
	for _, a := range res.Accounts {
		if a.unjudged {
			continue
		}
		se := math.Hypot(a.StdErr, spread)
		breach := detect.TumblingBreach(detect.AtLeast, a.Score, se, p.Target, p.Shift, level)
		cur, open := kept[a.Key]
		switch {
		case breach && !open:
			kept[a.Key] = Episode{Account: a.Key, Start: from, Score: engine.Round(a.Score), StdErr: engine.Round(se), Samples: a.Samples}
		case breach:
			cur.Score, cur.StdErr, cur.Samples = engine.Round(a.Score), engine.Round(se), a.Samples
			kept[a.Key] = cur
		case open:
			delete(kept, a.Key)
		}
	}
	for _, e := range kept {
		next.Episodes = append(next.Episodes, e)
	}
	slices.SortFunc(next.Episodes, func(x, y Episode) int { return strings.Compare(x.Account, y.Account) })
	return next, nil
}

// appendMedian keeps the window's median account score among the last
// MaxMedians. A window without accounts breaks the series and starts it
// afresh, so the medians are always those of consecutive windows ending
// at the latest judged: a driver's history lines up with them window by
// window (MedianWindows).
func appendMedian(medians []float64, res Result) []float64 {
	if len(res.Accounts) == 0 || math.IsNaN(res.Quantiles[2]) {
		return nil
	}
	out := slices.Clone(medians)
	out = append(out, engine.Round(res.Quantiles[2]))
	if n := len(out); n > MaxMedians {
		out = out[n-MaxMedians:]
	}
	return out
}

// MedianWindows are the bounds of the windows d.Medians were taken on,
// oldest first: one more bound than medians, the last d.FedUntil.
func (p Policy) MedianWindows(d Detector) []time.Time {
	bounds := make([]time.Time, len(d.Medians)+1)
	t := d.FedUntil
	for i := len(d.Medians); i >= 0; i-- {
		bounds[i] = t
		t = engine.AddWall(t, -p.Window, p.Location)
	}
	return bounds
}

// Decide is one scoring's decision at now: when the latest closed window
// is due it is scored, every member read over it, and judged, the first
// one after calibrating on the windows before it; judged says whether a
// window was. The operator, plan and a replay all decide through it.
func (p Policy) Decide(ctx context.Context, members []MemberSource, in Input, det Detector, now time.Time) (next Detector, judged bool, err error) {
	from, to := p.Closed(now)
	if !det.Due(to) {
		return det, false, nil
	}
	if det.FedUntil.IsZero() && len(det.Medians) == 0 {
		if det.Medians, err = p.Calibrate(ctx, members, in, from); err != nil {
			return det, false, err
		}
	}
	res, err := ScoreBetween(ctx, members, in, from, to)
	if err != nil {
		return det, false, err
	}
	next, err = p.Judge(det, res, from, to)
	return next, err == nil, err
}

// Calibrate reads the medians of up to MaxMedians closed windows before
// from, oldest first, for a detector that has none yet.
func (p Policy) Calibrate(ctx context.Context, members []MemberSource, in Input, from time.Time) ([]float64, error) {
	var medians []float64
	for i := MaxMedians; i >= 1; i-- {
		start := engine.AddWall(from, -time.Duration(i)*p.Window, p.Location)
		res, err := ScoreBetween(ctx, members, in, start, engine.AddWall(start, p.Window, p.Location))
		if err != nil {
			return nil, err
		}
		medians = appendMedian(medians, res)
	}
	return medians, nil
}
