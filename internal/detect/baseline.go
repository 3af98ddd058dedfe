package detect

import (
	"fmt"
	"math"
)

// hermiteNodes and hermiteWeights are the 10-point Gauss–Hermite rule for
// an expectation over a standard normal (probabilists' form, weights
// summing to one).
var (
	hermiteNodes = [...]float64{
		-4.859462828332312, -3.581823483551927, -2.484325841638955, -1.465989094391158, -0.4849357075154977,
		0.4849357075154977, 1.465989094391158, 2.484325841638955, 3.581823483551927, 4.859462828332312,
	}
	hermiteWeights = [...]float64{
		4.310652630718287e-06, 7.580709343122177e-04, 1.911158050077029e-02, 1.354837029802677e-01, 3.446423349320191e-01,
		3.446423349320191e-01, 1.354837029802677e-01, 1.911158050077029e-02, 7.580709343122177e-04, 4.310652630718287e-06,
	}
)

// arl0Any is ARL0Batched for any drift, including none or an upward one
// (a reference estimated above the truth): Siegmund's formula is valid for
// both signs and tends to b² as the drift vanishes.
func arl0Any(k, h, batch float64) float64 {
	b := h + siegmundCorrection*math.Sqrt(math.Max(batch, 1))
	if math.Abs(k) < 1e-6 {
		return b * b
	}
	x := 2 * k * b
	return (math.Exp(x) - x - 1) / (2 * k * k)
}

// CalibrateWithBaseline is CalibrateBatched for a relative objective whose
// reference is a frozen baseline estimated from baselineUnits units: the
// baseline's error e ~ N(0, σ²/baselineUnits) moves the reference value, so
// the in-control drift per unit is k + e/σ. The threshold is solved so the
// false-task rate averaged over that error, E[V/ARL0(h, k + e/σ)], meets
// the budget; the average is dominated by baselines that came out too high,
// which is why the baseline's uncertainty raises the threshold.
func CalibrateWithBaseline(k, unitsPerMonth, budget, batch, baselineUnits float64) (float64, error) {
	if !(baselineUnits > 0) || math.IsInf(baselineUnits, 1) {
		return CalibrateBatched(k, unitsPerMonth, budget, batch)
	}
	if !(unitsPerMonth > 0) {
		return 0, ErrNoVolume
	}
	if !(k > 0) || !(budget > 0) {
		return 0, fmt.Errorf("calibrate: reference %v and budget %v must be positive", k, budget)
	}
	sd := 1 / math.Sqrt(baselineUnits)
	rate := func(h float64) float64 {
		var r float64
		for i, z := range hermiteNodes {
			r += hermiteWeights[i] * unitsPerMonth / arl0Any(k+z*sd, h, batch)
		}
		return r
	}
	want := budget * calibrationMargin
	lo, hi := 0.0, 1.0
	for rate(hi) > want {
		hi *= 2
		if hi > 1e9 {
			return 0, fmt.Errorf("calibrate: no threshold meets %g false tasks a month with a baseline of %g units", want, baselineUnits)
		}
	}
	for i := 0; i < 100 && hi-lo > 1e-9*hi; i++ {
		mid := (lo + hi) / 2
		if rate(mid) > want {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}
