package simulate

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

func meanSD(xs []float64) (float64, float64) {
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)-1))
}

// The binomial and Poisson draws are exact counts with the right first
// two moments, for small and large n alike (no rounded normal).
func TestCountDraws(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		n int64
		p float64
	}{{5, 0.3}, {60, 0.02}, {400, 0.45}, {10000, 0.15}} {
		xs := make([]float64, 20000)
		for i := range xs {
			k := Binomial(r, tc.n, tc.p)
			if k < 0 || k > tc.n {
				t.Fatalf("binomial(%d, %g) drew %d", tc.n, tc.p, k)
			}
			xs[i] = float64(k)
		}
		m, sd := meanSD(xs)
		wantM, wantSD := float64(tc.n)*tc.p, math.Sqrt(float64(tc.n)*tc.p*(1-tc.p))
		if math.Abs(m-wantM) > 4*wantSD/math.Sqrt(float64(len(xs))) || math.Abs(sd/wantSD-1) > 0.05 {
			t.Errorf("binomial(%d, %g): mean %.3f sd %.3f, want %.3f and %.3f", tc.n, tc.p, m, sd, wantM, wantSD)
		}
	}
	for _, lambda := range []float64{0.3, 11, 333} {
		xs := make([]float64, 20000)
		for i := range xs {
			xs[i] = float64(Poisson(r, lambda))
		}
		m, sd := meanSD(xs)
		if math.Abs(m-lambda) > 4*math.Sqrt(lambda/float64(len(xs))) || math.Abs(sd/math.Sqrt(lambda)-1) > 0.05 {
			t.Errorf("poisson(%g): mean %.3f sd %.3f", lambda, m, sd)
		}
	}
}

// Multinomial counts are whole and sum to n.
func TestMultinomialSumsToN(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]int64, 3)
	p := npsShares(30, 0.45, 0.15)
	var total [3]int64
	for n := int64(0); n < 3000; n += 7 {
		Multinomial(r, n, p[:], out)
		if out[0]+out[1]+out[2] != n || out[0] < 0 || out[1] < 0 || out[2] < 0 {
			t.Fatalf("n %d split %v", n, out)
		}
		for k := range total {
			total[k] += out[k]
		}
	}
	all := float64(total[0] + total[1] + total[2])
	if nps := 100 * float64(total[2]-total[0]) / all; math.Abs(nps-30) > 1 {
		t.Errorf("NPS of the draws %.2f, want 30", nps)
	}
}

// The answer mixes reach the level they are asked for.
func TestSharesHitTheLevel(t *testing.T) {
	for _, mu := range []float64{10, 25, 30, 38} {
		for _, mix := range [][2]float64{{0.45, 0.15}, {0.60, 0.30}, {0.35, 0.05}} {
			p := npsShares(mu, mix[0], mix[1])
			if got := 100 * (p[2] - p[0]); math.Abs(got-mu) > 1e-9 || p[1] < 0 {
				t.Errorf("NPS mix %v at %g: %v gives %g", mix, mu, p, got)
			}
		}
	}
	for _, mu := range []float64{5.2, 5.5, 5.8} {
		p := cesShares(mu)
		m := 0.0
		for k, q := range p {
			m += q * float64(k+1)
		}
		if math.Abs(m-mu) > 1e-6 {
			t.Errorf("CES mix at %g has mean %g", mu, m)
		}
	}
}

// The common mood is a stationary AR(1): its sd and lag-1
// autocorrelation are the ones asked for.
func TestMoodIsAR1(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ sd, tau float64 }{{1, 3}, {2, 14}, {2, 30}} {
		xs := Mood(r, 200000, tc.sd, tc.tau)
		m, sd := meanSD(xs)
		lag := 0.0
		for i := 1; i < len(xs); i++ {
			lag += (xs[i] - m) * (xs[i-1] - m)
		}
		rho := lag / float64(len(xs)-1) / (sd * sd)
		if want := math.Exp(-1 / tc.tau); math.Abs(rho-want) > 0.01 {
			t.Errorf("sd %g tau %g: lag-1 autocorrelation %.4f, want %.4f", tc.sd, tc.tau, rho, want)
		}
		if math.Abs(sd/tc.sd-1) > 0.08 {
			t.Errorf("sd %g tau %g: sd %.3f", tc.sd, tc.tau, sd)
		}
	}
}

