package engine_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// The detector's state goes to a Metric's status and comes back on the
// next evaluation, possibly in another manager. Carried through the real
// persistence path (the API type, JSON as the API server stores it, back),
// every evaluation of a drop and its episode equals the one carried in
// memory: the engine's state is already what status keeps.
func TestSteppingFromPersistedStateEqualsSteppingOn(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	drop := start.Add(35 * 24 * time.Hour)
	src := &synthetic{perHour: 3, segments: []string{"kickoff", "integration", "a,b=c"},
		before: [2]float64{0.45, 0.15}, after: [2]float64{0.33, 0.27}, change: map[string]time.Time{"integration": drop, "a,b=c": drop}}
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	var live, persisted Prior
	opened := 0
	for end := start.Add(24 * time.Hour); end.Before(drop.Add(30 * 24 * time.Hour)); end = end.Add(24 * time.Hour) {
		a, err := Evaluate(ctx, src, m, live, end)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Evaluate(ctx, src, m, persisted, end)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.Detector, b.Detector) || !reflect.DeepEqual(a.Episodes, b.Episodes) {
			t.Fatalf("%s: restored state diverged:\nlive      %+v\npersisted %+v", end, a.Detector, b.Detector)
		}
		opened = max(opened, len(a.Episodes))
		live = a.Prior()

		status := cxv1.MetricStatus{DefinitionHash: b.DefinitionHash, Samples: b.Overall.Samples,
			Baseline: metricspec.BaselineStatus(b.Baseline), Detector: metricspec.DetectorStatus(b.Detector)}
		back := stored(t, status)
		persisted = metricspec.PriorOf(&back)
		if !reflect.DeepEqual(persisted.Detector, live.Detector) {
			t.Fatalf("%s: the state did not survive status:\nin  %+v\nout %+v", end, live.Detector, persisted.Detector)
		}
	}
	if opened != 3 {
		t.Fatalf("%d episodes open at most, want the two dropped segments and the whole population", opened)
	}
}
