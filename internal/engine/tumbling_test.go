package engine_test

import (
	"context"
	"math"
	"testing"
	"time"

	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// ratioDays is a source of a ratio of sums (a revenue retention, say):
// each day holds units accounts whose end revenue is ratio times their
// start revenue, give or take a little, so every window's RatioSums come
// from the days it spans.
type ratioDays func(day time.Time) (ratio float64, units int)

func (f ratioDays) Query(_ context.Context, d measure.Definition, _ source.Query, from, to time.Time) (*source.Result, error) {
	res := &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}, Statement: "ratio days"}
	for day := from.Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
		if day.Before(from) {
			continue
		}
		ratio, units := f(day)
		for i := range units {
			den := 100 + float64(i%7)
			noise := 0.5 * float64(1-2*(i%2))
			d.Fold(res.Overall, measure.Row{Valid: true, Num: ratio*den + noise, Den: den})
		}
	}
	return res, nil
}

func (ratioDays) Check(context.Context) error { return nil }
func (ratioDays) Close() error                { return nil }

// retentionMetric is a ratio at target 1.0 (AtLeast, δ 0.05) over weekly
// windows evaluated daily: windows close on Mondays.
func retentionMetric() Metric {
	target := 1.0
	def := measure.Definition{Formula: measure.FormulaRatio, Source: "ratio days"}
	return Metric{Namespace: "cx", Name: "retention", UID: "uid-r", Team: "success", Definition: def, Hash: def.Hash(),
		Query:     source.Query{Table: "accounts", Numerator: "end_revenue", Denominator: "start_revenue", Time: "at"},
		Durations: Durations{Window: 168 * time.Hour, Interval: 24 * time.Hour, VerifyWindow: 14 * 24 * time.Hour, DueAfter: 336 * time.Hour},
		Location:  time.UTC,
		Objective: Objective{Direction: AtLeast, Target: &target, Confidence: 0.95, MinSamples: 30, MinShift: 0.05, Budget: 0.01},
		Policy:    Policy{MinFreshSamples: 30, MaxAttempts: 2, MaxOpenTasks: 5}}
}

// A ratio has no per-unit contributions, so its episodes come from whole
// windows laid end to end: one opens only when a closed window breaches,
// starting at that window, stays while closed windows breach, and ends at
// the first one that does not. A window with too few samples changes
// nothing either way.
func TestTumblingWindowsOpenAndEndEpisodes(t *testing.T) {
	monday := func(week int) time.Time { return time.Date(2026, 1, 5+7*week, 0, 0, 0, 0, time.UTC) }
	dropFrom := monday(1).Add(48 * time.Hour) // a Wednesday
	src := ratioDays(func(day time.Time) (float64, int) {
		switch {
		case day.Before(dropFrom):
			return 1.02, 20
		case day.Before(monday(3)):
			return 0.90, 20
		case day.Before(monday(4)):
			return 0.40, 2 // a week of almost no data: 14 samples, under 30
		case day.Before(monday(5)):
			return 1.02, 20
		}
		return 0.40, 2 // far below the target, and too thin to tell
	})
	m := retentionMetric()
	var prior Prior
	for end := monday(0).Add(24 * time.Hour); !end.After(monday(7)); end = end.Add(24 * time.Hour) {
		res, err := Evaluate(context.Background(), src, m, prior, end)
		if err != nil {
			t.Fatalf("%s: %v", end, err)
		}
		prior = res.Prior()
		// Week 1 closes on monday(2) with the drop in five of its days;
		// the windows ending from Friday of week 1 breach when slid, but
		// only a closed window counts. Week 2 breaches, week 3 is too thin
		// to close anything, week 4 is good again and ends the episode;
		// week 5 is too thin to open one.
		wantOpen := !end.Before(monday(2)) && end.Before(monday(5))
		if end.After(dropFrom.Add(48*time.Hour)) && end.Before(monday(2)) && res.Overall.State != measure.StateBreached {
			t.Fatalf("%s: the sliding window is %s; the case wants it breached before any window closes", end, res.Overall.State)
		}
		if !wantOpen {
			if len(res.Episodes) != 0 {
				t.Fatalf("%s (%s): episodes %+v, want none", end.Format("Mon Jan 2"), res.Overall.State, res.Episodes)
			}
			continue
		}
		if len(res.Episodes) != 1 {
			t.Fatalf("%s: episodes %+v, want the one since %s", end.Format("Mon Jan 2"), res.Episodes, monday(1))
		}
		ep := res.Episodes[0]
		if ep.Segment != "" || !ep.Start.Equal(monday(1)) {
			t.Fatalf("%s: episode of %q since %s, want the whole population since %s", end, ep.Segment, ep.Start, monday(1))
		}
		// The evidence is the latest closed window that could be judged.
		want := (2*1.02 + 5*0.90) / 7
		if !end.Before(monday(3)) {
			want = 0.90
		}
		if ep.Evidence.ObservedValue == nil || math.Abs(*ep.Evidence.ObservedValue-want) > 1e-3 {
			t.Fatalf("%s: evidence %v, want the closed window's %.4f", end, ep.Evidence.ObservedValue, want)
		}
		if g := (1.0 - *ep.Evidence.ObservedValue) / 0.05; ep.Gap <= 0 || math.Abs(ep.Gap-g) > 1e-9 {
			t.Fatalf("%s: gap %v, want %v", end, ep.Gap, g)
		}
		if ep.Objective.Target != 1 || ep.Objective.MinShift != 0.05 {
			t.Fatalf("%s: objective %+v", end, ep.Objective)
		}
	}
}

