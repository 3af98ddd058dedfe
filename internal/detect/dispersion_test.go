package detect

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// npsDay draws one day of n NPS responses whose level is 30 + mood: the
// reference mix 45 % promoters / 15 % detractors moved symmetrically.
func npsDay(r *rand.Rand, n int, mood float64) IntervalBatch {
	shift := -mood / 100
	p, d := 0.45-0.4*shift, 0.15+0.6*shift
	var sum, sum2 float64
	for i := 0; i < n; i++ {
		u := r.Float64()
		x := 0.0
		switch {
		case u < p:
			x = 100
		case u < p+d:
			x = -100
		}
		sum += x
		sum2 += x * x
	}
	fn := float64(n)
	mean := sum / fn
	return IntervalBatch{Units: fn, Mean: mean, Variance: sum2/fn - mean*mean}
}

// history draws days of n responses a day under an AR(1) mood of standard
// deviation sd and correlation time tau days.
func history(seed uint64, days, n int, sd, tau float64) []IntervalBatch {
	r := rand.New(rand.NewPCG(seed, 7))
	rho := math.Exp(-1 / tau)
	mood := sd * r.NormFloat64()
	out := make([]IntervalBatch, days)
	for i := range out {
		out[i] = npsDay(r, n, mood)
		mood = rho*mood + sd*math.Sqrt(1-rho*rho)*r.NormFloat64()
	}
	return out
}

const day = 24 * time.Hour

// Independent responses show next to no dispersion, a common mood its
// long-run variance within the estimate's stated error, and a short
// history the conservative prior.
func TestCalibrateHistoryMeasuresTheMood(t *testing.T) {
	var iid, mood, moodUpper []float64
	for seed := uint64(1); seed <= 20; seed++ {
		c := CalibrateHistory(history(seed, 365, 300, 0, 1), day, 5, 0)
		if c.Calibrating || math.Abs(c.Sigma-71.4) > 1 {
			t.Fatalf("iid: %+v, want calibrated with σ ≈ 71.4", c)
		}
		iid = append(iid, c.Dispersion)
		c = CalibrateHistory(history(seed, 365, 300, 2, 14), day, 5, 0)
		mood = append(mood, c.Dispersion)
		moodUpper = append(moodUpper, c.Dispersion+c.DispersionError)
	}
	rho := math.Exp(-1.0 / 14)
	truth := 4 * (1 + rho) / (1 - rho)
	// σ²/n per day is 17 NPS²: an estimate of D well under that says
	// "independent" to the detector.
	if m := median(iid); m > 5 {
		t.Errorf("iid: median dispersion %.2f, want near 0 (noise per day 17)", m)
	}
	if m, u := median(mood), median(moodUpper); m < truth/2 || m > 2*truth || u < 0.8*truth {
		t.Errorf("mood sd 2, 14 days: median dispersion %.1f (plus its error %.1f), want the long-run variance %.1f within the error", m, u, truth)
	}
	short := CalibrateHistory(history(1, 60, 300, 0, 1), day, 5, 0)
	if want := PriorDispersion(5, day) * 2 / 3; !short.Calibrating || short.DispersionError < want {
		t.Errorf("60 days: %+v, want calibrating with an error of two thirds of the prior, %.1f, or more", short, want)
	}
	// The window, left out of the estimate, is history all the same.
	if c := CalibrateHistory(history(1, 150, 300, 0, 1), day, 5, 30*day); c.Calibrating {
		t.Errorf("150 days before a 30-day window: %+v, want calibrated", c)
	}
	if c := CalibrateHistory(nil, day, 5, 0); !c.Calibrating || c.Dispersion != PriorDispersion(5, day) {
		t.Errorf("no history: %+v, want the prior", c)
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// Under dispersion a batch counts for fewer units, never more, and for at
// most σ²/D however large.
func TestEffectiveUnits(t *testing.T) {
	if got := Effective(300, 70, 0); got != 300 {
		t.Errorf("no dispersion: %v, want 300", got)
	}
	if got := Effective(300, 70, 49); math.Abs(got-300.0/(1+300*49/4900.0)) > 1e-9 {
		t.Errorf("D = 49: %v", got)
	}
	if got := Effective(1e9, 70, 49); got > 100 {
		t.Errorf("a huge batch: %v, want at most σ²/D = 100", got)
	}
}

// The default shift fits the formula's units: points for scores and
// shares, 0.3 on an effort scale, 5 % of the target for units of the
// metric's own (a ratio near 1 is not held to a shift of 5).
func TestDefaultShiftFitsTheFormulasUnits(t *testing.T) {
	for _, c := range []struct {
		formula   string
		reference float64
		want      float64
	}{
		{"nps", 30, 5}, {"csat", 80, 5}, {"rate", 4, 5}, {"ces", 5.5, 0.3},
		{"ratio", 1.05, 0.0525}, {"sum", 2000, 100}, {"value", -40, 2}, {"mean", 0, 1},
	} {
		if got := DefaultShift(c.formula, c.reference); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s at %v: %v, want %v", c.formula, c.reference, got, c.want)
		}
	}
}
