package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/simulate"
)

// dropFindings hold the drop's delays three ways: the manager's, the
// operator's own decision path offline over the same warehouse
// (engine.Replay), and the simulation of the same configuration.
type dropFindings struct {
	// m0000's planted segment: the interval whose data proves the drop
	// (the replay opens its task there) and the one whose evaluation
	// opened the task in the manager; zero when none did.
	proven, managed time.Time
	// The wide Metric's planted segments, in days from the drop's first
	// day: in the manager, in the replay, and in the simulation over every
	// trial.
	bench, replayed []float64
	simulated       []simulate.SegmentDropTrial
	simTook         time.Duration
	// The wide Metric's detector after the replay's last evaluation.
	threshold, dispersion float64
}

// findDrop replays the planted Metrics over the warehouse and simulates
// the wide Metric's drop, trials times.
func findDrop(ctx context.Context, cp *cluster, c scaleConfig, segs []planted, opened map[planted]time.Time, trials int) (dropFindings, error) {
	var f dropFindings
	to := dropFrom.AddDate(0, 0, dropDays)
	replays := map[client.ObjectKey]map[string]time.Time{}
	for _, p := range segs {
		if _, ok := replays[p.metric]; ok {
			continue
		}
		start := time.Now()
		r, det, err := cp.replayOpenings(ctx, p.metric, dropFrom, to)
		if err != nil {
			return f, err
		}
		if p.metric.Name != dropMetric && det != nil {
			f.threshold = det.Threshold
			if det.Calibration != nil {
				f.dispersion = det.Calibration.Dispersion
			}
		}
		fmt.Printf("  replayed %s from %s to %s in %s\n", p.metric, t0.Format(time.DateOnly), to.Format(time.DateOnly), time.Since(start).Round(time.Millisecond))
		replays[p.metric] = r
	}
	var wide []planted
	for _, p := range segs {
		if p.metric.Name == dropMetric {
			f.proven, f.managed = replays[p.metric][p.segment], opened[p]
			continue
		}
		wide = append(wide, p)
	}
	if len(wide) == 0 {
		return f, nil
	}
	f.bench = delays(opened, wide, dropFrom)
	f.replayed = make([]float64, len(wide))
	for i, p := range wide {
		f.replayed[i] = math.Inf(1)
		if at, ok := replays[p.metric][p.segment]; ok {
			f.replayed[i] = at.Sub(dropFrom).Hours() / 24
		}
	}
	if trials <= 0 {
		return f, nil
	}
	var mm cxv1.Metric
	if err := cp.c.Get(ctx, wide[0].metric, &mm); err != nil {
		return f, err
	}
	spec, err := metricspec.Translate(&mm)
	if err != nil {
		return f, err
	}
	// The wide Metric as the warehouse holds it: days counted from its
	// first, accounts on their rota, the quiet days, the drop.
	dayOf := func(t time.Time) int { return days(t.Sub(t0.AddDate(0, 0, -c.historyDays))) }
	sc := simulate.Case{Name: "bench-scale-wide", Formula: measure.FormulaNPS, Direction: spec.Objective.Direction, Level: level,
		Segments: c.wide, Every: wideEvery, Promoters: promoters, Detractors: detractors}
	sd := simulate.SegmentDrop{Metric: spec, History: c.historyDays, Quiet: []int{dayOf(quietDay), dayOf(quietDay.AddDate(0, 0, -windowDays))},
		Change:  simulate.Change{Day: dayOf(dropFrom), By: wideDropBy, Segments: len(wide), PerDay: wideDropPerDay},
		Horizon: dropDays}
	start := time.Now()
	if f.simulated, err = simulate.SegmentDropTrials(sc, sd, trials, 1); err != nil {
		return f, err
	}
	f.simTook = time.Since(start)
	return f, nil
}

// print reports the findings and their bounds.
func (f dropFindings) print(bound func(name string, got, limit float64, unit string)) {
	switch {
	case f.proven.IsZero():
		fmt.Printf("  %-58s none by %s\n", "interval whose data proves m0000's drop (replay)", dropFrom.AddDate(0, 0, dropDays).Format(time.DateOnly))
	case f.managed.IsZero():
		fmt.Printf("  %-58s no task in the manager; the replay's at %s\n", "evaluations of the proving data until its task", f.proven.Format(time.DateOnly))
	default:
		fmt.Printf("  m0000's drop: the replay opens its task at the interval ending %s (the detector's statistical delay: %d days of the drop's data), the manager at %s\n",
			f.proven.Format(time.DateOnly), days(f.proven.Sub(dropFrom)), f.managed.Format(time.DateOnly))
		bound("evaluations after the one of the proving data until its task", float64(days(f.managed.Sub(f.proven))), 0, "")
	}
	if f.bench == nil {
		return
	}
	var all, calm, moved []float64
	for _, t := range f.simulated {
		all = append(all, t.Delays...)
		if t.Dispersion > 0 {
			moved = append(moved, t.Delays...)
		} else {
			calm = append(calm, t.Delays...)
		}
	}
	bm, rm, sm := median(f.bench), median(f.replayed), median(all)
	fmt.Printf("  wide drop in %d segments (%g a day at NPS %g): delays in the manager %v, in the replay %v; threshold %.0f, calibration's dispersion %.2f\n",
		len(f.bench), float64(wideDropPerDay), level-wideDropBy, f.bench, f.replayed, f.threshold, f.dispersion)
	if len(f.simulated) == 0 {
		fmt.Printf("  %-58s %8.2f days, replay %.2f, not simulated (-sim-trials 0)\n", "wide drop's median delay, manager", median(f.bench), median(f.replayed))
		return
	}
	fmt.Printf("  simulation, %d trials × %d segments in %s: delays %s\n", len(f.simulated), len(f.bench), f.simTook.Round(time.Second), histogram(all))
	fmt.Printf("    trials calibrated at a dispersion of 0: %d, median %.2f days; above 0: %d, median %.2f days\n",
		len(calm)/max(1, len(f.bench)), median(calm), len(moved)/max(1, len(f.bench)), median(moved))
	fmt.Printf("    per trial (dispersion, threshold, median delay): %s\n", thresholds(f.simulated))
	fmt.Printf("  %-58s %8.2f days, replay %.2f, simulation %.2f\n", "wide drop's median delay, manager", bm, rm, sm)
	bound("wide drop's median delay, |manager / simulation − 1|", math.Abs(bm/sm-1), 0.1, "")
}

// histogram counts delays by whole day: "4d ×30 5d ×10 …".
func histogram(xs []float64) string {
	counts := map[float64]int{}
	var keys []float64
	for _, x := range xs {
		if counts[x] == 0 {
			keys = append(keys, x)
		}
		counts[x]++
	}
	sort.Float64s(keys)
	out := ""
	for _, k := range keys {
		out += fmt.Sprintf(" %gd ×%d", k, counts[k])
	}
	return strings.TrimSpace(out)
}

// thresholds are the trials' calibrated dispersion, threshold and
// median delay, by dispersion: "D 0.00 h 1930 8d, …".
func thresholds(ts []simulate.SegmentDropTrial) string {
	s := append([]simulate.SegmentDropTrial(nil), ts...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Dispersion < s[j].Dispersion })
	var parts []string
	for _, t := range s {
		parts = append(parts, fmt.Sprintf("D %.2f h %.0f %gd", t.Dispersion, t.Threshold, median(t.Delays)))
	}
	return strings.Join(parts, ", ")
}
