package metricspec

import (
	"strings"
	"testing"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

type metricOpt func(*cxv1.Metric)

func metric(opts ...metricOpt) *cxv1.Metric {
	target := 30.0
	m := &cxv1.Metric{Spec: cxv1.MetricSpec{
		Owner:   cxv1.MetricOwner{Team: "customer-success"},
		Source:  &cxv1.LocalObjectReference{Name: "warehouse"},
		Formula: cxv1.FormulaNPS,
		Query: &cxv1.MetricQuery{Table: "survey_responses",
			Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at"}},
		Window: "720h", Interval: "24h",
		Objective: cxv1.Objective{Target: &target},
	}}
	for _, o := range opts {
		o(m)
	}
	return m
}

func TestDefinitionHashFollowsEverythingThatDefinesTheNumber(t *testing.T) {
	base := Definition(metric()).Hash()
	if base != Definition(metric()).Hash() {
		t.Fatal("the same metric hashes differently")
	}
	changes := map[string]metricOpt{
		"filter": func(m *cxv1.Metric) {
			m.Spec.Query.Filters = []cxv1.QueryFilter{{Column: "survey", Operator: "Equals", Values: []string{"nps"}}}
		},
		"table":      func(m *cxv1.Metric) { m.Spec.Query.Table = "nps_responses" },
		"window":     func(m *cxv1.Metric) { m.Spec.Window = "2160h" },
		"segments":   func(m *cxv1.Metric) { m.Spec.SegmentBy = []string{"persona"} },
		"unrated":    func(m *cxv1.Metric) { m.Spec.Unrated = "CountAsNegative" },
		"source":     func(m *cxv1.Metric) { m.Spec.Source.Name = "other" },
		"value col":  func(m *cxv1.Metric) { m.Spec.Query.Columns.Value = "likelihood" },
		"weight col": func(m *cxv1.Metric) { m.Spec.Query.Columns.Weight = "revenue_weight" },
	}
	for name, change := range changes {
		if Definition(metric(change)).Hash() == base {
			t.Errorf("changing the %s left the definition hash alone", name)
		}
	}
	same := map[string]metricOpt{
		"target":   func(m *cxv1.Metric) { v := 40.0; m.Spec.Objective.Target = &v },
		"interval": func(m *cxv1.Metric) { m.Spec.Interval = "1h" },
		"playbook": func(m *cxv1.Metric) { m.Spec.Improvement = &cxv1.ImprovementPolicy{Playbook: "call them"} },
	}
	for name, change := range same {
		if Definition(metric(change)).Hash() != base {
			t.Errorf("changing the %s changed the definition hash; it does not define the number", name)
		}
	}
}

func TestParseDurationsAppliesDefaults(t *testing.T) {
	m := metric(func(m *cxv1.Metric) { m.Spec.Window, m.Spec.Interval = "", "" })
	d, err := ParseDurations(m)
	if err != nil {
		t.Fatal(err)
	}
	if d.Window != 720*time.Hour || d.Interval != 24*time.Hour || d.VerifyWindow != 720*time.Hour ||
		d.DueAfter != 336*time.Hour || d.Retention != 2160*time.Hour || d.SettleDelay != 0 {
		t.Fatalf("defaults: %+v", d)
	}
	_, err = ParseDurations(metric(func(m *cxv1.Metric) { m.Spec.Window = "12h" }))
	if err == nil || !strings.Contains(err.Error(), "spec.window") {
		t.Fatalf("a window shorter than the interval: %v", err)
	}
	_, err = ParseDurations(metric(func(m *cxv1.Metric) { m.Spec.Window = "30d" }))
	if err == nil || !strings.Contains(err.Error(), "spec.window") {
		t.Fatalf("30d is not Go syntax: %v", err)
	}
}

func TestImprovementPolicyDefaults(t *testing.T) {
	p := ImprovementPolicy(metric())
	if p.MaxAttempts != 2 || p.MaxOpenTasks != 5 || p.MinFreshSamples != 30 || p.DryRun {
		t.Fatalf("defaults: %+v", p)
	}
	p = ImprovementPolicy(metric(func(m *cxv1.Metric) {
		m.Spec.Improvement = &cxv1.ImprovementPolicy{DryRun: true, MaxAttempts: 4, EscalationTeam: "leads"}
	}))
	if !p.DryRun || p.MaxAttempts != 4 || p.EscalationTeam != "leads" || p.MaxOpenTasks != 5 {
		t.Fatalf("set fields: %+v", p)
	}
}
