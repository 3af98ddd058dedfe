package detect

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// Direction says which side of the reference is good.
type Direction string

// The directions.
const (
	AtLeast Direction = "AtLeast"
	AtMost  Direction = "AtMost"
)

// DefaultBudget is the default false-task budget: one per 100 metric-months.
const DefaultBudget = 0.01

// calibrationMargin is the share of the budget the calibration aims at.
// With skewed per-unit contributions priced by their Cramér exponent
// (cramer.go) the skew no longer needs it, but the approximation still
// misses the overshoot of lattice steps in small batches, and an effort
// score's shape is inferred from two moments: on independent data
// bench/simulate measures the realised false-task rate at 0.45 to 1.2
// times its aim, 0.75 pooled over shares, NPS, effort scores and rates,
// so aiming at 80 % keeps the worst of them within the budget.
const calibrationMargin = 0.8

// siegmundCorrection is the overshoot correction of Siegmund's
// approximation for a normal random walk.
const siegmundCorrection = 1.166

// DefaultShift is the smallest shift worth a task per formula, in the
// metric's units, for a metric judged against reference: NPS and shares
// (CSAT, rates, shares over a threshold) 5 points, effort scores 0.3;
// formulas on units of their own (means, sums, counts, ratios such as NRR,
// gauges) 5 % of the reference, so a ratio near 1 is not held to a shift
// of 5, and 1 for a reference of zero.
func DefaultShift(formula string, reference float64) float64 {
	switch formula {
	case measure.FormulaNPS, measure.FormulaCSAT, measure.FormulaRate, measure.FormulaPercentile:
		return 5
	case measure.FormulaCES:
		return 0.3
	}
	if r := math.Abs(reference); r > 0 {
		return 0.05 * r
	}
	return 1
}

// Config is a metric's detector, shared by all its segments.
type Config struct {
	Direction Direction
	// Reference is the in-control value: the target, or a frozen baseline.
	Reference float64
	// Shift is δ, the smallest change worth a task.
	Shift float64
	// Sigma is the in-control standard deviation of one contribution.
	Sigma float64
	// Threshold is h, in standard units.
	Threshold float64
	// Dispersion is D, the level's long-run variance per interval beyond
	// sampling noise (Calibration): a batch of n units steps the statistic
	// as Effective(n, σ, D) units. Zero for independent units.
	Dispersion float64
	// MinSamples is the fewest units since the statistic left zero that
	// may open an episode.
	MinSamples float64
}

// K is the CUSUM's reference value in standard units, δ/(2σ).
func (c Config) K() float64 { return c.Shift / (2 * c.Sigma) }

// Validate reports a configuration that cannot detect anything.
func (c Config) Validate() error {
	switch {
	case c.Direction != AtLeast && c.Direction != AtMost:
		return fmt.Errorf("detector: direction %q", c.Direction)
	case !(c.Shift > 0), !(c.Sigma > 0), !(c.Threshold > 0):
		return fmt.Errorf("detector: shift %v, sigma %v and threshold %v must be positive", c.Shift, c.Sigma, c.Threshold)
	}
	return nil
}

// ARL0 is the approximate in-control average run length, in units, of a
// CUSUM with reference k and threshold h checked after every unit
// (Siegmund).
func ARL0(k, h float64) float64 { return ARL0Batched(k, h, 1) }

// ARL0Batched is ARL0 for a CUSUM checked after batches of about batch
// units: the statistic overshoots the threshold by about 0.583 standard
// deviations of one step, so the correction grows with the batch's square
// root.
func ARL0Batched(k, h, batch float64) float64 {
	x := 2 * k * (h + siegmundCorrection*math.Sqrt(math.Max(batch, 1)))
	return (math.Exp(x) - x - 1) / (2 * k * k)
}

// ErrNoVolume reports a calibration without data to calibrate for.
var ErrNoVolume = errors.New("no units to calibrate the detector for")

