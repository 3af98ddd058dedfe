package simulate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/source"
)

// SegmentDrop is a drop planted on a fixed day in a few segments of a
// segmented metric, after a fixed history, as bench/scale plants one in
// its Metric of many accounts: what the operator would decide on such
// data, drawn again and again.
type SegmentDrop struct {
	// Metric is the operator's metric, as translated from its spec; its
	// query is replaced by the simulated data's, segmented by
	// SegmentColumn.
	Metric engine.Metric
	// History is the days of data before the first evaluation, which has
	// the calibration's history before its window.
	History int
	// Quiet are days on which nobody answers.
	Quiet []int
	// Change is the drop: its day, size, the segments it hits (Segments,
	// the first ones) and their volume while it lasts.
	Change Change
	// Horizon is the days evaluated after the drop's first day.
	Horizon int
}

// NPSShares are the detractor, passive and promoter shares the
// simulation draws at NPS level mu from the reference mix (prom, det),
// for a warehouse that plants the same answers.
func NPSShares(mu, prom, det float64) [3]float64 { return npsShares(mu, prom, det) }

// SegmentDropTrial is one draw of a segment drop.
type SegmentDropTrial struct {
	// Delays are the changed segments' days from the drop's first day to
	// the end of the interval whose evaluation opened the segment's first
	// task after it, +Inf when none did within the horizon.
	Delays []float64
	// Threshold is the detector's at the horizon's end, and Dispersion
	// its calibration's measured dispersion per interval.
	Threshold, Dispersion float64
}

// SegmentDropTrials draws the case's data with the drop trials times,
// each from its own seed, and replays each through the operator's path
// (engine.Replay) from the first evaluation to the horizon.
func SegmentDropTrials(c Case, d SegmentDrop, trials int, seed uint64) ([]SegmentDropTrial, error) {
	if c.segments() < 2 || d.Change.Segments <= 0 || d.Change.Segments > c.segments() || d.Change.Day < d.History {
		return nil, fmt.Errorf("a segment drop hits 1 to %d of a segmented metric's segments, on a day after the %d days of history",
			c.segments(), d.History)
	}
	m := d.Metric
	m.Query = source.Query{Table: "answers", Value: "score", Time: "at", Segments: []string{SegmentColumn}}
	days := d.Change.Day + d.Horizon
	quiet := map[int]bool{}
	for _, q := range d.Quiet {
		quiet[q] = true
	}
	type out struct {
		trial SegmentDropTrial
		err   error
	}
	outs := Parallel(trials, func(i int) out {
		s := rand.New(rand.NewPCG(seed, uint64(i))).Uint64()
		w := newWorld(c, s, days)
		w.quiet = quiet
		series := w.draw(s, d.Change)
		first := Start.Add(time.Duration(d.History) * day)
		to := Start.Add(time.Duration(days) * day)
		res, err := engine.Replay(context.Background(), series, m, first.Add(-m.Interval), to, engine.ReplayOptions{})
		if err != nil {
			return out{err: fmt.Errorf("replay %s, trial %d: %w", c.Name, i, err)}
		}
		at := Start.Add(time.Duration(d.Change.Day) * day)
		opened := map[string]float64{}
		for _, ev := range res.Events {
			if ev.Event != engine.EventTaskOpened || ev.At.Before(at) {
				continue
			}
			if _, ok := opened[ev.Segment]; !ok {
				opened[ev.Segment] = ev.At.Sub(at).Hours() / 24
			}
		}
		t := SegmentDropTrial{Delays: make([]float64, d.Change.Segments)}
		for seg := range t.Delays {
			t.Delays[seg] = math.Inf(1)
			if at, ok := opened[series.keys[seg]]; ok {
				t.Delays[seg] = at
			}
		}
		if det := res.Last.Detector; det != nil {
			t.Threshold = det.Threshold
			if det.Calibration != nil {
				t.Dispersion = det.Calibration.Dispersion
			}
		}
		return out{trial: t}
	})
	all := make([]SegmentDropTrial, 0, trials)
	for _, o := range outs {
		if o.err != nil {
			return nil, o.err
		}
		all = append(all, o.trial)
	}
	return all, nil
}
