package detect

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// batch builds the contribution of n unweighted units with the given mean
// and standard deviation.
func batch(n, mean, sd float64) measure.Contribution {
	return measure.Contribution{
		Units:  measure.Cell{N: int64(n), W: n, W2: n},
		SumWX:  n * mean,
		SumWX2: n * (sd*sd + mean*mean),
	}
}

func TestARL0MatchesSiegmundByHand(t *testing.T) {
	// k = 0.5, h = 4: b = 5.166, x = 5.166, (e^x − x − 1)/(2·0.25).
	want := (math.Exp(5.166) - 5.166 - 1) / 0.5
	if got := ARL0(0.5, 4); math.Abs(got-want) > 1e-9 {
		t.Fatalf("ARL0 = %v, want %v", got, want)
	}
}

func TestCalibrateSolvesTheBudget(t *testing.T) {
	h, err := Calibrate(0.035, 2000, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if got := ARL0(0.035, h); math.Abs(got-250000)/250000 > 1e-6 {
		t.Fatalf("ARL0(h) = %v, want 250000 units (2,000 a month at 0.8 × 0.01 false tasks a month)", got)
	}
	// More segments, more units: a higher threshold for the same budget.
	h1000, _ := Calibrate(0.035, 2000*2, 0.01)
	if !(h1000 > h) {
		t.Fatalf("threshold for twice the volume %v not above %v", h1000, h)
	}
	if _, err := Calibrate(0.035, 0, 0.01); err == nil {
		t.Fatal("calibrating without volume must fail")
	}
}

func TestStepByHand(t *testing.T) {
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 50, Threshold: 3}
	// k = 0.05. A batch of 100 at mean 20: 100·((30−20)/50 − 0.05) = 15 → capped at 3, episode.
	s, opened := c.Step(SegmentState{}, batch(100, 20, 50), day0, day0.Add(24*time.Hour))
	if !opened || s.Statistic != 3 || !s.EpisodeStart.Equal(day0) || s.Samples != 100 {
		t.Fatalf("drop: %+v opened=%v", s, opened)
	}
	// At the target: 100·(0 − 0.05) = −5 → back to zero, episode closed.
	s2, opened := c.Step(s, batch(100, 30, 50), day0.Add(24*time.Hour), day0.Add(48*time.Hour))
	if opened || !s2.Zero() {
		t.Fatalf("recovery: %+v", s2)
	}
	// A small dip: 100·((30−29)/50 − 0.05) = −3 → nothing.
	if s3, _ := c.Step(SegmentState{}, batch(100, 29, 50), day0, day0.Add(24*time.Hour)); !s3.Zero() {
		t.Fatalf("noise within δ/2 left evidence: %+v", s3)
	}
	// AtMost mirrors: a rise of 10 on a time metric.
	up := Config{Direction: AtMost, Reference: 100, Shift: 5, Sigma: 50, Threshold: 3}
	if s4, opened := up.Step(SegmentState{}, batch(100, 110, 50), day0, day0.Add(24*time.Hour)); !opened || s4.Statistic != 3 {
		t.Fatalf("AtMost rise: %+v", s4)
	}
	// Evidence keeps its start across batches.
	half := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 50, Threshold: 30}
	a, _ := half.Step(SegmentState{}, batch(100, 20, 50), day0, day0.Add(24*time.Hour))
	b, _ := half.Step(a, batch(100, 20, 50), day0.Add(24*time.Hour), day0.Add(48*time.Hour))
	if !b.Since.Equal(day0) || b.Statistic != 30 || !b.EpisodeStart.Equal(day0) {
		t.Fatalf("two batches: %+v", b)
	}
}

