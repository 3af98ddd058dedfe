package metricspec

import (
	"encoding/json"
	"fmt"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/measure"
)

// Definition returns the measure definition of a Metric. The query (table,
// columns, filters, SQL or PromQL), the window and the segmentation enter
// the definition's source text, so changing any of them changes the hash:
// a changed definition is never mistaken for a changed experience.
func Definition(m *cxv1.Metric) measure.Definition {
	s := &m.Spec
	d := measure.Definition{
		Formula:    string(s.Formula),
		ShareOver:  s.ShareOver,
		Unrated:    measure.UnratedPolicy(s.Unrated),
		Expression: s.Expression,
	}
	if s.Scale != nil {
		d.ScaleMin, d.ScaleMax = s.Scale.Min, s.Scale.Max
	}
	if s.SatisfiedMin != nil {
		d.SatisfiedMin = *s.SatisfiedMin
	}
	if s.Percentile != nil {
		d.Percentile = *s.Percentile
	}
	for _, in := range s.Inputs {
		d.Inputs = append(d.Inputs, in.Name+"="+in.Metric)
	}
	d.Source = sourceText(m)
	return d
}

// sourceText is the canonical text of where a Metric's units come from.
func sourceText(m *cxv1.Metric) string {
	s := &m.Spec
	canon := struct {
		Source    string            `json:"source,omitempty"`
		Query     *cxv1.MetricQuery `json:"query,omitempty"`
		Window    string            `json:"window"`
		SegmentBy []string          `json:"segmentBy,omitempty"`
	}{Query: s.Query, Window: s.Window, SegmentBy: s.SegmentBy}
	if s.Source != nil {
		canon.Source = s.Source.Name
	}
	b, _ := json.Marshal(canon)
	return string(b)
}

// Durations of a Metric, parsed. The API server's validation already
// guarantees Go duration syntax; defaults apply to empty fields so objects
// read from files (kubectl cx plan) behave like applied ones.
type Durations struct {
	Window, Interval, SettleDelay time.Duration
	VerifyWindow, DueAfter        time.Duration
	Retention                     time.Duration
	BaselineWindow                time.Duration
}

// ParseDurations reads a Metric's durations, applying the API defaults to
// empty fields.
func ParseDurations(m *cxv1.Metric) (Durations, error) {
	s := &m.Spec
	var d Durations
	imp := s.Improvement
	if imp == nil {
		imp = &cxv1.ImprovementPolicy{}
	}
	var baseline string
	if s.Objective.Relative != nil {
		baseline = s.Objective.Relative.BaselineWindow
	}
	for _, f := range []struct {
		field, text, def string
		into             *time.Duration
	}{
		{"spec.window", s.Window, "720h", &d.Window},
		{"spec.interval", s.Interval, "24h", &d.Interval},
		{"spec.settleDelay", s.SettleDelay, "0s", &d.SettleDelay},
		{"spec.improvement.verifyWindow", imp.VerifyWindow, "720h", &d.VerifyWindow},
		{"spec.improvement.dueAfter", imp.DueAfter, "336h", &d.DueAfter},
		{"spec.improvement.retention", imp.Retention, "2160h", &d.Retention},
		{"spec.objective.relative.baselineWindow", baseline, "720h", &d.BaselineWindow},
	} {
		text := f.text
		if text == "" {
			text = f.def
		}
		v, err := time.ParseDuration(text)
		if err != nil {
			return d, fmt.Errorf("%s: %w", f.field, err)
		}
		*f.into = v
	}
	if d.Interval <= 0 {
		return d, fmt.Errorf("spec.interval: must be positive, got %s", d.Interval)
	}
	if d.Window <= d.Interval {
		return d, fmt.Errorf("spec.window: %s must be longer than spec.interval %s", d.Window, d.Interval)
	}
	return d, nil
}

// Policy is a Metric's improvement policy with defaults applied.
type Policy struct {
	DryRun          bool
	MinFreshSamples int64
	MaxAttempts     int32
	MaxOpenTasks    int32
	EscalationTeam  string
	Playbook        string
}

// ImprovementPolicy reads a Metric's improvement policy, applying the API
// defaults to unset fields.
func ImprovementPolicy(m *cxv1.Metric) Policy {
	p := Policy{MinFreshSamples: 30, MaxAttempts: 2, MaxOpenTasks: 5}
	imp := m.Spec.Improvement
	if imp == nil {
		return p
	}
	p.DryRun, p.EscalationTeam, p.Playbook = imp.DryRun, imp.EscalationTeam, imp.Playbook
	if imp.MinFreshSamples > 0 {
		p.MinFreshSamples = imp.MinFreshSamples
	}
	if imp.MaxAttempts > 0 {
		p.MaxAttempts = imp.MaxAttempts
	}
	if imp.MaxOpenTasks > 0 {
		p.MaxOpenTasks = imp.MaxOpenTasks
	}
	return p
}
