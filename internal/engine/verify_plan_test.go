package engine_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/measure"
)

func TestPlanVerificationStatesWhatAFixNeeds(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	nps := npsMetric(24*time.Hour, 30*24*time.Hour)
	// The reference mix, 45 % promoters and 15 % detractors, at 2,000
	// answers in the recorded 30-day window: σ = 71.4.
	se := math.Sqrt(5100.0 / 2000)
	npsTask := Task{EpisodeStart: start, Objective: TaskObjective{Direction: AtLeast, Target: 30, MinShift: 5},
		Baseline: &TaskBaseline{Value: 30, Lower: 30 - 1.959964*se, Upper: 30 + 1.959964*se, Samples: 2000,
			WindowStart: start.Add(-30 * 24 * time.Hour), WindowEnd: start}}
	second := npsTask
	second.Attempt = 2
	moody := npsTask
	moody.Sigma, moody.Dispersion = 71.4, 28
	// A relative objective's 90-day baseline of 6,000 answers: the same
	// 66.7 answers a day, whatever the metric's window.
	seLong := math.Sqrt(5100.0 / 6000)
	longBaseline := npsTask
	longBaseline.Baseline = &TaskBaseline{Value: 30, Lower: 30 - 1.959964*seLong, Upper: 30 + 1.959964*seLong, Samples: 6000,
		WindowStart: start.Add(-90 * 24 * time.Hour), WindowEnd: start}
	rateTarget := 5.0
	rateDef := measure.Definition{Formula: measure.FormulaRate, Source: "tickets"}
	rate := nps
	rate.Definition, rate.Hash = rateDef, rateDef.Hash()
	rate.Objective.Direction, rate.Objective.Target = AtMost, &rateTarget
	rateTask := Task{EpisodeStart: start, Objective: TaskObjective{Direction: AtMost, Target: 5, MinShift: 5}}
	meanDef := measure.Definition{Formula: measure.FormulaMean, Source: "handoffs"}
	mean := nps
	mean.Definition = meanDef
	for _, c := range []struct {
		name          string
		m             Metric
		task          Task
		samples       int64
		null, level   float64
		nLo, nHi      float64
		days          float64
		unknownVolume bool
	}{
		// ((z(1 − 0.0152) · 72.0 + z(0.8) · 71.4) / 2.5)² ≈ 7,460, at 66.7 a day.
		{"NPS, first attempt", nps, npsTask, 0, 27.5, detect.AttemptLevel(0.05, 1), 7400, 7520, 7460.0 / (2000.0 / 30), false},
		{"NPS, second attempt: a smaller share of the level", nps, second, 0, 27.5, detect.AttemptLevel(0.05, 2), 9800, 10400, 10100.0 / (2000.0 / 30), false},
		// A mood of D = 28 a day adds 66.7 · 28 to each answer's variance:
		// ((2.165 · √(72.0² + 1,867) + 0.842 · √(71.4² + 1,867)) / 2.5)² ≈ 10,180.
		{"NPS under a day-to-day mood: fresh answers are worth fewer", nps, moody, 0, 27.5, detect.AttemptLevel(0.05, 1), 10050, 10300, 10180.0 / (2000.0 / 30), false},
		{"NPS against a 90-day baseline: its volume over its own span", nps, longBaseline, 0, 27.5, detect.AttemptLevel(0.05, 1), 7400, 7520, 7460.0 / (2000.0 / 30), false},
		// A 5 % rate at 30 units a month: σ = 21.8 once fixed, 26.3 at the
		// null of 7.5 %: n* ≈ 909, about 30 months away.
		{"rate at 30 units a month", rate, rateTask, 30, 7.5, detect.AttemptLevel(0.05, 1), 890, 930, 909, false},
		{"a mean without a recorded window: unknown", mean, Task{EpisodeStart: start,
			Objective: TaskObjective{Direction: AtLeast, Target: 3, MinShift: 0.3}}, 100, 2.85, detect.AttemptLevel(0.05, 1), 0, 0, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := PlanVerification(c.m, c.task, c.samples)
			if math.Abs(p.Null-c.null) > 1e-9 || math.Abs(p.Level-c.level) > 1e-12 {
				t.Fatalf("plan %+v, want null %v at level %v", p, c.null, c.level)
			}
			if p.RequiredSamples < c.nLo || p.RequiredSamples > c.nHi || RequiredFreshSamples(c.m, c.task, c.samples) != p.RequiredSamples {
				t.Fatalf("n* %v, want %v to %v", p.RequiredSamples, c.nLo, c.nHi)
			}
			if c.unknownVolume {
				if p.ExpectedDuration != 0 {
					t.Fatalf("expected duration %s for an unknown n*", p.ExpectedDuration)
				}
				return
			}
			if got := p.ExpectedDuration.Hours() / 24; math.Abs(got-c.days) > 0.02*c.days {
				t.Fatalf("expected %.1f days to n*, want about %.1f", got, c.days)
			}
		})
	}
}

// The engine verifies a task opened by the CUSUM against the detector's
// reference and measures the improvement from the level before the
// episode: a fix that did nothing persists, a fix that restored the level
// is proven with an improvement of about zero, not the gap to the
// episode's own (selected, so low) value.
func TestVerifyCUSUMTaskFromTheLevelBeforeTheEpisode(t *testing.T) {
	change := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	resolved := change.Add(7 * 24 * time.Hour)
	final := resolved.Add(14 * 24 * time.Hour)
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	m.Query.Segments = nil
	observed := 22.0
	task := Task{EpisodeStart: change, ObservedValue: &observed, Attempt: 1,
		Objective: TaskObjective{Direction: AtLeast, Target: 30, MinShift: 5}}
	for _, c := range []struct {
		name    string
		after   [2]float64
		restore bool
		want    loop.Outcome
	}{
		// NPS 27 after the drop: past the reference (27.5), short of
		// target − δ (25), where a fix that did nothing used to pass.
		{"a shallow drop left as it was", [2]float64{0.44, 0.17}, false, loop.NotProven},
		{"a deep drop left as it was", [2]float64{0.30, 0.30}, false, loop.Persists},
		{"the level restored", [2]float64{0.30, 0.30}, true, loop.Proven},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := &synthetic{perHour: 40, segments: []string{"all"}, before: [2]float64{0.45, 0.15}, after: c.after,
				change: map[string]time.Time{"all": change}}
			if c.restore {
				src.restore = map[string]time.Time{"all": resolved}
			}
			check, _, err := Verify(context.Background(), src, m, task, resolved, final, final, 960*30)
			if err != nil || check == nil {
				t.Fatalf("check %+v, %v", check, err)
			}
			if check.Outcome != c.want {
				t.Fatalf("outcome %s (%s), want %s", check.Outcome, check.Message, c.want)
			}
			imp := check.Improvement
			if c.restore && !(math.Abs(imp.Value) < 2 && imp.Lower < 0 && imp.Upper > 0) {
				t.Fatalf("improvement %+v, want about zero from the level before the episode", imp)
			}
			if !c.restore && !(imp.Value < 0) {
				t.Fatalf("improvement %+v of a fix that did nothing, want below zero", imp)
			}
		})
	}
}
