// Package display renders a Metric's numbers as people read them: rounded
// to the precision the formula has, with the unit, the confidence interval
// beside the value, and durations as 2h47m rather than 10020. It holds no
// Kubernetes types; status, tables and messages all print through it.
package display

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Quantity is what a Metric's numbers measure: its formula and, for the
// formulas without a unit of their own, the unit its spec declares.
type Quantity struct {
	// Formula is the Metric's formula: nps, csat, ces, rate, mean, ...
	Formula string
	// Unit is spec.unit: a duration unit (seconds, minutes, hours, days,
	// milliseconds) or a short word shown after the value.
	Unit string
}

// durationUnits are the units a value is a duration in, and what one of
// each is worth.
var durationUnits = map[string]time.Duration{
	"milliseconds": time.Millisecond,
	"seconds":      time.Second,
	"minutes":      time.Minute,
	"hours":        time.Hour,
	"days":         24 * time.Hour,
}

// IsDurationUnit reports whether unit makes values durations.
func IsDurationUnit(unit string) bool {
	_, ok := durationUnits[unit]
	return ok
}

// suffix is what follows a number of the quantity: a percent sign for
// shares, the declared unit otherwise; durations carry their own.
func (q Quantity) suffix() string {
	switch q.Formula {
	case "csat", "rate":
		return "%"
	case "nps", "ces":
		return ""
	}
	if q.Unit == "" || IsDurationUnit(q.Unit) {
		return ""
	}
	if q.Unit == "%" {
		return "%"
	}
	return " " + q.Unit
}

// decimals is how many decimals a number of the quantity shows: the
// survey formulas their customary precision (NPS and shares to a tenth of
// a point, an effort score to a hundredth), counts none, and the rest
// three significant digits, never fewer than the integer part.
func (q Quantity) decimals(v float64) int {
	switch q.Formula {
	case "nps", "csat", "rate":
		return 1
	case "ces":
		return 2
	case "count":
		return 0
	}
	a := math.Abs(v)
	if a == 0 || math.IsInf(a, 0) || math.IsNaN(a) {
		return 0
	}
	d := 2 - int(math.Floor(math.Log10(a)))
	if d < 0 {
		return 0
	}
	return d
}

// number prints v with d decimals, never "-0".
func number(v float64, d int) string {
	s := strconv.FormatFloat(v, 'f', d, 64)
	if strings.TrimLeft(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// Value prints one value of the quantity, such as "30.4", "84.2%",
// "2h47m" or "1.23 USD".
func (q Quantity) Value(v float64) string {
	if unit, ok := durationUnits[q.Unit]; ok && !q.ownUnit() {
		return Duration(v * float64(unit))
	}
	return number(v, q.decimals(v)) + q.suffix()
}

// ownUnit reports whether the formula has a unit of its own, which a
// declared unit does not override.
func (q Quantity) ownUnit() bool {
	switch q.Formula {
	case "nps", "csat", "ces", "rate", "count":
		return true
	}
	return false
}

// WithInterval prints a value and its confidence interval, such as
// "30.4 [28.2, 32.6]" or "84.2% [83.1, 85.3]": the bounds at the value's
// precision, the unit once. Without a value it prints "".
func (q Quantity) WithInterval(v, lower, upper *float64) string {
	if v == nil {
		return ""
	}
	if lower == nil || upper == nil {
		return q.Value(*v)
	}
	if unit, ok := durationUnits[q.Unit]; ok && !q.ownUnit() {
		u := float64(unit)
		return Duration(*v*u) + " [" + Duration(*lower*u) + ", " + Duration(*upper*u) + "]"
	}
	d := q.decimals(*v)
	return number(*v, d) + q.suffix() + " [" + number(*lower, d) + ", " + number(*upper, d) + "]"
}

// Target prints a target with the side that is good, such as ">= 30.0"
// or "<= 4h"; "" without a target.
func (q Quantity) Target(direction string, target *float64) string {
	if target == nil {
		return ""
	}
	side := ">= "
	if direction == "AtMost" {
		side = "<= "
	}
	return side + q.Value(*target)
}

// Duration prints nanoseconds the way an owner reads a wait: the two
// largest units, as in 2h47m, 3d04h, 4m05s, 12.3s or 850ms; a zero second
// part is left out (4h, 3d).
func Duration(ns float64) string {
	if math.IsNaN(ns) || math.IsInf(ns, 0) {
		return strconv.FormatFloat(ns, 'f', -1, 64)
	}
	sign := ""
	if ns < 0 {
		sign, ns = "-", -ns
	}
	d := time.Duration(math.Round(ns))
	if ns >= math.MaxInt64 {
		d = time.Duration(math.MaxInt64)
	}
	two := func(big, small int64, bu, su string) string {
		if small == 0 {
			return sign + strconv.FormatInt(big, 10) + bu
		}
		s := strconv.FormatInt(small, 10)
		if small < 10 {
			s = "0" + s
		}
		return sign + strconv.FormatInt(big, 10) + bu + s + su
	}
	switch {
	case d.Round(time.Millisecond) < time.Second:
		return sign + strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + "ms"
	case d.Round(100*time.Millisecond) < time.Minute:
		return sign + strings.TrimSuffix(number(d.Round(100*time.Millisecond).Seconds(), 1), ".0") + "s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return two(int64(d/time.Minute), int64(d%time.Minute/time.Second), "m", "s")
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return two(int64(d/time.Hour), int64(d%time.Hour/time.Minute), "h", "m")
	default:
		d = d.Round(time.Hour)
		return two(int64(d/(24*time.Hour)), int64(d%(24*time.Hour)/time.Hour), "d", "h")
	}
}
