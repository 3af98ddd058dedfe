package detect

import (
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
