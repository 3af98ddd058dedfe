package promexport

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

func ptr(f float64) *float64 { return &f }

// gauge is the value of the series of name whose label values are values,
// in the order of its labels, from reg; the test fails without it.
func gauge(t *testing.T, reg *prometheus.Registry, name string, values ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			labels := m.GetLabel()
			if len(labels) != len(values) {
				continue
			}
			// Gather sorts labels by name; values are given in the
			// gauge's order, so match each as a set member.
			for _, v := range values {
				found := false
				for _, l := range labels {
					if l.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, values)
	return 0
}

func TestExporterBoundsSeriesToTheWorstSegments(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := NewExporter(reg)
	m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Namespace: "cx", Name: "account-nps"},
		Spec: cxv1.MetricSpec{Owner: cxv1.MetricOwner{Team: "customer-success"}}}
	m.Status = cxv1.MetricStatus{Value: ptr(28.5), Lower: ptr(25), Upper: ptr(32), Samples: 900, State: cxv1.StateInconclusive}
	for i := 0; i < cxv1.MaxWorstSegments; i++ {
		m.Status.WorstSegments = append(m.Status.WorstSegments, cxv1.SegmentResult{
			Segment: fmt.Sprintf("account=a%03d", i), Value: ptr(float64(i)), Samples: 40})
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	e.Observe(m, now)

	if got := gauge(t, reg, "cxloop_metric_value", "cx", "account-nps", "customer-success"); got != 28.5 {
		t.Fatalf("value = %v", got)
	}
	if got := gauge(t, reg, "cxloop_metric_window_state", "cx", "account-nps", "customer-success", "Inconclusive"); got != 1 {
		t.Fatalf("state Inconclusive = %v", got)
	}
	if got := gauge(t, reg, "cxloop_metric_last_evaluation_timestamp_seconds", "cx", "account-nps", "customer-success"); got != float64(now.Unix()) {
		t.Fatalf("last evaluation = %v", got)
	}
	if n := testutil.CollectAndCount(e, "cxloop_segment_value"); n != cxv1.MaxWorstSegments {
		t.Fatalf("segment series = %d, want %d", n, cxv1.MaxWorstSegments)
	}

	// A new worst list replaces the old series instead of adding to them.
	m.Status.WorstSegments = []cxv1.SegmentResult{{Segment: "account=z", Value: ptr(-10), Samples: 50}}
	m.Status.Value = nil
	e.Observe(m, now.Add(24*time.Hour))
	if n := testutil.CollectAndCount(e, "cxloop_segment_value"); n != 1 {
		t.Fatalf("segment series after the worst list changed = %d, want 1", n)
	}
	if n := testutil.CollectAndCount(e, "cxloop_metric_value"); n != 0 {
		t.Fatalf("a value without data must not be exported, found %d series", n)
	}

	e.Forget("cx", "account-nps")
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "metric" && strings.Contains(l.GetValue(), "account-nps") {
					t.Fatalf("%s still exported after Forget", f.GetName())
				}
			}
		}
	}
}
