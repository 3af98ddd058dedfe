package detect

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// Batch is one interval of new data: contributions per segment key, the
// whole population under "".
type Batch struct {
	From, To time.Time
	Segments map[string]measure.Contribution
}

// Opened is an episode that opened with a batch.
type Opened struct {
	Segment string       `json:"segment"`
	Start   time.Time    `json:"start"`
	State   SegmentState `json:"state"`
}

// Feed steps every segment of the batch once and returns the new state
// (segments without evidence removed) and the episodes that opened, sorted
// by segment. Segments without data in the batch keep their state.
func (c Config) Feed(st State, b Batch) (State, []Opened) {
	next := make(State, len(st))
	for k, v := range st {
		next[k] = v
	}
	keys := make([]string, 0, len(b.Segments))
	for k := range b.Segments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var opened []Opened
	for _, seg := range keys {
		s, isNew := c.Step(next[seg], b.Segments[seg], b.From, b.To)
		if s.Zero() {
			delete(next, seg)
		} else {
			next[seg] = s
		}
		if isNew {
			opened = append(opened, Opened{Segment: seg, Start: s.EpisodeStart, State: s})
		}
	}
	return next, opened
}

// Setup is what a metric's detector is made from.
type Setup struct {
	Direction Direction
	Reference float64
	// Shift is δ; zero takes the formula's default.
	Shift   float64
	Formula string
	// Budget is false tasks per month for the whole metric; zero takes
	// DefaultBudget.
	Budget float64
	// Window holds the contributions of the latest window: the whole
	// population under "" and each segment under its key.
	Window map[string]measure.Contribution
	// WindowLength is the window's duration.
	WindowLength time.Duration
	// Interval is the time between evaluations: each feeds one batch.
	Interval time.Duration
	// BaselineUnits is the effective size of a relative objective's frozen
	// baseline (zero for a fixed target): its uncertainty raises the
	// threshold (CalibrateWithBaseline).
	BaselineUnits float64
}

// Configure estimates σ from the window (pooled over the whole
// population; TargetSigma when the whole population has fewer than two
// effective units), the metric's monthly volume across its segments and the
// whole population, and calibrates the threshold to the budget.
func Configure(s Setup) (Config, float64, error) {
	if s.Shift <= 0 {
		s.Shift = DefaultShift(s.Formula)
	}
	if s.Budget <= 0 {
		s.Budget = DefaultBudget
	}
	overall := s.Window[""]
	sigma := math.Sqrt(overall.Variance())
	if overall.Units.EffectiveN() < 2 {
		// No history to estimate from: the formula's variance at the target.
		if ts, err := TargetSigma(s.Formula, s.Reference); err == nil {
			sigma = ts
		}
	}
	if floor := s.Shift / 4; !(sigma > floor) {
		sigma = floor
	}
	var units float64
	for _, c := range s.Window {
		units += c.Units.EffectiveN()
	}
	days := s.WindowLength.Hours() / 24
	if days <= 0 {
		return Config{}, 0, fmt.Errorf("detector: window %s", s.WindowLength)
	}
	perMonth := units / days * 30
	c := Config{Direction: s.Direction, Reference: s.Reference, Shift: s.Shift, Sigma: sigma}
	batch := 1.0
	if s.Interval > 0 && len(s.Window) > 0 {
		batch = units / float64(len(s.Window)) * s.Interval.Hours() / s.WindowLength.Hours()
	}
	h, err := CalibrateWithBaseline(c.K(), perMonth, s.Budget, batch, s.BaselineUnits)
	if err != nil {
		return c, perMonth, err
	}
	c.Threshold = h
	return c, perMonth, c.Validate()
}