// Evaluating twice at the same window end, or again before the next
// window closes, judges nothing new: the episode and the detector stay as
// they are.
func TestTumblingJudgesEachWindowOnce(t *testing.T) {
	monday := time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)
	low := true
	src := ratioDays(func(day time.Time) (float64, int) {
		if low {
			return 0.90, 20
		}
		return 1.02, 20
	})
	m := retentionMetric()
	first, err := Evaluate(context.Background(), src, m, Prior{}, monday)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Episodes) != 1 {
		t.Fatalf("a breaching closed window opened %+v", first.Episodes)
	}
	// The data changes under the same closed window (a late correction):
	// the window was judged when it closed, and stays judged.
	low = false
	for _, end := range []time.Time{monday, monday.Add(24 * time.Hour), monday.Add(6 * 24 * time.Hour)} {
		again, err := Evaluate(context.Background(), src, m, first.Prior(), end)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Episodes) != 1 || !again.Episodes[0].Start.Equal(first.Episodes[0].Start) ||
			again.Detector.FedUntil != first.Detector.FedUntil {
			t.Fatalf("%s: the closed window was judged again: %+v", end, again.Episodes)
		}
	}
	next, err := Evaluate(context.Background(), src, m, first.Prior(), monday.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Episodes) != 0 {
		t.Fatalf("a good closed window left %+v open", next.Episodes)
	}
}

// A window is judged with the spread of past windows' values when that is
// larger than its own standard error: a ratio whose weeks swing widely
// around the target opens nothing for one low week that sits well within
// its usual swing, though that week's own error alone would call it a
// breach; a steady ratio's drop still opens.
func TestTumblingWindowsAreJudgedWithTheirPastSpread(t *testing.T) {
	monday := func(week int) time.Time { return time.Date(2026, 1, 5+7*week, 0, 0, 0, 0, time.UTC) }
	swinging := func(low time.Time) ratioDays {
		return func(day time.Time) (float64, int) {
			if !day.Before(low) && day.Before(low.Add(7*24*time.Hour)) {
				return 0.96, 20
			}
			week := int(day.Sub(monday(-20)).Hours() / (7 * 24))
			if week%2 == 0 {
				return 1.14, 20
			}
			return 0.94, 20
		}
	}
	m := retentionMetric()
	low := monday(2)
	src := swinging(low)
	// The low week's own standard error puts it below the reference.
	r, _ := src.Query(context.Background(), m.Definition, m.Query, low, low.Add(7*24*time.Hour))
	est, err := measure.Compute(m.Definition, r.Overall, 0.95, 30)
	if err != nil || !(est.Value+3*est.StdErr < 0.975) {
		t.Fatalf("the low week: %+v (%v), want it below the reference by its own error", est, err)
	}
	var prior Prior
	for end := monday(0).Add(24 * time.Hour); !end.After(monday(4)); end = end.Add(24 * time.Hour) {
		res, err := Evaluate(context.Background(), src, m, prior, end)
		if err != nil {
			t.Fatalf("%s: %v", end, err)
		}
		if len(res.Episodes) > 0 {
			t.Fatalf("%s: episode %+v opened within the usual swing (past windows %v)", end, res.Episodes[0], res.Detector.Calibration.WindowValues)
		}
		prior = res.Prior()
	}
	if c := prior.Detector.Calibration; c == nil || len(c.WindowValues) < 12 {
		t.Fatalf("calibration %+v, want the past windows' values kept", c)
	}

	// Steady weeks at 1.02, then 0.90: the drop opens at its first
	// whole window.
	steady := ratioDays(func(day time.Time) (float64, int) {
		if day.Before(monday(2)) {
			return 1.02, 20
		}
		return 0.90, 20
	})
	prior = Prior{}
	opened := false
	for end := monday(0).Add(24 * time.Hour); !end.After(monday(4)); end = end.Add(24 * time.Hour) {
		res, err := Evaluate(context.Background(), steady, m, prior, end)
		if err != nil {
			t.Fatalf("%s: %v", end, err)
		}
		opened = opened || len(res.Episodes) > 0
		prior = res.Prior()
	}
	if !opened {
		t.Fatal("a steady ratio's drop of 0.12 opened no episode")
	}
}