// npsOf is the NPS of a series' whole history, with its unit count.
func npsOf(t *testing.T, s *Series, from, to time.Time) (float64, int64) {
	t.Helper()
	def := measure.Definition{Formula: measure.FormulaNPS}
	res, err := s.Query(context.Background(), def, source.Query{}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	c, err := measure.Contributions(def, res.Overall)
	if err != nil {
		t.Fatal(err)
	}
	return c.Mean(), res.Overall.Total.N
}

// Campaign data sits at the target in the long run, over worlds of
// different accounts, while its weekly level moves far more than
// independent answers would: the daily account mix varies.
func TestCampaignsSitAtTheTarget(t *testing.T) {
	c, _ := Find("campaigns-40")
	const days = 3000
	sum, worlds := 0.0, 8
	spread := []float64{}
	for i := range worlds {
		seed := uint64(100 + i)
		s := newWorld(c, seed, days).draw(seed, Change{})
		mean, n := npsOf(t, s, Start, Start.Add(days*day))
		if want := c.PerMonth * days / 30; math.Abs(float64(n)/want-1) > 0.25 {
			t.Errorf("world %d: %d responses, want about %.0f", i, n, want)
		}
		sum += mean
		for w := 0; w+7 <= days; w += 7 {
			v, _ := npsOf(t, s, Start.Add(time.Duration(w)*day), Start.Add(time.Duration(w+7)*day))
			spread = append(spread, v)
		}
	}
	if mean := sum / float64(worlds); math.Abs(mean-c.Level) > 1.5 {
		t.Errorf("long-run NPS over worlds %.2f, want %g", mean, c.Level)
	}
	_, sd := meanSD(spread)
	iid := 100 * math.Sqrt(0.45+0.15-0.09) / math.Sqrt(c.PerMonth*7/30)
	t.Logf("weekly NPS sd %.2f, independent answers' %.2f", sd, iid)
	if sd < 1.3*iid {
		t.Errorf("weekly NPS sd %.2f, no more than independent answers' %.2f", sd, iid)
	}
}

// The series answers queries as a warehouse would: whole counts by score
// that sum to the total, segments that merge to the whole, and a filter
// that narrows to one segment.
func TestSeriesAnswersLikeASource(t *testing.T) {
	c, _ := Find("iid-nps-2000-s10")
	s := newWorld(c, 9, 90).draw(9, Change{})
	def := measure.Definition{Formula: measure.FormulaNPS}
	ctx := context.Background()
	res, err := s.Query(ctx, def, c.Metric().Query, Start.Add(10*day), Start.Add(40*day))
	if err != nil {
		t.Fatal(err)
	}
	if err := def.CheckStats(res.Overall); err != nil {
		t.Fatal(err)
	}
	if len(res.Segments) != 10 {
		t.Fatalf("%d segments", len(res.Segments))
	}
	var n int64
	for _, seg := range res.Segments {
		n += seg.Stats.Total.N
	}
	if n != res.Overall.Total.N || math.Abs(float64(n)/2000-1) > 0.15 {
		t.Fatalf("segments hold %d units, overall %d", n, res.Overall.Total.N)
	}
	one, err := s.Query(ctx, def, source.Query{Filters: []source.Filter{{Column: SegmentColumn, Operator: source.Equals,
		Values: []string{"s03"}}}}, Start.Add(10*day), Start.Add(40*day))
	if err != nil {
		t.Fatal(err)
	}
	key := source.SegmentKey(map[string]string{SegmentColumn: "s03"})
	if one.Overall.Total != res.Segments[key].Stats.Total {
		t.Fatalf("filtered %+v, segment %+v", one.Overall.Total, res.Segments[key].Stats.Total)
	}
	total := s.Total()
	if got := total[0] + total[1] + total[2]; got <= 0 {
		t.Fatalf("no units: %v", total)
	}
}

// A restored history equals the dropped one on every day before the fix.
func TestRestoreKeepsTheDaysBefore(t *testing.T) {
	c, _ := Find("mood-sd2-tau14-2000")
	w := newWorld(c, 11, 200)
	a := w.draw(11, Change{Day: 100, By: 5})
	b := w.draw(11, Change{Day: 100, By: 5, Restore: 150})
	before := func(s *Series) float64 { v, _ := npsOf(t, s, Start, Start.Add(150*day)); return v }
	after := func(s *Series) float64 { v, _ := npsOf(t, s, Start.Add(150*day), Start.Add(200*day)); return v }
	if before(a) != before(b) {
		t.Fatalf("days before the fix differ: %g and %g", before(a), before(b))
	}
	if after(b)-after(a) < 2 {
		t.Fatalf("restored level %.2f, dropped %.2f", after(b), after(a))
	}
}

// Every departure keeps the long-run level where the case says: the
// value of the whole history, as the metric's own formula computes it
// (weights, ratios, the weekly calendar included), sits at the level.
func TestLongRunLevel(t *testing.T) {
	for _, tc := range []struct {
		name string
		tol  float64
	}{
		{"weighted-3000", 1}, {"weekly-2000", 1}, {"atmost-2pct-1500", 0.15}, {"atmost-5pct-6000", 0.15},
		{"nrr-tumbling-300", 0.02}, {"iid-ces-2000-s1", 0.03}, {"iid-csat-2000-s10", 0.5}, {"mood-sd1-tau3-10000", 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := Find(tc.name)
			if !ok {
				t.Fatal("no such case")
			}
			const days = 3000
			s := newWorld(c, 21, days).draw(21, Change{})
			m := c.Metric()
			res, err := s.Query(context.Background(), m.Definition, m.Query, Start, Start.Add(days*day))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Definition.CheckStats(res.Overall); err != nil {
				t.Fatal(err)
			}
			est, err := measure.Compute(m.Definition, res.Overall, 0.95, 30)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(est.Value-c.Level) > tc.tol {
				t.Errorf("long-run value %.4f, want %g ± %g", est.Value, c.Level, tc.tol)
			}
		})
	}
}

// The weekly cycle puts a fifth of a weekday's volume on weekend days,
// 3 points lower.
func TestWeeklyCycle(t *testing.T) {
	c, _ := Find("weekly-2000")
	const days = 7 * 400
	s := newWorld(c, 31, days).draw(31, Change{})
	var level [2]float64
	var units [2]int64
	for d := 0; d < days; d++ {
		wd := Start.AddDate(0, 0, d).Weekday()
		k := 0
		if wd == time.Saturday || wd == time.Sunday {
			k = 1
		}
		v, n := npsOf(t, s, Start.Add(time.Duration(d)*day), Start.Add(time.Duration(d+1)*day))
		level[k] += v * float64(n)
		units[k] += n
	}
	weekday, weekend := level[0]/float64(units[0]), level[1]/float64(units[1])
	if ratio := float64(units[1]) / 2 / (float64(units[0]) / 5); math.Abs(ratio-weekendVolume) > 0.02 {
		t.Errorf("weekend day volume %.3f of a weekday's", ratio)
	}
	if gap := weekday - weekend; math.Abs(gap-weekendDrop) > 1 {
		t.Errorf("weekend %.2f points below weekdays", gap)
	}
}
