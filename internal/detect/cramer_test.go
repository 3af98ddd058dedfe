package detect

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// bernoulli is the law of a share at p percent: contributions 100 or 0.
func bernoulli(p float64, dir Direction) *UnitLaw {
	return NewUnitLaw([]Atom{{Value: 0, P: 1 - p/100}, {Value: 100, P: p / 100}}, p, dir)
}

// llrExponent is the closed form of the Cramér exponent of a Bernoulli
// CUSUM whose increments are proportional to the log-likelihood ratio of
// p1 against p0 (Wald: E_p0[e^LLR] = 1, so θ* is the inverse of the
// proportion), and the reference k that makes them so: the standardised
// increments (1 − p0)/s − k and −p0/s − k, s = √(p0(1 − p0)), are c·log(p1/p0)
// and c·log((1 − p1)/(1 − p0)).
func llrExponent(p0, p1 float64) (theta, k float64) {
	s := math.Sqrt(p0 * (1 - p0))
	a, b := math.Log(p1/p0), math.Log((1-p1)/(1-p0))
	c := 1 / (s * (a - b))
	return 1 / c, (1-p0)/s - c*a
}

func TestCramerExponent(t *testing.T) {
	const k = 0.05
	theta2, k2 := llrExponent(0.02, 0.03)
	theta20, k20 := llrExponent(0.20, 0.25)
	for _, tc := range []struct {
		name             string
		law              *UnitLaw
		units, ne, ratio float64
		k                float64
		want, tol        float64
	}{
		{"no law is normal", nil, 50, 50, 1, k, 2 * k, 0},
		{"no law, variance ratio", nil, 50, 20, 1.7, k, 2 * k / 1.7, 1e-15},
		{"bernoulli 2 % one unit", bernoulli(2, AtMost), 1, 1, 1, k2, theta2, 1e-9},
		{"bernoulli 2 % batches of 30", bernoulli(2, AtMost), 30, 30, 1, k2, theta2, 1e-9},
		{"bernoulli 20 % one unit", bernoulli(20, AtMost), 1, 1, 1, k20, theta20, 1e-9},
		{"bernoulli 80 % judged AtLeast mirrors 20 % AtMost", bernoulli(80, AtLeast), 1, 1, 1, k20, theta20, 1e-9},
		// A mood that dwarfs the sampling noise makes the batch normal.
		{"skewed units under a large mood", bernoulli(2, AtMost), 1e5, 10, 1, k, 2 * k, 1e-4},
		// Many units a batch and a little mood: nearly normal.
		{"skewed units, a large batch with a mood", bernoulli(2, AtMost), 1e5, 1e3, 1, k, 2 * k, 2e-3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.law.cramerWalk(tc.units, tc.ne, tc.ratio, tc.k).theta
			if math.Abs(got-tc.want) > tc.tol*math.Abs(tc.want) {
				t.Fatalf("θ* = %.12g, want %.12g (±%g relative)", got, tc.want, tc.tol)
			}
		})
	}
}

func TestCramerExponentFallsWithSkew(t *testing.T) {
	const k = 0.04
	// A share further from the middle is more skewed towards the
	// threshold (AtMost: rare large rises), and the walk's exponent falls
	// below the normal 2k.
	prev := math.Inf(1)
	for _, p := range []float64{50, 30, 10, 5, 2, 1} {
		got := bernoulli(p, AtMost).cramerWalk(20, 20, 1, k).theta
		if !(got < prev) {
			t.Fatalf("p = %v%%: θ* = %v, not below %v at the share before", p, got, prev)
		}
		prev = got
	}
	if prev > 0.85*2*k {
		t.Fatalf("θ* at 1 %% = %v, want well below 2k = %v", prev, 2*k)
	}
	// Skewed away from the threshold (AtLeast at 2 %: rare large falls)
	// the walk climbs less easily than a normal one.
	if got := bernoulli(2, AtLeast).cramerWalk(20, 20, 1, k).theta; !(got > 2*k) {
		t.Fatalf("AtLeast at 2 %%: θ* = %v, want above 2k = %v", got, 2*k)
	}
	// An upward drift (a baseline estimated too high) has a negative root.
	if got := bernoulli(2, AtMost).cramerWalk(20, 20, 1, -k).theta; !(got < 0) {
		t.Fatalf("negative drift: θ* = %v, want negative", got)
	}
}

