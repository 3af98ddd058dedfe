package detect

import (
	"math"
	"time"
)

// Real CX data is not independent: days share a mood, accounts answer in
// campaigns, weights follow variance. All of it shows in one place, the
// batch means of successive intervals, which vary more, and for longer,
// than the per-unit variance σ²/n says. A Calibration measures that
// excess on the metric's own history, as the long-run variance D of the
// level beyond sampling noise, so that a batch of n units has, over the
// horizons the detector accumulates evidence on,
//
//	Var(x̄) ≈ σ²/n + D,
//
// and counts as n_eff = σ²/(σ²/n + D) units (Config.Effective). A common
// mood, which no amount of data averages away, then caps what one
// interval can add to the statistic, and the calibration spends the budget
// on effective units. D is the long-run variance (the sum of the mood's
// autocovariances over all lags), not the day-to-day one, because the
// CUSUM sums increments: with positively correlated moods, the variance of
// every partial sum is at most its long-run value, so the scaled
// statistic raises false alarms no faster than independent data would.

// CalibrationHistory is the history a calibration wants: a year.
const CalibrationHistory = 365 * 24 * time.Hour

// MinCalibrationHistory is the least history a calibration is trusted on:
// 180 days, or ten correlation times when the mood is slower.
const MinCalibrationHistory = 180 * 24 * time.Hour

// Prior mood, assumed without history: a level that wanders with a
// standard deviation of δ/4 (1.25 NPS points for δ = 5) and a correlation
// time of 7 days. While the history is shorter than MinCalibrationHistory
// the dispersion's error is at least the prior scaled by the share of the
// required history still missing, so the threshold is higher while
// calibrating and the prior fades as the history grows.
const (
	priorMoodShare = 1 / 4.0
	priorMoodTime  = 7 * 24 * time.Hour
)

// maxMoodCorrelation bounds the mood's estimated correlation from one
// interval to the next at a correlation time of 30 intervals: beyond it a
// year of daily history cannot tell a slow mood from a level that moved,
// and the kernel (five correlation times) would span half the history.
var maxMoodCorrelation = math.Exp(-1.0 / 30)

// IntervalBatch is one interval's data for a calibration.
type IntervalBatch struct {
	// Units are the effective units of the interval.
	Units float64
	// Mean is the mean contribution.
	Mean float64
	// Variance is the per-unit variance of the contributions within the
	// interval.
	Variance float64
}

// Calibration is a metric's measured dispersion.
type Calibration struct {
	// Sigma is the in-control standard deviation of one contribution,
	// pooled over the history within intervals; zero without history.
	Sigma float64
	// Dispersion is D, the long-run variance per interval of the level
	// beyond sampling noise, in the metric's units squared.
	Dispersion float64
	// DispersionError is the standard error of Dispersion: the threshold
	// averages the false-task rate over it (CalibrateSegments), so an
	// estimate from a short or noisy history raises the threshold.
	DispersionError float64
	// CorrelationTime is the mood's correlation time.
	CorrelationTime time.Duration
	// History is the span of history the estimate rests on.
	History time.Duration
	// Calibrating is true while the history is shorter than
	// MinCalibrationHistory or ten correlation times: Dispersion is then
	// at least the prior's.
	Calibrating bool
}

// PriorDispersion is the dispersion assumed without enough history, per
// interval, for a metric with minimum shift shift.
func PriorDispersion(shift float64, interval time.Duration) float64 {
	if interval <= 0 {
		interval = 24 * time.Hour
	}
	sd := priorMoodShare * shift
	rho := math.Exp(-float64(interval) / float64(priorMoodTime))
	return sd * sd * (1 + rho) / (1 - rho)
}

