package detect

import (
	"math"
	"testing"
	"time"
)

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
	// 400 fresh NPS units at mean 33, sd 50 (sample sd 50·sqrt(400/399)),
	// null 27.5 (target 30, δ 5), final look at 0.05/2: the null deviation is
	// the fresh variance's share of its maximum, 2500/(100² − 33²), moved to
	// the null: sqrt(2500·(100² − 27.5²)/(100² − 33²)) = 50.9 > 50.06.
	in := VerifyInput{Fresh: batch(400, 33, 50), Direction: AtLeast, Null: 27.5, Min: -100, Max: 100,
		Baseline: 31, BaselineSE: 1, Level: 0.05, Hybrid: true, MinSamples: 30, PlannedSamples: 400, PlannedSigma: 50, Final: true}
	v := Verify(in)
	sdTest := math.Sqrt(2500.0 * 400 / 399 * (1e4 - 27.5*27.5) / (1e4 - 33*33))
	se := sdTest / 20
	if v.Verdict != Proven || math.Abs(v.Improvement-2) > 1e-9 ||
		math.Abs(v.ImprovementLower-(2-1.959964*math.Hypot(se, 1))) > 1e-4 || math.Abs(v.Lower-(33-1.959964*se)) > 1e-4 {
		t.Fatalf("%+v", v)
	}
	// The same data on an early look: the betting sequence at 0.025 is wider.
	// In [0, 1] units ȳ = 0.665, m = 0.6375, Σ(y − m)² = 400·(0.0625 + 0.0275²),
	// λ = sqrt(2·log 40/(0.0625·400)) = 0.543 → 0.5.
	in.Final = false
	e := Verify(in)
	q := 400 * (2500.0/40000 + 0.0275*0.0275)
	hw := (math.Log(40) + (-math.Log(0.5)-0.5)*q) / (0.5 * 400) * 200
	if e.Verdict != Pending || math.Abs(e.Lower-(33-hw)) > 1e-9 || math.Abs(e.Upper-(33+hw)) > 1e-9 {
		t.Fatalf("early look %+v, want half-width %v", e, hw)
	}
	// Far more fresh data at the same mean proves on an early look.
	in.Fresh = batch(4000, 33, 50)
	if e := Verify(in); e.Verdict != Proven || !(e.Lower > 27.5) {
		t.Fatalf("early look on 4,000 units %+v", e)
	}
	// AtMost mirrors: a reopen rate of 18 % with target 10 and δ 5 persists
	// (null 12.5).
	mirror := Verify(VerifyInput{Fresh: batch(2000, 18, 38.4), Direction: AtMost, Null: 12.5, Min: 0, Max: 100,
		Baseline: 10, Level: 0.05, Hybrid: true, MinSamples: 30, PlannedSamples: 2000, PlannedSigma: 30})
	if mirror.Verdict != Persists || mirror.Improvement != -8 || mirror.Message == "" {
		t.Fatalf("AtMost %+v", mirror)
	}
}

// The levels of a task's attempts sum to the task's level.
func TestAttemptLevelsSumToTheTasksLevel(t *testing.T) {
	sum := 0.0
	for j := int32(1); j <= 100000; j++ {
		sum += AttemptLevel(0.05, j)
	}
	if sum > 0.05 || sum < 0.0499 || AttemptLevel(0.05, 0) != AttemptLevel(0.05, 1) || !(AttemptLevel(0.05, 2) < AttemptLevel(0.05, 1)/3) {
		t.Fatalf("levels sum to %v; first %v second %v", sum, AttemptLevel(0.05, 1), AttemptLevel(0.05, 2))
	}
}

func TestRequiredSamplesForTheReferenceNPS(t *testing.T) {
	// 45 % promoters, 15 % detractors: σ² = 6000 − 900.
	sigma := math.Sqrt(5100)
	got := RequiredSamples(sigma, sigma, 2.5, 0.025, VerifyPower)
	if want := math.Pow((1.959964+0.841621)*sigma/2.5, 2); math.Abs(got-math.Ceil(want)) > 1 || got < 6350 || got > 6450 {
		t.Fatalf("n* %v, want about 6,400", got)
	}
	if !math.IsInf(RequiredSamples(sigma, sigma, 0, 0.025, VerifyPower), 1) {
		t.Fatal("no distance to prove needs infinitely many units")
	}
}