func TestRecoveryIsTrackedWhileAnEpisodeIsOpen(t *testing.T) {
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 50, Threshold: 100}
	day := func(i int) time.Time { return day0.Add(time.Duration(i) * 24 * time.Hour) }
	s, _ := c.Step(SegmentState{}, batch(1000, 20, 50), day(0), day(1)) // 1000·(0.2−0.05) = 150 → episode
	if !s.Open() || s.Recovery != 0 {
		t.Fatalf("drop: %+v", s)
	}
	// Still low: the recovery statistic stays at zero.
	s, _ = c.Step(s, batch(100, 24, 50), day(1), day(2))
	if s.Recovery != 0 || !s.RecoverySince.IsZero() {
		t.Fatalf("persisting: %+v", s)
	}
	// Back at the target: 100·((30−27.5)/50) = 5, since day 2.
	s, _ = c.Step(s, batch(100, 30, 50), day(2), day(3))
	if math.Abs(s.Recovery-5) > 1e-9 || !s.RecoverySince.Equal(day(2)) || !s.Open() {
		t.Fatalf("recovering: %+v", s)
	}
	s, _ = c.Step(s, batch(100, 30, 50), day(3), day(4))
	if !s.RecoverySince.Equal(day(2)) {
		t.Fatalf("recovery start moved: %+v", s)
	}
}

func TestFeedKeepsEveryEvidenceAndOnlyEvidence(t *testing.T) {
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 50, Threshold: 100}
	st, opened := c.Feed(nil, Batch{From: day0, Segments: map[string]measure.Contribution{
		"":          batch(300, 29, 50),
		"persona=a": batch(100, 20, 50),
		"persona=b": batch(100, 35, 50),
	}})
	if len(opened) != 0 || len(st) != 1 || math.Abs(st["persona=a"].Statistic-15) > 1e-9 {
		t.Fatalf("state %+v opened %v", st, opened)
	}
	// Ten thousand segments with evidence, the last listed the smallest:
	// a batch that feeds only one of them keeps every other's as it was.
	big := State{}
	for i := 0; i < 10000; i++ {
		big[fmt.Sprintf("account=%05d", i)] = SegmentState{Statistic: float64(10000 - i), Since: day0, Samples: 100}
	}
	next, _ := c.Feed(big, Batch{From: day0.Add(24 * time.Hour), To: day0.Add(48 * time.Hour), Segments: map[string]measure.Contribution{
		"account=09999": batch(100, 20, 50),
	}})
	if len(next) != 10000 {
		t.Fatalf("%d of 10,000 segments kept their evidence", len(next))
	}
	if got := next["account=09999"].Statistic; math.Abs(got-16) > 1e-9 {
		t.Fatalf("the last-listed segment stepped from 1 to %v, want 16", got)
	}
	if got := next["account=00000"]; got != big["account=00000"] {
		t.Fatalf("an unfed segment changed: %+v", got)
	}
}

func TestDetectability(t *testing.T) {
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 71}
	c.Threshold, _ = Calibrate(c.K(), 10000, 0.01)
	fast, ok := c.DetectableShift(10000.0/30, 14*24*time.Hour, 100)
	if !ok {
		t.Fatal("nothing detectable at 10,000 a month")
	}
	slow, ok := c.DetectableShift(400.0/30, 14*24*time.Hour, 100)
	if !ok || !(slow > fast) {
		t.Fatalf("400 a month: %v (ok=%v), 10,000 a month: %v", slow, ok, fast)
	}
	d5, ok := c.ExpectedDelay(5, 10000.0/30)
	d10, _ := c.ExpectedDelay(10, 10000.0/30)
	if !ok || !(d10 < d5) {
		t.Fatalf("delays: δ %v, 2δ %v", d5, d10)
	}
	if _, ok := c.ExpectedDelay(2, 100); ok {
		t.Fatal("a shift below δ/2 has no drift and is never detected")
	}
}

func TestConfigure(t *testing.T) {
	c, perMonth, err := Configure(Setup{Direction: AtLeast, Reference: 30, Formula: "nps",
		Window:       map[string]measure.Contribution{"": batch(2000, 30, 71), "persona=a": batch(1000, 30, 71), "persona=b": batch(1000, 30, 71)},
		WindowLength: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if c.Shift != 5 || math.Abs(c.Sigma-71) > 0.1 || math.Abs(perMonth-4000) > 1e-6 {
		t.Fatalf("config %+v per month %v", c, perMonth)
	}
	if got := ARL0(c.K(), c.Threshold); math.Abs(got-500000)/500000 > 1e-6 {
		t.Fatalf("ARL0 %v, want 4,000 units a month / (0.8 × 0.01)", got)
	}
}
