package detect

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cxloop/cxloop/internal/measure"
)

// binomial is an exact Binomial(n, p) draw.
func binomial(r *rand.Rand, n int, p float64) int {
	k := 0
	for i := 0; i < n; i++ {
		if r.Float64() < p {
			k++
		}
	}
	return k
}

// npsDraw is n responses drawn from a multinomial of promoters and
// detractors, as NPS contributions.
func npsDraw(r *rand.Rand, n int, promoters, detractors float64) measure.Contribution {
	p := binomial(r, n, promoters)
	d := binomial(r, n-p, detractors/(1-promoters))
	return counts(n, float64(100*(p-d)), float64(1e4*(p+d)))
}

// shareDraw is n units of a 0/100 share with probability p.
func shareDraw(r *rand.Rand, n int, p float64) measure.Contribution {
	k := float64(binomial(r, n, p))
	return counts(n, 100*k, 1e4*k)
}

func counts(n int, sum, sum2 float64) measure.Contribution {
	return measure.Contribution{Units: measure.Cell{N: int64(n), W: float64(n), W2: float64(n)}, SumWX: sum, SumWX2: sum2}
}

// scenario is a verification looked at after every day of fresh data,
// with the final look on the last day.
type scenario struct {
	dir                    Direction
	null, min, max         float64
	perDay, days           int
	minSamples             float64
	plannedSigma           float64
	draw                   func(r *rand.Rand, n int) measure.Contribution
	trials                 int
	seed                   uint64
	attempt                int32
	hybridLevel, tolerance float64
}

// verifiedShare runs the scenario's trials and returns the share Verified.
func (s scenario) verifiedShare() float64 {
	r := rand.New(rand.NewPCG(s.seed, 99))
	level := AttemptLevel(DefaultLevel, s.attempt)
	verified := 0
	for i := 0; i < s.trials; i++ {
		var fresh measure.Contribution
		for d := 1; d <= s.days; d++ {
			fresh.Merge(s.draw(r, s.perDay))
			v := Verify(VerifyInput{Fresh: fresh, Direction: s.dir, Null: s.null, Min: s.min, Max: s.max, Level: level, Hybrid: true,
				MinSamples: s.minSamples, PlannedSamples: float64(s.perDay * s.days), PlannedSigma: s.plannedSigma, Final: d == s.days})
			if v.Verdict == Proven {
				verified++
			}
			if v.Verdict != Pending {
				break
			}
		}
	}
	return float64(verified) / float64(s.trials)
}

// A fix that did nothing leaves the metric where the drop put it, between
// the detector's reference (δ/2 below target) and target − δ: looked at
// every day of a 14-day verify window, it is Verified at most at the
// level, whatever the depth of the drop. NPS at 2,000 responses a month
// (67 a day), target 30, δ = 5: the null is 27.5. A 5 % AtMost rate
// (target 5, δ = 5, null 7.5) with 30 units over a 30-day window: quiet
// data (no events, a plug-in deviation of zero) must not prove a fix.
func TestVerifyAFixThatDidNothingKeepsTheLevel(t *testing.T) {
	const trials = 2000
	// Three standard errors of a share of 5 % over 2,000 trials.
	tolerance := 3 * math.Sqrt(0.05*0.95/trials)
	for _, c := range []struct {
		name string
		s    scenario
	}{
		{"NPS drop δ/2", npsNothing(44, 16.5, 1)},
		{"NPS drop 3δ/4", npsNothing(43.5, 17.25, 2)},
		{"NPS drop δ", npsNothing(43, 18, 3)},
		{"rate rise δ/2", rateNothing(7.5, 4)},
		{"rate rise 3δ/4", rateNothing(8.75, 5)},
		{"rate rise δ", rateNothing(10, 6)},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.s.trials = trials
			got := c.s.verifiedShare()
			t.Logf("verified %.2f %% of %d do-nothing fixes", 100*got, trials)
			if got > DefaultLevel+tolerance {
				t.Fatalf("a fix that did nothing was verified %.1f %% of the time, above %.0f %%", 100*got, 100*DefaultLevel)
			}
		})
	}
}

func npsNothing(promoters, detractors float64, seed uint64) scenario {
	return scenario{dir: AtLeast, null: 27.5, min: -100, max: 100, perDay: 67, days: 14, minSamples: 30,
		plannedSigma: math.Sqrt(5100), seed: seed, attempt: 1,
		draw: func(r *rand.Rand, n int) measure.Contribution { return npsDraw(r, n, promoters/100, detractors/100) }}
}

func rateNothing(rate float64, seed uint64) scenario {
	return scenario{dir: AtMost, null: 7.5, min: 0, max: 100, perDay: 1, days: 30, minSamples: 10,
		plannedSigma: 100 * math.Sqrt(0.05*0.95), seed: seed, attempt: 1,
		draw: func(r *rand.Rand, n int) measure.Contribution { return shareDraw(r, n, rate/100) }}
}

