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
