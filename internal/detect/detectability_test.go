package detect

import (
	"strings"
	"testing"
	"time"
)

func TestDescribeStatesTheDelay(t *testing.T) {
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 71.4}
	c.Threshold, _ = CalibrateBatched(c.K(), 400, DefaultBudget, 400.0/30)
	d := c.Describe(400, 0, 100)
	// By hand: μ = 5/71.4 − k = 0.035 per unit; b/μ units at 13.3 a day.
	mean, _, _ := c.passage(5)
	want := time.Duration(mean / (400.0 / 30) * float64(24*time.Hour))
	if d.DelayForDelta != want || d.Horizon != DefaultHorizon || !d.Detectable {
		t.Fatalf("%+v, want delay %s", d, want)
	}
	if !strings.Contains(d.Message, "months to detect") || !(d.Shift > 10) {
		t.Fatalf("message %q shift %v", d.Message, d.Shift)
	}
	t.Log(d.Message)
	if got := c.Describe(400, 0, 1); got.Detectable || !strings.Contains(got.Message, "pool segments") {
		t.Fatalf("%+v", got)
	}
}

func BenchmarkCalibrateBatched(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := CalibrateBatched(0.035, 2000*float64(1+i%1000), DefaultBudget, 67); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDescribe(b *testing.B) {
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 71.4, Threshold: 8}
	for i := 0; i < b.N; i++ {
		c.Describe(2000, 0, 100)
	}
}