// A fix that restored the target is Verified at least 80 % of the time
// once the fresh volume reaches the n* stated for it: NPS back at 45 %
// promoters and 15 % detractors, a rate back at 5 %, looked at daily with
// the final look when n* fresh units are in.
func TestVerifyARealFixOnceTheStatedVolumeIsIn(t *testing.T) {
	const trials = 2000
	tolerance := 3 * math.Sqrt(0.8*0.2/trials)
	level := AttemptLevel(DefaultLevel, 1)
	npsSigma := math.Sqrt(5100)
	rateSigma := 100 * math.Sqrt(0.05*0.95)
	for _, c := range []struct {
		name   string
		s      scenario
		nstar  float64
		lo, hi float64
	}{
		{"NPS at 10,000 a month",
			scenario{dir: AtLeast, null: 27.5, min: -100, max: 100, perDay: 333, minSamples: 30, plannedSigma: npsSigma, seed: 7,
				draw: func(r *rand.Rand, n int) measure.Contribution { return npsDraw(r, n, 0.45, 0.15) }},
			RequiredSamples(NullSD(27.5, 30, npsSigma, -100, 100), npsSigma, 2.5, level/2, VerifyPower), 7300, 7600},
		{"rate at 1,000 a month",
			scenario{dir: AtMost, null: 7.5, min: 0, max: 100, perDay: 33, minSamples: 30, plannedSigma: rateSigma, seed: 8,
				draw: func(r *rand.Rand, n int) measure.Contribution { return shareDraw(r, n, 0.05) }},
			RequiredSamples(NullSD(7.5, 5, rateSigma, 0, 100), rateSigma, 2.5, level/2, VerifyPower), 850, 950},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.nstar < c.lo || c.nstar > c.hi {
				t.Fatalf("n* = %v, want %v to %v", c.nstar, c.lo, c.hi)
			}
			c.s.trials, c.s.attempt = trials, 1
			c.s.days = int(math.Ceil(c.nstar / float64(c.s.perDay)))
			got := c.s.verifiedShare()
			t.Logf("n* %.0f in %d days: verified %.1f %% of %d fixes", c.nstar, c.s.days, 100*got, trials)
			if got < VerifyPower-tolerance {
				t.Fatalf("a fix that restored the target was verified %.1f %% of the time at n* = %.0f", 100*got, c.nstar)
			}
		})
	}
}

// Reopening and retrying cannot verify a fix that did nothing by luck:
// ten attempts of a task, each a fresh 14-day window at the detector's
// reference, verify one of them at most at the task's level.
func TestVerifyAttemptsShareTheTasksLevel(t *testing.T) {
	const trials, attempts = 2000, 10
	tolerance := 3 * math.Sqrt(0.05*0.95/trials)
	s := npsNothing(44, 16.5, 11)
	r := rand.New(rand.NewPCG(s.seed, 99))
	verified := 0
	for i := 0; i < trials; i++ {
	task:
		for j := int32(1); j <= attempts; j++ {
			var fresh measure.Contribution
			for d := 1; d <= s.days; d++ {
				fresh.Merge(s.draw(r, s.perDay))
				v := Verify(VerifyInput{Fresh: fresh, Direction: s.dir, Null: s.null, Min: s.min, Max: s.max,
					Level: AttemptLevel(DefaultLevel, j), Hybrid: true, MinSamples: s.minSamples,
					PlannedSamples: float64(s.perDay * s.days), PlannedSigma: s.plannedSigma, Final: d == s.days})
				if v.Verdict == Proven {
					verified++
					break task
				}
				if v.Verdict != Pending {
					break
				}
			}
		}
	}
	got := float64(verified) / trials
	t.Logf("a task of %d attempts verified a fix that did nothing %.2f %% of the time", attempts, 100*got)
	if got > DefaultLevel+tolerance {
		t.Fatalf("%d attempts verified a fix that did nothing %.1f %% of the time", attempts, 100*got)
	}
}

// The dispersion a verification assumes holds its level on average over
// the calibration's error: a one-sided test of a mean over I intervals
// that divides by σ²/n + D'/I errs, when the true dispersion is D, with
// probability Φ̄(z·√((σ²/n + D'/I)/(σ²/n + D/I))); averaged over D drawn
// from the estimate's error (by Monte Carlo here, not the quadrature
// VerifyDispersion uses) it is the level at D'. Without an error D' is
// the estimate, and a larger error asks for a larger D'. An estimate of
// zero with an error still discounts the fresh data.
func TestVerifyDispersionHoldsTheLevelOverTheEstimatesError(t *testing.T) {
	const sigma = 71.4
	cases := []struct {
		name          string
		n, intervals  float64
		d, se, alpha  float64
		wantUnchanged bool
	}{
		{"no error: the estimate", 10000, 30, 28, 0, 0.015, true},
		{"a month of 10,000 answers, a year's error", 10000, 30, 28, 14, 0.015, false},
		{"a small error", 10000, 30, 28, 3, 0.015, false},
		{"an estimate of zero with an error", 2000, 30, 0, 30, 0.015, false},
		{"recovery at the whole level", 5000, 14, 60, 40, 0.05, false},
		{"one day of data", 333, 1, 100, 60, 0.0038, false},
	}
	r := rand.New(rand.NewPCG(11, 3))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := VerifyDispersion(c.n, c.intervals, sigma, c.d, c.se, c.alpha)
			if c.wantUnchanged {
				if got != c.d {
					t.Fatalf("D' = %v, want the estimate %v", got, c.d)
				}
				return
			}
			if !(got > c.d) {
				t.Fatalf("D' = %v, want above the estimate %v", got, c.d)
			}
			z := normalQuantile(1 - c.alpha)
			s2 := sigma * sigma / c.n
			assumed := s2 + got/c.intervals
			const draws = 400000
			var e float64
			for range draws {
				truth := s2 + math.Max(0, c.d+c.se*r.NormFloat64())/c.intervals
				e += 0.5 * math.Erfc(z*math.Sqrt(assumed/truth)/math.Sqrt2)
			}
			e /= draws
			if math.Abs(e-c.alpha) > 0.03*c.alpha {
				t.Fatalf("averaged error %.5f at D' = %.4g, want the level %.5f", e, got, c.alpha)
			}
		})
	}
	large, small := VerifyDispersion(10000, 30, sigma, 28, 14, 0.015), VerifyDispersion(10000, 30, sigma, 28, 3, 0.015)
	if !(large > small) {
		t.Fatalf("D' %v for a year's error, %v for a small one: want the larger error's larger", large, small)
	}
}
