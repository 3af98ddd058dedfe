package scorecard

import "math"

// Scale maps a member's values to scores: Floor scores 0, Target and
// anything better 100, linearly between. Target may lie below Floor, for a
// member where lower is better (effort, resolution time, churn).
type Scale struct {
	Floor, Target float64
}

// Valid reports whether the scale can score anything: its ends are
// finite and apart.
func (s Scale) Valid() bool {
	return !math.IsNaN(s.Floor) && !math.IsInf(s.Floor, 0) && !math.IsNaN(s.Target) && !math.IsInf(s.Target, 0) &&
		s.Floor != s.Target
}

// Score is the value's score in [0, 100].
func (s Scale) Score(v float64) float64 {
	f := (v - s.Floor) / (s.Target - s.Floor)
	return 100 * math.Min(1, math.Max(0, f))
}

// Interval maps a value's interval to the score's, in score order (low
// first): the map is monotone, so the bounds map to the bounds.
func (s Scale) Interval(lower, upper float64) (float64, float64) {
	a, b := s.Score(lower), s.Score(upper)
	if a > b {
		a, b = b, a
	}
	return a, b
}
