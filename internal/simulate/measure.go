package simulate

import (
	"fmt"
	"math"
	"sort"

	"github.com/cxloop/cxloop/internal/loop"
)

// Result is one case's measurement.
type Result struct {
	Case Case
	// MetricMonths are the stable metric-months counted and FalseTasks the
	// tasks opened on them, across the metric's segments.
	MetricMonths float64
	FalseTasks   int
	// Detection is one row per detection drop, FixedNothing one per fix
	// drop; Restored is the fix that restored the level after a drop of δ.
	Detection    []Detection
	FixedNothing []Fix
	Restored     Fix
}

// Rate is the false tasks per 100 metric-months.
func (r Result) Rate() float64 { return 100 * float64(r.FalseTasks) / r.MetricMonths }

// Upper is the rate's exact 95 % upper confidence bound (Garwood).
func (r Result) Upper() float64 { return 100 * poissonUpper(r.FalseTasks) / r.MetricMonths }

// Detection is how fast drops of one size opened a task.
type Detection struct {
	// Drop is in δ.
	Drop   float64
	Trials int
	// Within7, Within14 and Within30 are shares of the trials, 0..1.
	Within7, Within14, Within30 float64
	// Median is the median delay in days; +Inf when most drops went
	// undetected within the horizon.
	Median float64
	// Masked is the share of drops that came while an episode opened
	// before them was still open (counted undetected until it ended).
	Masked float64
}

// Fix is how the tasks opened after drops of one size closed.
type Fix struct {
	Drop float64
	// Tasks is the trials in which a task opened after the drop.
	Tasks int
	// Verified and Recovered count the tasks that closed so.
	Verified, Recovered int
}

// Closed is the share of tasks closed as Verified or Recovered, 0..1.
func (f Fix) Closed() float64 {
	if f.Tasks == 0 {
		return math.NaN()
	}
	return float64(f.Verified+f.Recovered) / float64(f.Tasks)
}

// VerifiedShare is the share of tasks closed as Verified, 0..1.
func (f Fix) VerifiedShare() float64 {
	if f.Tasks == 0 {
		return math.NaN()
	}
	return float64(f.Verified) / float64(f.Tasks)
}

// Measure runs a case: stable histories for false tasks, and drop trials
// for detection and verification, in parallel with fixed seeds.
func Measure(c Case, o Options) (Result, error) {
	o = o.withDefaults()
	res := Result{Case: c}
	shards := max(1, (o.Months+o.ShardMonths-1)/o.ShardMonths)
	type count struct {
		n      int
		months float64
		err    error
	}
	counts := Parallel(shards, func(i int) count {
		n, mm, err := FalseTasks(c, o, i)
		return count{n, mm, err}
	})
	for _, k := range counts {
		if k.err != nil {
			return res, k.err
		}
		res.FalseTasks += k.n
		res.MetricMonths += k.months
	}

	drops := map[float64]bool{}
	var all []float64
	for _, d := range append(append([]float64(nil), o.Drops...), o.FixDrops...) {
		if !drops[d] {
			drops[d] = true
			all = append(all, d)
		}
	}
	sort.Float64s(all)
	trials := map[float64][]Trial{}
	for _, d := range all {
		type out struct {
			t   Trial
			err error
		}
		outs := Parallel(o.Trials, func(i int) out {
			t, err := DropTrial(c, o, d, i, d == 1 && contains(o.FixDrops, 1))
			return out{t, err}
		})
		for _, x := range outs {
			if x.err != nil {
				return res, x.err
			}
			trials[d] = append(trials[d], x.t)
		}
	}
	for _, d := range o.Drops {
		res.Detection = append(res.Detection, detection(d, trials[d]))
	}
	for _, d := range o.FixDrops {
		f := Fix{Drop: d}
		for _, t := range trials[d] {
			if math.IsInf(t.Delay, 1) {
				continue
			}
			f.Tasks++
			switch t.Outcome {
			case loop.Verified:
				f.Verified++
			case loop.Recovered:
				f.Recovered++
			}
			if d == 1 {
				res.Restored.Drop = 1
				res.Restored.Tasks++
				switch t.Restored {
				case loop.Verified:
					res.Restored.Verified++
				case loop.Recovered:
					res.Restored.Recovered++
				}
			}
		}
		res.FixedNothing = append(res.FixedNothing, f)
	}
	return res, nil
}

func detection(drop float64, ts []Trial) Detection {
	delays := make([]float64, len(ts))
	for i, t := range ts {
		delays[i] = t.Delay
	}
	sort.Float64s(delays)
	within := func(d float64) float64 {
		return float64(sort.SearchFloat64s(delays, d+0.5)) / float64(max(1, len(delays)))
	}
	masked := 0
	for _, t := range ts {
		if t.Masked {
			masked++
		}
	}
	det := Detection{Drop: drop, Trials: len(ts), Within7: within(7), Within14: within(14), Within30: within(30), Median: math.Inf(1),
		Masked: float64(masked) / float64(max(1, len(ts)))}
	if len(delays) > 0 {
		det.Median = delays[len(delays)/2]
	}
	return det
}

func contains(xs []float64, x float64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// String is a one-line summary, for logs and test failures.
func (r Result) String() string {
	return fmt.Sprintf("%s: %d false tasks in %.0f metric-months (%.2f per 100, upper %.2f)", r.Case.Name, r.FalseTasks,
		r.MetricMonths, r.Rate(), r.Upper())
}
