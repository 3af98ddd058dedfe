// Command simulate measures the decisions of internal/detect on simulated
// data with fixed seeds: false tasks per metric-month on stable data sitting
// exactly at the target, the share of step drops detected within 7, 14 and
// 30 days with the median delay, and how often verification passes a fix
// that did nothing and one that restored the target. It runs the same
// Configure, Feed (or its per-segment Step) and Verify the operator runs,
// one evaluation a day, with per-day batches drawn whole (binomial and
// Poisson counts), not response by response.
//
//	go run ./bench/simulate            # the whole table (about 1.5 minutes on one core)
//	go run ./bench/simulate -quick     # fewer metric-months, for a look
//	go run ./bench/simulate -family NPS -volume 2000 -segments 10  # one case
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/measure"
)

// family is a simulated metric: how one day's batch of n units is drawn.
type family struct {
	name    string
	formula string
	target  float64
	shift   float64
	sigma   float64
	// draw returns the contributions of n units whose true mean is mean.
	draw func(r *rand.Rand, n int, mean float64) measure.Contribution
}

// nps draws responses with promoters and detractors moved symmetrically
// from the reference mix (45 % / 15 %, NPS 30) to reach the wanted NPS, as
// DOMAIN.md's scenario does (43 % / 18 % for NPS 25).
func npsDraw(r *rand.Rand, n int, mean float64) measure.Contribution {
	shift := (30 - mean) / 100
	p, d := 0.45-0.4*shift, 0.15+0.6*shift
	prom := binomial(r, n, p)
	det := binomial(r, n-prom, d/(1-p))
	return contribution(n, 100*float64(prom-det), 10000*float64(prom+det))
}

func proportionDraw(r *rand.Rand, n int, mean float64) measure.Contribution {
	k := binomial(r, n, mean/100)
	return contribution(n, 100*float64(k), 10000*float64(k))
}

// cesDraw draws a mean effort score with a standard deviation of 1.2.
func cesDraw(r *rand.Rand, n int, mean float64) measure.Contribution {
	const sd = 1.2
	fn := float64(n)
	sum := fn*mean + math.Sqrt(fn)*sd*r.NormFloat64()
	xbar := sum / fn
	return contribution(n, sum, (fn-1)*sd*sd+fn*xbar*xbar)
}

func contribution(n int, sum, sum2 float64) measure.Contribution {
	f := float64(n)
	return measure.Contribution{Units: measure.Cell{N: int64(n), W: f, W2: f}, SumWX: sum, SumWX2: sum2}
}

var families = []family{
	{"NPS", measure.FormulaNPS, 30, 5, 100 * math.Sqrt(0.45+0.15-0.09), npsDraw},
	{"CSAT", measure.FormulaCSAT, 80, 5, 40, proportionDraw},
	{"CES", measure.FormulaCES, 5.5, 0.3, 1.2, cesDraw},
}

func binomial(r *rand.Rand, n int, p float64) int {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if n < 60 {
		k := 0
		for i := 0; i < n; i++ {
			if r.Float64() < p {
				k++
			}
		}
		return k
	}
	k := int(math.Round(float64(n)*p + math.Sqrt(float64(n)*p*(1-p))*r.NormFloat64()))
	return max(0, min(n, k))
}

