package engine

import (
	"math"
	"testing"

	"github.com/cxloop/cxloop/internal/measure"
)

// Fresh data over intervals that share a mood is worth fewer units: the
// mean and the per-unit variance stay, the effective number of units is
// 1/(1/n + D/(σ²·I)), and without dispersion nothing changes.
func TestFreshDataIsDiscountedForTheMetricsDispersion(t *testing.T) {
	c := measure.Contribution{Units: measure.Cell{N: 3000, W: 3000, W2: 3000}, SumWX: 3000 * 28, SumWX2: 3000 * 5000}
	got := discount(c, 10, 70, 49)
	want := 1 / (1/3000.0 + 49/(70*70*10.0))
	if n := got.Units.EffectiveN(); math.Abs(n-want) > 1e-9 {
		t.Fatalf("effective units %v, want %v", n, want)
	}
	if math.Abs(got.Mean()-c.Mean()) > 1e-12 || math.Abs(got.Variance()-c.Variance()) > 1e-9 {
		t.Fatalf("mean %v variance %v, want %v and %v unchanged", got.Mean(), got.Variance(), c.Mean(), c.Variance())
	}
	if same := discount(c, 10, 70, 0); same != c {
		t.Fatalf("without dispersion: %+v, want the data unchanged", same)
	}
	task := Task{}.WithCalibration(&Detector{Calibration: &Calibration{Sigma: 70, Dispersion: 49}})
	if task.Sigma != 70 || task.Dispersion != 49 {
		t.Fatalf("task %+v, want the detector's calibration", task)
	}
}
