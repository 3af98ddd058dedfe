package detect

import (
	"fmt"
	"time"
)

// month is the budget's unit of time: 30 days.
const month = 30 * 24 * time.Hour

// TumblingLevel is the one-sided test level per window for a metric
// without per-unit contributions (ratios of sums such as NRR, gauges,
// derived expressions), judged on non-overlapping windows of length window:
// a metric sitting at its reference breaches a window's test with
// probability level, so with segments segments (the whole population
// counted as one) it opens budget false tasks a month when
// level = budget · window/month / segments.
func TumblingLevel(budget float64, window time.Duration, segments int) (float64, error) {
	if budget <= 0 {
		budget = DefaultBudget
	}
	if window <= 0 || segments < 1 {
		return 0, fmt.Errorf("tumbling level: window %s and segments %d must be positive", window, segments)
	}
	return min(0.5, budget*float64(window)/float64(month)/float64(segments)), nil
}

// TumblingBreach is the tumbling-window test: it reports whether a closed
// window's value with standard error se lies beyond reference − shift/2
// (AtLeast; mirrored for AtMost) at the one-sided level, the same reference
// value as the CUSUM. Each window is judged once, when it closes.
func TumblingBreach(dir Direction, value, se, reference, shift, level float64) bool {
	z := normalQuantile(1 - level)
	ref := reference - shift/2
	if dir == AtMost {
		return value-z*se > reference+shift/2
	}
	return value+z*se < ref
}