func poisson(r *rand.Rand, lambda float64) int {
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// config is the detector the operator would run for the metric, built by
// the operator's own detect.Configure from a 30-day window holding the
// expected volume of every segment and the whole population at the target
// with the in-control deviation (σ known, as in DOMAIN.md's scenario).
func config(f family, perMonth float64, segments int) detect.Config {
	window := map[string]measure.Contribution{"": known(perMonth, f.target, f.sigma)}
	if segments > 1 {
		for s := 0; s < segments; s++ {
			window[fmt.Sprint(s)] = known(perMonth/float64(segments), f.target, f.sigma)
		}
	}
	c, _, err := detect.Configure(detect.Setup{Direction: detect.AtLeast, Reference: f.target, Shift: f.shift,
		Formula: f.formula, Window: window, WindowLength: 30 * 24 * time.Hour, Interval: 24 * time.Hour})
	if err != nil {
		panic(fmt.Sprintf("configure %s at %g: %v", f.name, perMonth, err))
	}
	return c
}

// known is the contribution of n units with exactly the given mean and
// standard deviation.
func known(n, mean, sd float64) measure.Contribution {
	return measure.Contribution{Units: measure.Cell{N: int64(n), W: n, W2: n}, SumWX: n * mean, SumWX2: n * (sd*sd + mean*mean)}
}

// falseTasks simulates months metric-months at the target and counts the
// episodes the detector opens across all segments and the whole
// population. It steps each segment with Config.Step, exactly what
// Config.Feed does per segment, without building a map per day: that keeps
// 1,000 segments over 5,000 metric-months within a minute.
func falseTasks(f family, perMonth float64, segments, months int, seed uint64) int {
	r := rand.New(rand.NewPCG(seed, 1))
	c := config(f, perMonth, segments)
	states := make([]detect.SegmentState, segments)
	var whole detect.SegmentState
	perSegDay := perMonth / 30 / float64(segments)
	episodes := 0
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Warm up a quarter, then count.
	for d := 0; d < (months+3)*30; d++ {
		next := day.Add(24 * time.Hour)
		var all measure.Contribution
		for s := range states {
			n := poisson(r, perSegDay)
			if n == 0 {
				continue
			}
			b := f.draw(r, n, f.target)
			all.Merge(b)
			if segments > 1 {
				var opened bool
				states[s], opened = c.Step(states[s], b, day, next)
				if opened && d >= 90 {
					episodes++
				}
			}
		}
		var opened bool
		whole, opened = c.Step(whole, all, day, next)
		if opened && d >= 90 {
			episodes++
		}
		day = next
	}
	return episodes
}

// detection runs the detector in steady state for 90 to 300 days, then
// drops the metric by drop and returns the days to the first episode (or
// +Inf after 120 days).
func detection(f family, perMonth, drop float64, seed uint64) float64 {
	r := rand.New(rand.NewPCG(seed, 2))
	c := config(f, perMonth, 1)
	st := detect.State{}
	warm := 90 + r.IntN(211)
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := 0; d < warm+120; d++ {
		mean := f.target
		if d >= warm {
			mean -= drop
		}
		n := poisson(r, perMonth/30)
		var opened []detect.Opened
		st, opened = c.Feed(st, detect.Batch{From: day, To: day.Add(24 * time.Hour),
			Segments: map[string]measure.Contribution{"": f.draw(r, n, mean)}})
		if len(opened) > 0 && d >= warm {
			return float64(d - warm + 1)
		}
		if len(opened) > 0 {
			st = detect.State{} // a false task before the drop: start over
		}
		day = day.Add(24 * time.Hour)
	}
	return math.Inf(1)
}

// verification returns whether a fix is verified within a 30-day window
// when the fresh data's true mean is mean.
func verification(f family, perMonth, mean float64, seed uint64) bool {
	r := rand.New(rand.NewPCG(seed, 3))
	var fresh measure.Contribution
	for d := 1; d <= 30; d++ {
		fresh.Merge(f.draw(r, poisson(r, perMonth/30), mean))
		v := detect.Verify(detect.VerifyInput{Fresh: fresh, Direction: detect.AtLeast, Reference: f.target, Shift: f.shift,
			From: f.target - f.shift, MinSamples: 30, PlannedSamples: perMonth, Final: d == 30})
		switch v.Verdict {
		case detect.Proven:
			return true
		case detect.Persists, detect.NotProven:
			return false
		}
	}
	return false
}

// parallel runs n jobs over the machine's cores and returns their results.
func parallel[T any](n int, job func(i int) T) []T {
	out := make([]T, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = job(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func main() {
	quick := flag.Bool("quick", false, "simulate fewer metric-months and drops")
	only := flag.String("family", "", "simulate one family only (NPS, CSAT or CES)")
	onlyVolume := flag.Float64("volume", 0, "simulate one volume only (responses per 30 days)")
	onlySegments := flag.Int("segments", 0, "simulate one segment count only (false-task table)")
	trialsFlag := flag.Int("trials", 0, "drops and fixes simulated per case (default 10,000)")
	flag.Parse()
	volumes := []float64{400, 2000, 10000}
	if *onlyVolume > 0 {
		volumes = []float64{*onlyVolume}
	}
	segmentCounts := []int{1, 10, 1000}
	if *onlySegments > 0 {
		segmentCounts = []int{*onlySegments}
	}
	months, trials := 5000, 10000
	if *quick {
		months, trials = 500, 200
	}
	if *trialsFlag > 0 {
		trials = *trialsFlag
	}
	start := time.Now()
	fmt.Println("## False tasks on stable data at the target (budget 1 per 100 metric-months)")
	fmt.Println()
	fmt.Println("| metric | responses / 30 days | segments | metric-months | false tasks | per 100 metric-months | 95 % upper bound |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	worst := 0.0
	for _, f := range families {
		if *only != "" && f.name != *only {
			continue
		}
		for _, vol := range volumes {
			for _, segs := range segmentCounts {
				const shards = 20
				per := months / shards
				counts := parallel(shards, func(i int) int { return falseTasks(f, vol, segs, per, uint64(1000*segs)+uint64(vol)+uint64(i)) })
				total := 0
				for _, c := range counts {
					total += c
				}
				mm := float64(per * shards)
				upper := poissonUpper(total) / mm * 100
				worst = math.Max(worst, upper)
				fmt.Printf("| %s | %.0f | %d | %.0f | %d | %.2f | %.2f |\n", f.name, vol, segs, mm, total, float64(total)/mm*100, upper)
			}
		}
	}
	fmt.Printf("\nWorst 95 %% upper bound: %.2f per 100 metric-months (goal: at most 1.5).\n\n", worst)

	fmt.Printf("## Detection of step drops (one segment, detector in steady state 90 to 300 days; %d drops a case)\n", trials)
	fmt.Println()
	fmt.Println("| metric | responses / 30 days | drop | within 7 days | within 14 days | within 30 days | median delay (days) |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	for _, f := range families {
		if *only != "" && f.name != *only {
			continue
		}
		for _, vol := range volumes {
			for _, mult := range []float64{1, 2} {
				delays := parallel(trials, func(i int) float64 { return detection(f, vol, mult*f.shift, uint64(i)) })
				sort.Float64s(delays)
				within := func(d float64) float64 {
					k := sort.SearchFloat64s(delays, d+0.5)
					return 100 * float64(k) / float64(len(delays))
				}
				med := delays[len(delays)/2]
				medText := fmt.Sprintf("%.0f", med)
				if math.IsInf(med, 1) {
					medText = "> 120"
				}
				fmt.Printf("| %s | %.0f | %g | %.1f %% | %.1f %% | %.1f %% | %s |\n", f.name, vol, mult*f.shift,
					within(7), within(14), within(30), medText)
			}
		}
	}

	fmt.Println()
	fmt.Printf("## Verification within a 30-day window (looks every day; %d fixes a case)\n", trials)
	fmt.Println()
	fmt.Println("| metric | responses / 30 days | fix did nothing: verified | fix restored the target: verified |")
	fmt.Println("| --- | --- | --- | --- |")
	for _, f := range families {
		if *only != "" && f.name != *only {
			continue
		}
		for _, vol := range volumes {
			nothing := parallel(trials, func(i int) bool { return verification(f, vol, f.target-f.shift, uint64(i)) })
			restored := parallel(trials, func(i int) bool { return verification(f, vol, f.target, uint64(i+trials)) })
			fmt.Printf("| %s | %.0f | %.1f %% | %.1f %% |\n", f.name, vol, share(nothing), share(restored))
		}
	}
	fmt.Fprintf(os.Stderr, "\nsimulated in %s on %d cores\n", time.Since(start).Round(time.Second), runtime.GOMAXPROCS(0))
}

func share(xs []bool) float64 {
	k := 0
	for _, x := range xs {
		if x {
			k++
		}
	}
	return 100 * float64(k) / float64(len(xs))
}

// poissonUpper is the exact 95 % upper confidence bound of a Poisson mean
// after observing k events (Garwood), by bisection on the CDF.
func poissonUpper(k int) float64 {
	cdf := func(mu float64) float64 {
		s, term := 0.0, math.Exp(-mu)
		for i := 0; i <= k; i++ {
			s += term
			term *= mu / float64(i+1)
		}
		return s
	}
	lo, hi := 0.0, float64(k)+10*math.Sqrt(float64(k)+1)+10
	for i := 0; i < 100; i++ {
		mid := (lo + hi) / 2
		if cdf(mid) > 0.025 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