// TestCramerRunLengthMatchesMonteCarlo runs a Bernoulli CUSUM at a rate of
// 2 % (AtMost, δ 1 point) through Config.Step and compares its mean run
// length with the approximations: the normal one overstates it by half or
// more, which would let the false-task rate exceed its budget.
func TestCramerRunLengthMatchesMonteCarlo(t *testing.T) {
	const p, h, runs = 0.02, 50.0, 400
	sigma := 100 * math.Sqrt(p*(1-p))
	cfg := Config{Direction: AtMost, Reference: 100 * p, Shift: 1, Sigma: sigma, Threshold: h}
	law := bernoulli(100*p, AtMost)
	r := rand.New(rand.NewPCG(7, 11))
	for _, n := range []int{1, 10} {
		var total float64
		for range runs {
			var s SegmentState
			for units := n; ; units += n {
				c := 0
				for range n {
					if r.Float64() < p {
						c++
					}
				}
				b := measure.Contribution{Units: measure.Cell{N: int64(n), W: float64(n), W2: float64(n)},
					SumWX: 100 * float64(c), SumWX2: 1e4 * float64(c)}
				var opened bool
				if s, opened = cfg.Step(s, b, time.Time{}, time.Time{}); opened {
					total += float64(units)
					break
				}
			}
		}
		mc := total / runs
		cramer := law.cramerWalk(float64(n), float64(n), 1, cfg.K()).arl0(h)
		normal := ARL0Batched(cfg.K(), h, float64(n))
		if math.Abs(cramer/mc-1) > 0.2 {
			t.Errorf("batches of %d: Cramér ARL0 %.0f, Monte-Carlo %.0f: off by more than 20 %%", n, cramer, mc)
		}
		if normal/mc < 1.35 {
			t.Errorf("batches of %d: normal ARL0 %.0f, Monte-Carlo %.0f: expected it to overstate by 35 %% or more", n, normal, mc)
		}
		t.Logf("batches of %d: Monte-Carlo %.0f, Cramér %.0f, normal %.0f", n, mc, cramer, normal)
	}
}

