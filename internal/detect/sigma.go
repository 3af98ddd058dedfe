package detect

import (
	"errors"
	"fmt"
	"math"

	"github.com/cxloop/cxloop/internal/measure"
)

// ErrNoFormulaVariance reports a formula whose in-control variance cannot
// be known without history (means on an open scale): σ must be estimated
// from a baseline.
var ErrNoFormulaVariance = errors.New("formula has no variance at the target without history")

// TargetSigma is the standard deviation of one contribution at the target
// where no history exists. Shares (CSAT, rates, share over a quantile
// threshold) contribute 0 or 100, so σ = 100·sqrt(t(1−t)) at t = target/100.
// An NPS contribution is +100, 0 or −100; at NPS T its variance
// p + d − (p − d)² is largest with no passives, 100²(1 − (T/100)²), the
// conservative choice: a σ too large only makes the detector slower, never
// noisier.
func TargetSigma(formula string, target float64) (float64, error) {
	switch formula {
	case measure.FormulaNPS:
		t := math.Max(-1, math.Min(1, target/100))
		return 100 * math.Sqrt(1-t*t), nil
	case measure.FormulaCSAT, measure.FormulaRate, measure.FormulaPercentile:
		t := math.Max(0, math.Min(1, target/100))
		return 100 * math.Sqrt(t*(1-t)), nil
	}
	return 0, fmt.Errorf("in-control deviation of %q: %w", formula, ErrNoFormulaVariance)
}
