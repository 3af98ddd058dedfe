package detect

import (
	"math"
	"testing"
)

func TestHermiteRuleIntegratesMoments(t *testing.T) {
	var m0, m2, m4 float64
	for i, z := range hermiteNodes {
		m0 += hermiteWeights[i]
		m2 += hermiteWeights[i] * z * z
		m4 += hermiteWeights[i] * z * z * z * z
	}
	// E[1] = 1, E[Z²] = 1, E[Z⁴] = 3.
	if math.Abs(m0-1) > 1e-9 || math.Abs(m2-1) > 1e-9 || math.Abs(m4-3) > 1e-9 {
		t.Fatalf("moments %v %v %v", m0, m2, m4)
	}
}

func TestBaselineUncertaintyRaisesTheThreshold(t *testing.T) {
	const k, volume, batch = 0.035, 2000, 67
	fixed, err := CalibrateBatched(k, volume, DefaultBudget, batch)
	if err != nil {
		t.Fatal(err)
	}
	// A baseline of many units is as good as a fixed target.
	huge, _ := CalibrateWithBaseline(k, volume, DefaultBudget, batch, 1e9)
	if math.Abs(huge-fixed)/fixed > 1e-3 {
		t.Fatalf("baseline of 1e9 units: %v, fixed target: %v", huge, fixed)
	}
	month, _ := CalibrateWithBaseline(k, volume, DefaultBudget, batch, 2000)
	quarter, _ := CalibrateWithBaseline(k, volume, DefaultBudget, batch, 6000)
	if !(month > quarter && quarter > fixed) {
		t.Fatalf("thresholds: month baseline %v, quarter %v, fixed %v", month, quarter, fixed)
	}
	// By hand at zero drift: ARL b² with b = h + 1.166·√batch.
	if got, want := arl0Any(0, 4, 4), math.Pow(4+2*1.166, 2); math.Abs(got-want) > 1e-12 {
		t.Fatalf("arl0Any(0) = %v, want %v", got, want)
	}
}