func TestCalibrateSegmentsPricesSkew(t *testing.T) {
	const k = 1 / (2 * 14.0)
	plain := []KeyVolume{{PerMonth: 1500, Batch: 50, Units: 50}}
	normal, err := CalibrateSegments(k, DefaultBudget, plain, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := CalibrateBatched(k, 1500, DefaultBudget, 50); normal != want {
		t.Fatalf("no law: h = %v, want the normal %v", normal, want)
	}
	skewed := []KeyVolume{{PerMonth: 1500, Batch: 50, Units: 50, Law: bernoulli(2, AtMost)}}
	h, err := CalibrateSegments(k, DefaultBudget, skewed, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !(h > 1.1*normal) {
		t.Fatalf("rate at 2 %%: h = %v, want well above the normal %v", h, normal)
	}
	// The dispersion's and the baseline's errors still raise it.
	ratios := (&Calibration{Sigma: 14, Dispersion: 1, DispersionError: 1}).varianceRatios(50, 14)
	skewed[0].Variance, skewed[0].Batch = ratios, Effective(50, 14, 1)
	withError, _ := CalibrateSegments(k, DefaultBudget, skewed, 0)
	withBaseline, _ := CalibrateSegments(k, DefaultBudget, skewed, 3000)
	if !(withBaseline > withError) {
		t.Fatalf("baseline of 3000 units: h = %v, not above %v with a fixed target", withBaseline, withError)
	}
}

func TestNewUnitLaw(t *testing.T) {
	// A window at 3 % tilted to a reference of 2 % is the Bernoulli at 2 %.
	law := NewUnitLaw([]Atom{{Value: 0, P: 0.97}, {Value: 100, P: 0.03}}, 2, AtMost)
	want := bernoulli(2, AtMost)
	for i := range law.u {
		if math.Abs(law.u[i]-want.u[i]) > 1e-9 || math.Abs(law.p[i]-want.p[i]) > 1e-9 {
			t.Fatalf("tilted law %v %v, want %v %v", law.u, law.p, want.u, want.p)
		}
	}
	// An NPS mix tilted to 20: mean 20, the values kept.
	nps := NewUnitLaw([]Atom{{-100, 0.2}, {0, 0.3}, {100, 0.5}}, 20, AtLeast)
	var m, v float64
	for i, u := range nps.u {
		m += nps.p[i] * u
		v += nps.p[i] * u * u
	}
	if math.Abs(m) > 1e-9 || math.Abs(v-1) > 1e-9 || len(nps.u) != 3 {
		t.Fatalf("standardised NPS law: mean %v, variance %v, %d values", m, v, len(nps.u))
	}
	for _, tc := range []struct {
		name string
		null []Atom
		ref  float64
	}{
		{"reference at the scale's end", []Atom{{0, 0.9}, {100, 0.1}}, 0},
		{"reference beyond the values", []Atom{{0, 0.9}, {100, 0.1}}, 120},
		{"one value", []Atom{{100, 1}}, 50},
		{"nothing", nil, 50},
	} {
		if got := NewUnitLaw(tc.null, tc.ref, AtLeast); got != nil {
			t.Errorf("%s: law %v, want nil (normal approximation)", tc.name, got)
		}
	}
}

func TestConfigurePricesTheNull(t *testing.T) {
	setup := Setup{Direction: AtMost, Reference: 2, Shift: 1, Formula: measure.FormulaRate,
		Window:       map[string]measure.Contribution{"": batch(1500, 2, 14)},
		WindowLength: 30 * 24 * time.Hour, Interval: 24 * time.Hour}
	normal, _, err := Configure(setup)
	if err != nil {
		t.Fatal(err)
	}
	setup.Null = []Atom{{Value: 0, P: 0.98}, {Value: 100, P: 0.02}}
	skewed, _, err := Configure(setup)
	if err != nil {
		t.Fatal(err)
	}
	if !(skewed.Threshold > 1.1*normal.Threshold) {
		t.Fatalf("rate at 2 %%: threshold %v with its null, want well above %v without", skewed.Threshold, normal.Threshold)
	}
	// A symmetric share at the middle of its scale is nearly normal.
	setup.Reference, setup.Shift, setup.Window = 50, 5, map[string]measure.Contribution{"": batch(1500, 50, 50)}
	setup.Null = nil
	mid, _, _ := Configure(setup)
	setup.Null = []Atom{{Value: 0, P: 0.5}, {Value: 100, P: 0.5}}
	midNull, _, _ := Configure(setup)
	if math.Abs(midNull.Threshold/mid.Threshold-1) > 0.02 {
		t.Fatalf("share at 50 %%: threshold %v with its null, %v without", midNull.Threshold, mid.Threshold)
	}
}

// BenchmarkConfigureWithNull is BenchmarkConfigure with the per-unit
// distribution of an NPS mix: every segment's exponent is solved per node.
func BenchmarkConfigureWithNull(b *testing.B) {
	w := thousandSegments(20)
	null := []Atom{{-100, 0.2}, {0, 0.3}, {100, 0.5}}
	for i := 0; i < b.N; i++ {
		if _, _, err := Configure(Setup{Direction: AtLeast, Reference: 30, Formula: measure.FormulaNPS, Window: w,
			WindowLength: 30 * 24 * time.Hour, Interval: 24 * time.Hour, BaselineUnits: 20000, Null: null}); err != nil {
			b.Fatal(err)
		}
	}
}

// Segments of equal volume are priced as one walk per node of their
// summed weight: 3,000 accounts of three volumes hold a few walks, and
// calibrate as the three volumes with their summed rates.
func TestCalibrateSegmentsMergesEqualWalks(t *testing.T) {
	const k = 1 / (2 * 14.0)
	law := bernoulli(20, AtMost)
	ratios := (&Calibration{Sigma: 40, Dispersion: 1, DispersionError: 1}).varianceRatios(6, 40)
	var many []KeyVolume
	few := make([]KeyVolume, 3)
	for i := 0; i < 3000; i++ {
		units := float64(2 + 2*(i%3))
		kv := KeyVolume{PerMonth: 30 * units, Batch: Effective(units, 40, 1), Units: units, Law: law, Variance: ratios}
		many = append(many, kv)
		f := &few[i%3]
		sum := f.PerMonth + kv.PerMonth
		*f = kv
		f.PerMonth = sum
	}
	for _, sd := range []float64{0, 0.05} {
		if walks := skewedWalks(k, many, sd); len(walks) > 3*len(ratios)*len(hermiteNodes) {
			t.Fatalf("baseline error %v: %d walks for 3 volumes", sd, len(walks))
		}
		baseline := 0.0
		if sd > 0 {
			baseline = 1 / (sd * sd)
		}
		got, err := CalibrateSegments(k, DefaultBudget, many, baseline)
		if err != nil {
			t.Fatal(err)
		}
		want, err := CalibrateSegments(k, DefaultBudget, few, baseline)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-9*want {
			t.Fatalf("baseline error %v: 3,000 accounts h = %v, their 3 volumes h = %v", sd, got, want)
		}
	}
}