// With fewer than two past windows a value without sampling error is
// still judged with an error of half the minimum shift: never as exact.
func TestWindowsWithoutHistoryAreNeverExact(t *testing.T) {
	m := retentionMetric()
	exact := ratioDays(func(day time.Time) (float64, int) {
		if day.Before(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)) {
			return 0, 0 // no history
		}
		return 0.97, 20
	})
	res, err := Evaluate(context.Background(), exact, m, Prior{}, time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Episodes) != 0 {
		t.Fatalf("first window at 0.97 with no history opened %+v, want the missing history to count", res.Episodes)
	}
}

// Status tells what a typical and the smallest segment can detect, not
// only the average over the segments and the whole population: with equal
// segments, each sees less than the average and the median is the
// smallest.
func TestDetectabilityOfTheMedianAndSmallestSegment(t *testing.T) {
	src := &synthetic{perHour: 3, segments: []string{"kickoff", "integration", "training"}, before: [2]float64{0.45, 0.15}}
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	res, err := Evaluate(context.Background(), src, m, Prior{}, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	d := res.Detector
	if d.DetectableShift == nil || d.DetectableShiftMedianSegment == nil || d.DetectableShiftSmallestSegment == nil {
		t.Fatalf("detector %+v, want the average's, the median's and the smallest segment's detectable shifts", d)
	}
	if !(*d.DetectableShiftMedianSegment > *d.DetectableShift) || *d.DetectableShiftSmallestSegment != *d.DetectableShiftMedianSegment {
		t.Fatalf("detectable shifts: average %v, median %v, smallest %v; want a segment's above the average and equal segments alike",
			*d.DetectableShift, *d.DetectableShiftMedianSegment, *d.DetectableShiftSmallestSegment)
	}
}

// A relative objective's frozen baseline is an estimate: its error raises
// the detector's threshold above that of the same metric held to a fixed
// target at the baseline's value.
func TestABaselinesErrorRaisesTheThreshold(t *testing.T) {
	src := &synthetic{perHour: 3, segments: []string{"all"}, before: [2]float64{0.45, 0.15}}
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	relative := npsMetric(24*time.Hour, 30*24*time.Hour)
	relative.Objective.Target, relative.Objective.Relative = nil, &Relative{MaxChange: 0}
	relative.BaselineWindow = 30 * 24 * time.Hour
	rel, err := Evaluate(context.Background(), src, relative, Prior{}, at)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Baseline == nil || rel.Target == nil {
		t.Fatalf("no baseline: %+v", rel)
	}
	fixed := npsMetric(24*time.Hour, 30*24*time.Hour)
	fixed.Objective.Target = rel.Target
	fix, err := Evaluate(context.Background(), src, fixed, Prior{}, at)
	if err != nil {
		t.Fatal(err)
	}
	if !(rel.Detector.Threshold > fix.Detector.Threshold) {
		t.Fatalf("threshold %v against a baseline of %d samples, %v against the same level fixed: want the baseline's error to raise it",
			rel.Detector.Threshold, rel.Baseline.Samples, fix.Detector.Threshold)
	}
}
