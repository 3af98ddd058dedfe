package detect

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

func TestBoundsAlignToTheInterval(t *testing.T) {
	now := time.Date(2026, 3, 2, 13, 47, 0, 0, time.UTC)
	cases := []struct {
		interval, settle time.Duration
		want             time.Time
	}{
		{24 * time.Hour, 0, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
		{time.Hour, 0, time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)},
		{time.Hour, 2 * time.Hour, time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)},
		{15 * time.Minute, 0, time.Date(2026, 3, 2, 13, 45, 0, 0, time.UTC)},
		{0, time.Minute, now.Add(-time.Minute)},
		// A grace that is not a whole number of intervals still gives an
		// aligned end: the last day that has fully settled.
		{24 * time.Hour, 14 * time.Hour, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		if got := Bounds(now, c.interval, c.settle); !got.Equal(c.want) {
			t.Errorf("Bounds(%s, %s) = %s, want %s", c.interval, c.settle, got, c.want)
		}
	}
}

func TestEvaluateReportsEverySegment(t *testing.T) {
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 50, Threshold: 3}
	st := State{"a": {Statistic: 1, Since: day0}}
	ev := c.Evaluate(st, day0, day0.Add(24*time.Hour), map[string]measure.Contribution{
		"":  batch(200, 30, 50),
		"b": batch(100, 20, 50),
	})
	if len(ev.Verdicts) != 3 || ev.Verdicts[0].Segment != "" || ev.Verdicts[1].Segment != "a" {
		t.Fatalf("verdicts %+v", ev.Verdicts)
	}
	// "a" had no data: unchanged. "b" opened. "" sits at the target: no evidence.
	if ev.Verdicts[1].Statistic != 1 || !ev.Verdicts[2].Open || ev.Verdicts[0].Statistic != 0 {
		t.Fatalf("verdicts %+v", ev.Verdicts)
	}
	if len(ev.Opened) != 1 || ev.Opened[0].Segment != "b" || len(ev.State) != 2 {
		t.Fatalf("opened %+v state %+v", ev.Opened, ev.State)
	}
	if _, err := json.Marshal(ev); err != nil {
		t.Fatal(err)
	}
}

