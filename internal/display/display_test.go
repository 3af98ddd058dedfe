package display

import (
	"math"
	"testing"
	"time"
)

func ptr(v float64) *float64 { return &v }

func TestValuesShowTheirFormulasPrecisionAndUnit(t *testing.T) {
	for _, c := range []struct {
		q          Quantity
		v, lo, hi  float64
		want, only string
	}{
		{Quantity{Formula: "nps"}, 30.433568741477846, 28.21, 32.64, "30.4 [28.2, 32.6]", "30.4"},
		{Quantity{Formula: "nps"}, -0.04, -2.3, 2.2, "0.0 [-2.3, 2.2]", "0.0"},
		{Quantity{Formula: "csat"}, 84.2178, 83.1, 85.33, "84.2% [83.1, 85.3]", "84.2%"},
		{Quantity{Formula: "rate"}, 4.96, 4.1, 5.9, "5.0% [4.1, 5.9]", "5.0%"},
		{Quantity{Formula: "ces"}, 5.4567, 5.31, 5.6, "5.46 [5.31, 5.60]", "5.46"},
		{Quantity{Formula: "count"}, 1234.4, 1200, 1270, "1234 [1200, 1270]", "1234"},
		{Quantity{Formula: "ratio"}, 1.05321, 0.98, 1.121, "1.05 [0.98, 1.12]", "1.05"},
		{Quantity{Formula: "mean", Unit: "USD"}, 1234567.8, 1e6, 1.5e6, "1234568 USD [1000000, 1500000]", "1234568 USD"},
		{Quantity{Formula: "mean", Unit: "tickets"}, 0.012345, 0.01, 0.015, "0.0123 tickets [0.0100, 0.0150]", "0.0123 tickets"},
		{Quantity{Formula: "percentile", Unit: "seconds"}, 10020, 9060, 10920, "2h47m [2h31m, 3h02m]", "2h47m"},
		{Quantity{Formula: "mean", Unit: "hours"}, 76, 70, 80.5, "3d04h [2d22h, 3d09h]", "3d04h"},
		{Quantity{Formula: "value", Unit: "milliseconds"}, 850.2, 800, 912, "850ms [800ms, 912ms]", "850ms"},
		{Quantity{Formula: "value", Unit: "%"}, 12.345, 11, 13, "12.3% [11.0, 13.0]", "12.3%"},
		// A survey formula keeps its own unit whatever the spec says.
		{Quantity{Formula: "csat", Unit: "seconds"}, 80, 79, 81, "80.0% [79.0, 81.0]", "80.0%"},
	} {
		if got := c.q.WithInterval(ptr(c.v), ptr(c.lo), ptr(c.hi)); got != c.want {
			t.Errorf("%+v %v [%v, %v] = %q, want %q", c.q, c.v, c.lo, c.hi, got, c.want)
		}
		if got := c.q.WithInterval(ptr(c.v), nil, nil); got != c.only {
			t.Errorf("%+v %v without interval = %q, want %q", c.q, c.v, got, c.only)
		}
	}
	if got := (Quantity{Formula: "nps"}).WithInterval(nil, ptr(1), ptr(2)); got != "" {
		t.Errorf("no value printed %q", got)
	}
}

func TestTargetsNameTheGoodSide(t *testing.T) {
	if got := (Quantity{Formula: "nps"}).Target("AtLeast", ptr(30)); got != ">= 30.0" {
		t.Errorf("nps target %q", got)
	}
	if got := (Quantity{Formula: "percentile", Unit: "seconds"}).Target("AtMost", ptr(14400)); got != "<= 4h" {
		t.Errorf("duration target %q", got)
	}
	if got := (Quantity{Formula: "rate"}).Target("AtMost", nil); got != "" {
		t.Errorf("no target printed %q", got)
	}
}

func TestDurationsReadAsWaits(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0ms"},
		{850 * time.Millisecond, "850ms"},
		{999600 * time.Microsecond, "1s"},
		{12340 * time.Millisecond, "12.3s"},
		{59960 * time.Millisecond, "1m"},
		{4*time.Minute + 5*time.Second, "4m05s"},
		{4 * time.Hour, "4h"},
		{2*time.Hour + 47*time.Minute + 10*time.Second, "2h47m"},
		{3*24*time.Hour + 4*time.Hour + 20*time.Minute, "3d04h"},
		{400 * 24 * time.Hour, "400d"},
		{-90 * time.Minute, "-1h30m"},
	} {
		if got := Duration(float64(c.d)); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	if got := Duration(math.Inf(1)); got != "+Inf" {
		t.Errorf("Duration(+Inf) = %q", got)
	}
	if got := Duration(1e30); got == "" {
		t.Error("a huge duration printed nothing")
	}
}