// CalibrateHistory estimates the dispersion from consecutive interval batches of
// the whole population (intervals without data left out), each interval
// long. The estimate is the flat-kernel long-run variance of the batch
// means' deviations, with the sampling variance removed at lag zero (it
// does not correlate across intervals) and corrected for the deviations
// being taken from the history's own mean, with its standard error; the
// kernel spans five correlation times, read from how the first ten
// autocovariances decay.
//
// seen is history that exists beyond the batches but is left out of the
// estimate (the metric's current window, lest a drop in it read as
// dispersion): it counts towards the history the calibration needs.
func CalibrateHistory(batches []IntervalBatch, interval time.Duration, shift float64, seen time.Duration) Calibration {
	var units, sum, within float64
	var kept []IntervalBatch
	for _, b := range batches {
		if b.Units >= 1 && !math.IsNaN(b.Mean) {
			kept = append(kept, b)
			units += b.Units
			sum += b.Units * b.Mean
			within += b.Units * math.Max(b.Variance, 0)
		}
	}
	cal := Calibration{History: time.Duration(len(kept)) * interval}
	prior := PriorDispersion(shift, interval)
	if len(kept) < 8 || units < 2 {
		cal.Dispersion, cal.DispersionError, cal.Calibrating, cal.CorrelationTime = prior, prior, true, priorMoodTime
		if units >= 2 {
			cal.Sigma = math.Sqrt(within / units)
		}
		return cal
	}
	sigma2 := within / units
	cal.Sigma = math.Sqrt(sigma2)
	mean := sum / units
	t := len(kept)
	tf := float64(t)
	dev := make([]float64, t)
	var noise float64
	for i, b := range kept {
		dev[i] = b.Mean - mean
		noise += sigma2 / b.Units
	}
	noise /= tf
	acov := func(k int) float64 {
		var s float64
		for i := 0; i+k < t; i++ {
			s += dev[i] * dev[i+k]
		}
		return s / tf
	}
	g0 := acov(0)
	// The mood's correlation, from how its autocovariances decay over the
	// first lags (sampling noise shows at lag zero only), read only when
	// their sum stands out of the noise: one lag alone rarely does.
	rho := 0.0
	lags := min(20, (t-1)/3)
	var lagSum, num, den float64
	for k := 1; k <= lags; k++ {
		g := acov(k)
		lagSum += g
		if k < lags {
			den += g
		}
		if k > 1 {
			num += g
		}
	}
	if g0 > 0 && lagSum > 2*math.Sqrt(float64(lags))*g0/math.Sqrt(tf) && num > 0 && den > 0 {
		rho = math.Min(num/den, maxMoodCorrelation)
	}
	tau := 1.0
	if rho > 0 {
		tau = math.Max(1, -1/math.Log(rho))
	}
	// Without a correlation that stands out, two lags catch day-to-day
	// excess variance at the least cost in noise; with one, five
	// correlation times (at least a week).
	maxLag := 2
	if rho > 0 {
		maxLag = max(7, int(math.Ceil(5*tau)))
	}
	if limit := (t - 1) / 3; maxLag > limit {
		maxLag = limit
	}
	lrv := g0 // the level's long-run variance, sampling noise included
	for k := 1; k <= maxLag; k++ {
		lrv += 2 * acov(k)
	}
	// Deviations from the history's own mean understate every
	// autocovariance by about the long-run variance over the span.
	span := float64(2*maxLag+1) / tf
	lrv = lrv / (1 - span)
	cal.DispersionError = math.Abs(lrv) * math.Sqrt(2*float64(2*maxLag+1)/tf)
	cal.Dispersion = math.Max(0, lrv-noise)
	cal.CorrelationTime = time.Duration(tau * float64(interval))
	need := MinCalibrationHistory
	if ten := 10 * cal.CorrelationTime; ten > need {
		need = ten
	}
	if have := cal.History + seen; have < need {
		// The estimate's error, larger the shorter the history, already
		// raises the threshold; the prior bounds that error from below
		// for the share of the required history still missing.
		cal.Calibrating = true
		missing := 1 - float64(have)/float64(need)
		cal.DispersionError = math.Max(cal.DispersionError, prior*missing)
	}
	return cal
}

// Effective is how many independent units a batch of n units counts for
// under dispersion D: σ²/(σ²/n + D).
func Effective(n, sigma, dispersion float64) float64 {
	if !(n > 0) {
		return 0
	}
	if !(dispersion > 0) || !(sigma > 0) {
		return n
	}
	return 1 / (1/n + dispersion/(sigma*sigma))
}

// varianceRatios is KeyVolume.Variance for intervals of n units: at each
// node z of the dispersion's error the true dispersion is D + z·se (never
// negative), and an interval's mean varies (σ²/n + D + z·se)/(σ²/n + D)
// times as much as the detector assumes. Nil for a known dispersion.
func (c *Calibration) varianceRatios(n, sigma float64) []float64 {
	if c == nil {
		return nil
	}
	d, se := c.Dispersion, c.DispersionError
	if !(se > 0) || !(n > 0) || !(sigma > 0) {
		return nil
	}
	assumed := sigma*sigma/n + d
	out := make([]float64, len(hermiteNodes))
	for i, z := range hermiteNodes {
		out[i] = (sigma*sigma/n + math.Max(0, d+z*se)) / assumed
	}
	return out
}
