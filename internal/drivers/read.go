package drivers

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/scorecard"
	"github.com/cxloop/cxloop/internal/source"
)

// HistoryIntervals is how many of the outcome's intervals the lagged
// correlation looks back over.
const HistoryIntervals = 180

// Side is the outcome or one driver, ready to read.
type Side struct {
	Name   string
	Metric engine.Metric
	Source source.Source
	// KeyColumn holds the key the sides are paired on.
	KeyColumn string
}

// Reading is one side measured: per key over its latest window, and per
// interval of the outcome over the history (NaN where insufficient).
type Reading struct {
	PerKey map[string]float64
	// Overall is the whole population's value over the same window, nil
	// with too few units.
	Overall *float64
	History []float64
}

// minKeySamples is the fewest units a key needs to count.
const minKeySamples = 5

// Read measures a side per key (and over its whole population) over its
// latest window ending at windowEnd, and its population per interval of
// grid (the outcome's
// HistoryIntervals intervals before windowEnd).
func Read(ctx context.Context, s Side, windowEnd time.Time, grid []time.Time, confidence float64) (Reading, error) {
	readings, overall, err := scorecard.ReadWithOverall(ctx, s.Source, s.Metric, s.KeyColumn, minKeySamples, confidence, s.Metric.WindowEnd(windowEnd))
	if err != nil {
		return Reading{}, fmt.Errorf("%s: %w", s.Name, err)
	}
	out := Reading{PerKey: make(map[string]float64, len(readings)), Overall: overall}
	for _, r := range readings {
		out.PerKey[r.Key] = r.Value
	}
	q := s.Metric.Query
	q.Segments = nil
	results, err := source.History(ctx, s.Source, s.Metric.Definition, q, grid)
	if err != nil {
		return Reading{}, fmt.Errorf("%s: %w: %v", s.Name, engine.ErrSourceUnavailable, err)
	}
	out.History = make([]float64, len(results))
	for i, res := range results {
		out.History[i] = math.NaN()
		if res == nil {
			continue
		}
		if e, err := measure.Compute(s.Metric.Definition, res.Overall, confidence, minKeySamples); err == nil && e.Sufficient {
			out.History[i] = e.Value
		}
	}
	return out, nil
}

// Grid is the outcome's interval bounds over the history before windowEnd.
func Grid(outcome engine.Metric, windowEnd time.Time) []time.Time {
	grid := make([]time.Time, HistoryIntervals+1)
	t := windowEnd
	for i := HistoryIntervals; i >= 0; i-- {
		grid[i] = t
		t = engine.AddWall(t, -outcome.Interval, outcome.Location)
	}
	return grid
}

// Analyse measures every driver's association with the outcome, ranked.
func Analyse(outcome Reading, drivers map[string]Reading, maxLag int, confidence float64) []Association {
	var out []Association
	for name, d := range drivers {
		a, _ := Associate(name, outcome.PerKey, d.PerKey, confidence)
		a.Lag, a.LagCorrelation, a.LagIntervals = Lagged(outcome.History, d.History, maxLag)
		out = append(out, a)
	}
	Rank(out)
	return out
}
