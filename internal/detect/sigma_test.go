package detect

import (
	"errors"
	"math"
	"testing"

	"github.com/cxloop/cxloop/internal/measure"
)

func TestTargetSigmaByHand(t *testing.T) {
	cases := []struct {
		formula string
		target  float64
		want    float64
	}{
		{measure.FormulaCSAT, 80, 40},                          // 100·sqrt(0.8·0.2)
		{measure.FormulaRate, 50, 50},                          // 100·sqrt(0.25)
		{measure.FormulaNPS, 0, 100},                           // all promoters or detractors
		{measure.FormulaNPS, 60, 80},                           // 100·sqrt(1 − 0.36)
		{measure.FormulaPercentile, 10, 100 * math.Sqrt(0.09)}, // share over the threshold
	}
	for _, c := range cases {
		got, err := TargetSigma(c.formula, c.target)
		if err != nil || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("TargetSigma(%s, %v) = %v, %v; want %v", c.formula, c.target, got, err, c.want)
		}
	}
	if _, err := TargetSigma(measure.FormulaMean, 3); !errors.Is(err, ErrNoFormulaVariance) {
		t.Fatalf("mean without history: %v", err)
	}
}