func TestReplayOpensThenRecovers(t *testing.T) {
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 50, Threshold: 3}
	dropFrom, dropTo := day0.Add(10*24*time.Hour), day0.Add(12*24*time.Hour)
	calls := 0
	res, err := Replay(ReplayInput{Config: c, From: day0, To: day0.Add(30 * 24 * time.Hour), Interval: 24 * time.Hour,
		MinFreshSamples: 30,
		Stats: func(from, to time.Time) (map[string]measure.Contribution, error) {
			calls++
			if to.Sub(from) != 24*time.Hour {
				t.Fatalf("batch [%s, %s)", from, to)
			}
			mean := 30.0
			if !from.Before(dropFrom) && from.Before(dropTo) {
				mean = 10
			}
			return map[string]measure.Contribution{"": batch(100, mean, 50)}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 30 {
		t.Fatalf("%d evaluations, want 30", calls)
	}
	if len(res.Events) != 2 {
		t.Fatalf("events %+v", res.Events)
	}
	open, rec := res.Events[0], res.Events[1]
	if open.Kind != EventOpened || !open.EpisodeStart.Equal(dropFrom) || !open.At.Equal(dropFrom.Add(24*time.Hour)) {
		t.Fatalf("opened %+v", open)
	}
	// Fresh data newer than the opening: day 11 still at 10, then at 30.
	// Sequence bound clears the bad level 25 once enough days at 30 come in.
	if rec.Kind != EventRecovered || rec.Verification == nil || rec.Verification.Verdict != Proven || !rec.At.After(open.At) {
		t.Fatalf("recovered %+v", rec)
	}
}

func TestTumblingLevelSplitsTheBudget(t *testing.T) {
	// 1 per 100 months, weekly windows, 10 segments: 0.01·(7/30)/10.
	got, err := TumblingLevel(0.01, 7*24*time.Hour, 10)
	if err != nil || math.Abs(got-0.01*7/30/10) > 1e-15 {
		t.Fatalf("level %v %v", got, err)
	}
	if _, err := TumblingLevel(0.01, 0, 1); err == nil {
		t.Fatal("a zero window must fail")
	}
	// z(0.999) ≈ 3.09: 97 + 3.09·0.5 = 98.5 < 100 − 1 = 99 breaches; 98.6 + 1.55 does not.
	if !TumblingBreach(AtLeast, 97, 0.5, 100, 2, 0.001) || TumblingBreach(AtLeast, 98, 0.5, 100, 2, 0.001) {
		t.Fatal("AtLeast tumbling test")
	}
	if !TumblingBreach(AtMost, 103, 0.5, 100, 2, 0.001) || TumblingBreach(AtMost, 102, 0.5, 100, 2, 0.001) {
		t.Fatal("AtMost tumbling test")
	}
}

func TestVerifyHandComputedLooks(t *testing.T) {
	// 400 fresh units at mean 32, sd 50 (sample sd 50·sqrt(400/399)),
	// bad level 25, final look: se = 2.503, z(0.975) = 1.96, lower 32 − 4.906 − 25 > 0.
	in := VerifyInput{Fresh: batch(400, 32, 50), Direction: AtLeast, Reference: 30, Shift: 5, From: 24,
		MinSamples: 30, PlannedSamples: 400, Final: true}
	v := Verify(in)
	se := 50 * math.Sqrt(400.0/399) / 20
	if v.Verdict != Proven || math.Abs(v.Improvement-8) > 1e-9 || math.Abs(v.ImprovementLower-(8-1.959964*se)) > 1e-4 {
		t.Fatalf("%+v", v)
	}
	// The same data on an early look: the sequence is wider and does not decide.
	in.Final = false
	if v := Verify(in); v.Verdict != Pending || !(32-v.Lower > 1.96*se) {
		t.Fatalf("early look %+v", v)
	}
	// AtMost mirrors: a reopen rate of 18 % with target 10 and δ 5 persists (bad level 15).
	mirror := Verify(VerifyInput{Fresh: batch(2000, 18, 38), Direction: AtMost, Reference: 10, Shift: 5, From: 16,
		MinSamples: 30, PlannedSamples: 2000})
	if mirror.Verdict != Persists || mirror.Improvement != -2 || mirror.Message == "" {
		t.Fatalf("AtMost %+v", mirror)
	}
}

func TestReplayVerifiesOnlyAfterTheResolution(t *testing.T) {
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 50, Threshold: 3}
	d := func(i int) time.Time { return day0.Add(time.Duration(i) * 24 * time.Hour) }
	// The drop starts on day 5; a first fix on day 10 does nothing, a
	// second on day 50 restores the target from day 50.
	stats := func(from, to time.Time) (map[string]measure.Contribution, error) {
		mean := 30.0
		if !from.Before(d(5)) && from.Before(d(50)) {
			mean = 20
		}
		return map[string]measure.Contribution{"": batch(100, mean, 50)}, nil
	}
	res, err := Replay(ReplayInput{Config: c, From: day0, To: d(90), Interval: 24 * time.Hour, MinFreshSamples: 30,
		Resolutions: map[string][]time.Time{"": {d(10), d(50)}}, Stats: stats})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range res.Events {
		kinds = append(kinds, e.Kind)
		if !e.EpisodeStart.Equal(d(5)) {
			t.Fatalf("event %+v belongs to another episode", e)
		}
	}
	want := []string{EventOpened, EventReopened, EventVerified}
	if len(kinds) != len(want) || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	// The fix that did nothing is reopened by the sequence (Persists), not
	// at the window's end; the verification uses only days from 50 on.
	if reopen := res.Events[1]; reopen.Verification.Verdict != Persists || !reopen.At.Before(d(40)) {
		t.Fatalf("reopen %+v", reopen)
	}
	if v := res.Events[2]; !v.At.After(d(50)) || v.Verification.Mean != 30 {
		t.Fatalf("verified %+v", v)
	}
	if _, err := Replay(ReplayInput{Config: c, From: day0, To: d(2), Stats: stats}); err == nil {
		t.Fatal("a replay without an interval must fail")
	}
}

func TestEvaluateStatsFeedsContributions(t *testing.T) {
	nps := measure.Definition{Formula: measure.FormulaNPS}
	s := &measure.Stats{}
	// 10 promoters and 40 detractors: mean contribution (1000 − 4000)/50 = −60.
	s.MergeScore(10, measure.Cell{N: 10, W: 10, W2: 10})
	s.MergeScore(2, measure.Cell{N: 40, W: 40, W2: 40})
	s.Total = measure.Cell{N: 50, W: 50, W2: 50}
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 50, Threshold: 1000}
	ev, err := c.EvaluateStats(nps, nil, day0, day0.Add(24*time.Hour), map[string]*measure.Stats{"": s})
	if err != nil {
		t.Fatal(err)
	}
	// 50·((30 + 60)/50 − 0.05) = 87.5.
	if got := ev.State[""].Statistic; math.Abs(got-87.5) > 1e-9 {
		t.Fatalf("statistic %v, want 87.5", got)
	}
	if _, err := c.EvaluateStats(measure.Definition{Formula: measure.FormulaRatio}, nil, day0, day0, map[string]*measure.Stats{"": s}); !errors.Is(err, measure.ErrNoUnits) {
		t.Fatalf("a ratio of sums: %v", err)
	}
}
