package notify

import (
	"strings"
	"testing"
)

// The issue an owner reads names the drivers, with their value in the
// task's segment against their own target, and says they are an
// association; a task without drivers says nothing of them.
func TestDescriptionNamesTheDrivers(t *testing.T) {
	v1, t1, v2 := 61.0, 75.0, 91.0
	e := event(Opened, 1)
	e.Drivers = []Driver{
		{Metric: "first-contact-resolution", Spearman: 0.56, Segments: 300, Segment: "account=Acme", Value: &v1, Target: &t1, MissesTarget: true},
		{Metric: "on-time-shipments", Spearman: 0.3, Segments: 300, Value: &v2},
	}
	text := describe(e)
	for _, want := range []string{"an association, not a proven cause",
		"- first-contact-resolution (Spearman 0.56 over 300 segments): 61 for account=Acme, misses its target 75",
		"- on-time-shipments (Spearman 0.30 over 300 segments): 91 overall"} {
		if !strings.Contains(text, want) {
			t.Errorf("the description lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(describe(event(Opened, 1)), "Where to look") {
		t.Error("a task without drivers names some")
	}
}
