package engine_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/measure"
)

func loopTaskName(m Metric, start time.Time) string { return loop.TaskName(m.Name, m.UID, "", start) }

// npsDay is one day's answers drawn exactly from a multinomial.
func npsDay(r *rand.Rand, n int, promoters, detractors float64) measure.Contribution {
	p, d := 0, 0
	for i := 0; i < n; i++ {
		switch u := r.Float64(); {
		case u < promoters:
			p++
		case u < promoters+detractors:
			d++
		}
	}
	return measure.Contribution{Units: measure.Cell{N: int64(n), W: float64(n), W2: float64(n)},
		SumWX: float64(100 * (p - d)), SumWX2: float64(1e4 * (p + d))}
}

// A drop that persists is never closed as Recovered: recovery without
// action is judged only on data after the episode's end (the detector's
// statistic back at zero), so while the drop holds the episode open there
// is nothing to judge, and an episode that ends by chance leaves fresh data
// still at the drop, which the test against the detector's reference
// rejects at most at its level. NPS at 2,000 answers a month (67 a day),
// target 30, δ = 5, the CUSUM calibrated to 1 false task per 100
// metric-months; 2,000 drops each followed for 180 days.
func TestRecoveredIsNotReachedForAPersistingDrop(t *testing.T) {
	const trials, days, perDay = 2000, 180, 67
	tolerance := 3 * math.Sqrt(0.05*0.95/trials)
	sigma := math.Sqrt(5100)
	cfg := detect.Config{Direction: detect.AtLeast, Reference: 30, Shift: 5, Sigma: sigma}
	h, err := detect.CalibrateBatched(cfg.K(), 2000, 0.01, perDay)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Threshold = h
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	day0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name                  string
		promoters, detractors float64
		seed                  uint64
	}{
		{"drop δ/2", 0.44, 0.165, 21},
		{"drop 3δ/4", 0.435, 0.1725, 22},
		{"drop δ", 0.43, 0.18, 23},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(c.seed, 5))
			recovered, opened := 0, 0
			for i := 0; i < trials; i++ {
				var st detect.SegmentState
				var task *Task
				var ended *time.Time
				var sinceEnd measure.Contribution
				for d := 0; d < days; d++ {
					from := day0.Add(time.Duration(d) * 24 * time.Hour)
					batch := npsDay(r, perDay, c.promoters, c.detractors)
					if ended != nil {
						sinceEnd.Merge(batch)
					}
					next, isNew := cfg.Step(st, batch, from, from.Add(24*time.Hour))
					if isNew && task == nil {
						task = &Task{EpisodeStart: next.EpisodeStart, Attempt: 1,
							Objective: TaskObjective{Direction: AtLeast, Target: 30, MinShift: 5}}
						opened++
					}
					if task != nil && ended == nil && !next.EpisodeStart.Equal(task.EpisodeStart) {
						end := from.Add(24 * time.Hour)
						ended = &end
					}
					st = next
					if task == nil {
						continue
					}
					since, ok := RecoverySince(nil, *task, ended)
					if ended == nil && ok {
						t.Fatalf("a recovery start %s while the episode is open", since)
					}
					if ok && recoveryProven(m, *task, sinceEnd) {
						recovered++
						break
					}
				}
			}
			share := float64(recovered) / trials
			t.Logf("%d of %d drops opened a task; Recovered %.2f %%", opened, trials, 100*share)
			if share > detect.DefaultLevel+tolerance {
				t.Fatalf("a drop that persists closed as Recovered %.1f %% of the time", 100*share)
			}
		})
	}
}

// recoveryProven is the recovery-without-action look on fresh, as Verify
// makes it: no window end, against the detector's reference.
func recoveryProven(m Metric, task Task, fresh measure.Contribution) bool {
	p := PlanVerification(m, task, 2000)
	v := detect.Verify(detect.VerifyInput{Fresh: fresh, Direction: detect.AtLeast, Null: p.Null, Min: -100, Max: 100,
		Level: detect.DefaultLevel, MinSamples: float64(m.Policy.MinFreshSamples), PlannedSamples: 2000.0 * 14 / 30,
		PlannedSigma: 100 * math.Sqrt(1-0.09)})
	return v.Verdict == detect.Proven
}

// A task closed as Recovered does not silence the metric: the episode it
// belonged to has ended (Recovered is judged only after that), so a drop
// that comes back starts a new episode, whose start names a new task.
func TestANewEpisodeAfterARecoveredTaskGetsANewTask(t *testing.T) {
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	first := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	second := first.Add(20 * 24 * time.Hour)
	closed := []ExistingTask{{Name: loopTaskName(m, first), Open: false}}
	ep := func(start time.Time) Episode {
		return Episode{Start: start, WeightShare: 1, Gap: 1, Objective: TaskObjective{Direction: AtLeast, Target: 30, MinShift: 5}}
	}
	for _, c := range []struct {
		name   string
		ep     Episode
		create int
	}{
		{"the recovered episode itself: no second task", ep(first), 0},
		{"a new episode after it: a new task", ep(second), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan := PlanTasks(m, []Episode{c.ep}, closed, TeamLoad{}, second)
			if len(plan.Create) != c.create {
				t.Fatalf("plan %+v, want %d new tasks", plan, c.create)
			}
		})
	}
}
