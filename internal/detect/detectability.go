package detect

import (
	"fmt"
	"math"
	"time"
)

// detectionQuantileZ is the normal quantile of the 80 % detection
// probability the status reports.
const detectionQuantileZ = 0.8416

// passage returns the mean and standard deviation, in units, of the time
// the statistic takes to climb from zero over the threshold under a shift.
func (c Config) passage(shift float64) (mean, sd float64, ok bool) {
	mu := shift/c.Sigma - c.K()
	if mu <= 0 {
		return 0, 0, false
	}
	b := c.Threshold + siegmundCorrection
	return b / mu, math.Sqrt(b / (mu * mu * mu)), true
}

// ExpectedDelay is the expected time to detect a shift at unitsPerDay
// units a day in the segment; ok is false when the shift is too small to
// be detected at all.
func (c Config) ExpectedDelay(shift, unitsPerDay float64) (time.Duration, bool) {
	mean, _, ok := c.passage(shift)
	if !ok || !(unitsPerDay > 0) {
		return 0, false
	}
	return time.Duration(mean / unitsPerDay * float64(24*time.Hour)), true
}

// DetectableShift is the smallest shift found within horizon with 80 %
// probability at unitsPerDay units a day; ok is false when no shift up to
// maxShift is.
func (c Config) DetectableShift(unitsPerDay float64, horizon time.Duration, maxShift float64) (float64, bool) {
	budget := unitsPerDay * horizon.Hours() / 24
	within := func(shift float64) bool {
		mean, sd, ok := c.passage(shift)
		return ok && mean+detectionQuantileZ*sd <= budget
	}
	if !(budget > 0) || !within(maxShift) {
		return 0, false
	}
	lo, hi := c.Shift/2, maxShift
	for i := 0; i < 60; i++ {
		mid := (lo + hi) / 2
		if within(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}

// DefaultHorizon is the time within which status says what is detectable.
const DefaultHorizon = 14 * 24 * time.Hour

// Detectability is what status says about a segment's volume: the smallest
// shift found within Horizon with 80 % probability and the expected delay
// for δ itself.
type Detectability struct {
	UnitsPerMonth float64       `json:"unitsPerMonth"`
	Horizon       time.Duration `json:"horizon"`
	// Shift is the smallest shift found within Horizon with 80 %
	// probability; zero with Detectable false when none up to the largest
	// shift looked at is.
	Shift      float64 `json:"shift,omitempty"`
	Detectable bool    `json:"detectable"`
	// DelayForDelta is the expected time to detect a shift of δ.
	DelayForDelta time.Duration `json:"delayForDelta"`
	Message       string        `json:"message"`
}

// Describe summarises detectability at unitsPerMonth units a month in one
// segment, looking at shifts up to maxShift (for example 100 NPS points).
func (c Config) Describe(unitsPerMonth float64, horizon time.Duration, maxShift float64) Detectability {
	if horizon <= 0 {
		horizon = DefaultHorizon
	}
	d := Detectability{UnitsPerMonth: unitsPerMonth, Horizon: horizon}
	perDay := unitsPerMonth / 30
	d.Shift, d.Detectable = c.DetectableShift(perDay, horizon, maxShift)
	delay, ok := c.ExpectedDelay(c.Shift, perDay)
	if ok {
		d.DelayForDelta = delay
	}
	days := horizon.Hours() / 24
	switch {
	case !ok:
		d.Message = fmt.Sprintf("at %.0f units a month a shift of %g is not detectable", unitsPerMonth, c.Shift)
	default:
		d.Message = fmt.Sprintf("at %.0f units a month a shift of %g takes about %s to detect", unitsPerMonth, c.Shift, humanDuration(delay))
	}
	if d.Detectable {
		d.Message += fmt.Sprintf("; within %.0f days a shift of %.1f is found 80 %% of the time", days, d.Shift)
	} else {
		d.Message += fmt.Sprintf("; no shift up to %g is found within %.0f days 80 %% of the time: pool segments or widen δ", maxShift, days)
	}
	return d
}

// humanDuration rounds a delay to days, weeks or months as people say it.
func humanDuration(d time.Duration) string {
	days := d.Hours() / 24
	switch {
	case days < 2:
		return fmt.Sprintf("%.0f hours", d.Hours())
	case days < 21:
		return fmt.Sprintf("%.0f days", days)
	case days < 75:
		return fmt.Sprintf("%.0f weeks", days/7)
	default:
		return fmt.Sprintf("%.0f months", days/30)
	}
}
