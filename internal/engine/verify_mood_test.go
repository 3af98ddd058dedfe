package engine_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// moodDays is a source of NPS answers held as prefix sums of counts per
// day (detractors, passives, promoters), answering any range of whole days.
type moodDays struct {
	start time.Time
	// prefix[d] counts the days before d.
	prefix [][3]int64
}

func (s *moodDays) Query(_ context.Context, _ measure.Definition, _ source.Query, from, to time.Time) (*source.Result, error) {
	index := func(at time.Time) int {
		d := int(math.Ceil(at.Sub(s.start).Hours() / 24))
		return max(0, min(len(s.prefix)-1, d))
	}
	lo, hi := index(from), index(to)
	st := &measure.Stats{}
	for k, score := range []int64{0, 7, 10} {
		if n := s.prefix[max(lo, hi)][k] - s.prefix[lo][k]; n > 0 {
			cell := measure.Cell{N: n, W: float64(n), W2: float64(n)}
			st.Total.Merge(cell)
			st.MergeScore(score, cell)
		}
	}
	return &source.Result{Overall: st, Segments: map[string]*source.Segment{}, Statement: "mood"}, nil
}

func (*moodDays) Check(context.Context) error { return nil }
func (*moodDays) Close() error                { return nil }

// draw fills days of perDay answers each at the null 27.5 moved by a
// common AR(1) mood of standard deviation sd and correlation time tau
// days (tau 0: a fresh mood every day), started from its stationary law.
func (s *moodDays) draw(r *rand.Rand, days, perDay int, sd, tau float64) {
	rho := 0.0
	if tau > 0 {
		rho = math.Exp(-1 / tau)
	}
	mood := sd * r.NormFloat64()
	s.prefix = append(s.prefix[:0], [3]int64{})
	for range days {
		lift := mood / 200
		prom, det := 0.4375+lift, 0.1625-lift
		c := s.prefix[len(s.prefix)-1]
		for range perDay {
			switch u := r.Float64(); {
			case u < det:
				c[0]++
			case u < det+prom:
				c[2]++
			default:
				c[1]++
			}
		}
		s.prefix = append(s.prefix, c)
		mood = rho*mood + sd*math.Sqrt(1-rho*rho)*r.NormFloat64()
	}
}

// A fix that did nothing under a common day-to-day mood closes as Verified
// at most at the task's level over all its attempts, through Verify as the
// task reconciler calls it: the fresh data is worth the units its mood
// leaves (the calibration's dispersion D, inflated for D's standard
// error), the early looks and the final look alike. NPS at the detector's
// reference 27.5 (target 30, δ = 5), 333 answers a day (10,000 a month),
// a 30-day verify window, the owner resolving again a week after each
// reopening, three attempts. Each case also judges the same data as
// independent answers (no calibration), which must close more often than
// the level: the mood is strong enough that ignoring it verifies by luck.
//
// "estimated D" draws the calibration's D per trial from its error (a
// normal of standard deviation half of D, never below zero), the
// estimate a year of history gives: the level must hold on average over
// it, which a plug-in D alone does not (the same estimates without their
// error close more than the level).
func TestAFixThatDidNothingUnderAMoodClosesAtMostAtTheLevel(t *testing.T) {
	const trials, perDay, attempts = 600, 333, 3
	day := 24 * time.Hour
	m := npsMetric(day, 30*day)
	m.Query.Segments = nil
	m.VerifyWindow = 30 * day
	sigma := math.Sqrt(6000 - 27.5*27.5)
	for _, c := range []struct {
		name      string
		sd, tau   float64
		errShare  float64
		estimated bool
		seed      uint64
	}{
		{"a mood that persists for a week, D known", 2, 7, 0, false, 31},
		{"a fresh mood every day, D known", 3, 0, 0, false, 32},
		{"a fresh mood every day, estimated D", 4, 0, 1, true, 33},
	} {
		t.Run(c.name, func(t *testing.T) {
			rho := 0.0
			if c.tau > 0 {
				rho = math.Exp(-1 / c.tau)
			}
			dispersion := c.sd * c.sd * (1 + rho) / (1 - rho)
			r := rand.New(rand.NewPCG(c.seed, 9))
			src := &moodDays{start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
			verified, plugIn, independent := 0, 0, 0
			for range trials {
				src.draw(r, attempts*37, perDay, c.sd, c.tau)
				task := Task{Objective: TaskObjective{Direction: AtLeast, Target: 30, MinShift: 5},
					Sigma: sigma, Dispersion: dispersion, DispersionError: c.errShare * dispersion}
				if c.estimated {
					task.Dispersion = math.Max(0, dispersion*(1+c.errShare*r.NormFloat64()))
				}
				bare := task
				bare.DispersionError = 0
				if closedVerified(t, src, m, task, attempts) {
					verified++
				}
				if c.estimated && closedVerified(t, src, m, bare, attempts) {
					plugIn++
				}
				if closedVerified(t, src, m, Task{Objective: task.Objective}, attempts) {
					independent++
				}
			}
			share := float64(verified) / trials
			t.Logf("D %.1f: Verified %.1f %% (D's error ignored %.1f %%, independent answers %.1f %%)", dispersion,
				100*share, 100*float64(plugIn)/trials, 100*float64(independent)/trials)
			if share > detect.DefaultLevel {
				t.Fatalf("a fix that did nothing closed as Verified %.1f %% of the time, above the level %.0f %%", 100*share, 100*detect.DefaultLevel)
			}
			if float64(independent)/trials <= detect.DefaultLevel {
				t.Fatalf("judged as independent answers the mood closed only %d of %d: too weak to test the discount", independent, trials)
			}
			if c.estimated && float64(plugIn)/trials <= detect.DefaultLevel {
				t.Fatalf("with D's error ignored the estimates closed only %d of %d: too precise to test the error", plugIn, trials)
			}
		})
	}
}

// closedVerified plays a fix that did nothing through attempts attempts,
// looking every day, and reports whether any attempt closed Verified.
func closedVerified(t *testing.T, src *moodDays, m Metric, task Task, attempts int) bool {
	t.Helper()
	day := 24 * time.Hour
	since := src.start
	for a := 1; a <= attempts; a++ {
		task.Attempt = int32(a)
		deadline := since.Add(m.VerifyWindow)
		for now := since.Add(day + time.Hour); ; now = now.Add(day) {
			check, _, err := Verify(context.Background(), src, m, task, since, deadline, now, 10000)
			if err != nil {
				t.Fatal(err)
			}
			if check == nil {
				continue
			}
			if check.Outcome == loop.Proven {
				return true
			}
			if check.Outcome == loop.Persists || check.Outcome == loop.NotProven {
				break
			}
		}
		// Reopened; the owner resolves again a week later.
		since = m.WindowEnd(since.Add(m.VerifyWindow + 7*day))
	}
	return false
}