// Calibrate returns the threshold h for which the metric opens at most
// budget false tasks a month, when its segments together (the whole
// population counted as one of them) receive unitsPerMonth units a month,
// checked after every unit.
func Calibrate(k, unitsPerMonth, budget float64) (float64, error) {
	return CalibrateBatched(k, unitsPerMonth, budget, 1)
}

// CalibrateBatched is Calibrate for a detector fed batches of about batch
// units per segment and evaluation.
func CalibrateBatched(k, unitsPerMonth, budget, batch float64) (float64, error) {
	if !(unitsPerMonth > 0) {
		return 0, ErrNoVolume
	}
	if !(k > 0) || !(budget > 0) {
		return 0, fmt.Errorf("calibrate: reference %v and budget %v must be positive", k, budget)
	}
	want := unitsPerMonth / (budget * calibrationMargin)
	lo, hi := 0.0, 1.0
	for ARL0Batched(k, hi, batch) < want {
		hi *= 2
		if hi > 1e9 {
			return 0, fmt.Errorf("calibrate: no threshold reaches an in-control run of %g units", want)
		}
	}
	for i := 0; i < 100 && hi-lo > 1e-9*hi; i++ {
		mid := (lo + hi) / 2
		if ARL0Batched(k, mid, batch) < want {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// SegmentState is one segment's detector state. The zero value is a
// segment without evidence, which needs no storing.
type SegmentState struct {
	// Statistic is S, in standard units.
	Statistic float64 `json:"statistic"`
	// Since is when S last left zero; zero while S is zero.
	Since time.Time `json:"since,omitzero"`
	// Samples are the effective units fed since S last left zero.
	Samples float64 `json:"samples,omitempty"`
	// EpisodeStart is set while an episode is open.
	EpisodeStart time.Time `json:"episodeStart,omitzero"`
	// Recovery is a CUSUM towards the reference, run while an episode is
	// open: it drifts up once the metric is back and stays near zero while
	// the change persists.
	Recovery float64 `json:"recovery,omitempty"`
	// RecoverySince is when Recovery last left zero, the detector's
	// estimate of when the metric came back. Recovery without action is
	// judged on data newer than it.
	RecoverySince time.Time `json:"recoverySince,omitzero"`
}

// Zero reports whether the state carries no evidence.
func (s SegmentState) Zero() bool { return s == SegmentState{} }

// Open reports whether an episode is open.
func (s SegmentState) Open() bool { return !s.EpisodeStart.IsZero() }

// Step feeds one batch of new contributions, observed over [from, to), and
// returns the new state and whether an episode opened
// with this batch. An empty batch changes nothing.
func (c Config) Step(s SegmentState, batch measure.Contribution, from, to time.Time) (SegmentState, bool) {
	units := batch.Units.EffectiveN()
	if units <= 0 {
		return s, false
	}
	n := Effective(units, c.Sigma, c.Dispersion)
	diff := c.Reference - batch.Mean()
	if c.Direction == AtMost {
		diff = -diff
	}
	next := s.Statistic + n*(diff/c.Sigma-c.K())
	if next <= 0 {
		// A closed episode, or quiet data: no evidence left.
		return SegmentState{}, false
	}
	if s.Statistic <= 0 {
		s.Since, s.Samples = from, 0
	}
	s.Samples += units
	if s.Open() {
		// Centred between the reference and the bad level: drift +k per
		// unit once recovered, −k while the change persists.
		r := s.Recovery + n*(-diff/c.Sigma+c.K())
		switch {
		case r <= 0:
			s.Recovery, s.RecoverySince = 0, time.Time{}
		case s.Recovery <= 0:
			s.Recovery, s.RecoverySince = r, from
		default:
			s.Recovery = r
		}
	}
	opened := false
	if next >= c.Threshold && (s.Open() || s.Samples >= c.MinSamples) {
		if !s.Open() {
			s.EpisodeStart, opened = s.Since, true
		}
		next = c.Threshold
	}
	s.Statistic = next
	return s, opened
}

// State is a metric's detector state: every segment with evidence, and
// only those.
type State map[string]SegmentState
