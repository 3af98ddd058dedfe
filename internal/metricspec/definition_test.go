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
		"cluster":  func(m *cxv1.Metric) { m.Spec.Query.Columns.Cluster = "account_id" },
		"unit":     func(m *cxv1.Metric) { m.Spec.Unit = "USD" },
	}
	for name, change := range same {
		if Definition(metric(change)).Hash() != base {
			t.Errorf("changing the %s changed the definition hash; it does not define the number", name)
		}
	}
}

// defaulted fills what the CRD schema defaults, as the API server does.
func defaulted(m *cxv1.Metric) *cxv1.Metric {
	m.Spec.TimeZone = "UTC"
	m.Spec.SettleDelay = "0s"
	m.Spec.Objective.Direction, m.Spec.Objective.Confidence = cxv1.AtLeast, 0.95
	m.Spec.Objective.MinSamples, m.Spec.Objective.FalseTaskBudget = 30, 1
	m.Spec.Improvement = &cxv1.ImprovementPolicy{VerifyWindow: "720h", MinFreshSamples: 30, MaxAttempts: 2, MaxOpenTasks: 5,
		DueAfter: "336h", Retention: "2160h"}
	return m
}

func TestTranslateReadsTheDefaultedObject(t *testing.T) {
	spec, err := Translate(defaulted(metric()))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Window != 720*time.Hour || spec.Interval != 24*time.Hour || spec.VerifyWindow != 720*time.Hour ||
		spec.DueAfter != 336*time.Hour || spec.Retention != 2160*time.Hour || spec.Location != time.UTC ||
		spec.Objective.Budget != 0.01 || spec.Policy.MaxOpenTasks != 5 || spec.Team != "customer-success" {
		t.Fatalf("translated: %+v", spec)
	}
	berlin := defaulted(metric())
	berlin.Spec.TimeZone = "Europe/Berlin"
	if spec, err := Translate(berlin); err != nil || spec.Location.String() != "Europe/Berlin" {
		t.Fatalf("time zone: %v %v", spec.Location, err)
	}
}

func TestTranslateRefusesWhatTheSchemaWouldNotHold(t *testing.T) {
	for name, c := range map[string]struct {
		change func(*cxv1.Metric)
		field  string
	}{
		"undefaulted improvement": {func(m *cxv1.Metric) { m.Spec.Improvement = nil }, "spec.improvement"},
		"undefaulted time zone":   {func(m *cxv1.Metric) { m.Spec.TimeZone = "" }, "spec.timeZone"},
		"unknown time zone":       {func(m *cxv1.Metric) { m.Spec.TimeZone = "Mars/Olympus" }, "spec.timeZone"},
		"window of one interval":  {func(m *cxv1.Metric) { m.Spec.Window = "24h" }, "spec.window"},
		"window not whole":        {func(m *cxv1.Metric) { m.Spec.Window, m.Spec.Interval = "720h", "168h" }, "spec.window"},
		"window in days":          {func(m *cxv1.Metric) { m.Spec.Window = "30d" }, "spec.window"},
		"undefaulted confidence":  {func(m *cxv1.Metric) { m.Spec.Objective.Confidence = 0 }, "spec.objective.confidence"},
	} {
		m := defaulted(metric())
		c.change(m)
		if _, err := Translate(m); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v, want an error naming %s", name, err, c.field)
		}
	}
}
