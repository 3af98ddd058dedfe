package metricspec

import (
	"errors"
	"fmt"
	"sync"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// errNotDefaulted says an object skipped the CRD schema's defaults.
var errNotDefaulted = errors.New("empty: the CRD schema's default was not applied (the API server applies it; kubectl cx plan and validate apply it offline)")

// Translate turns a Metric into the engine's input. The object must carry
// the CRD schema's defaults, as every object read from the API server
// does and as the plugin applies them offline: there is one set of
// defaults, the schema's, and none is copied here.
func Translate(m *cxv1.Metric) (engine.Metric, error) {
	s := &m.Spec
	out := engine.Metric{Namespace: m.Namespace, Name: m.Name, UID: string(m.UID), Team: s.Owner.Team,
		Definition: Definition(m), Query: Query(m)}
	out.Hash = out.Definition.Hash()
	for _, so := range s.Owner.Segments {
		out.SegmentTeams = append(out.SegmentTeams, engine.SegmentTeam{Column: so.Column, Value: so.Value, Team: so.Team})
	}
	if s.Formula == cxv1.FormulaDerived {
		out.Derived = &engine.Derived{Expression: s.Expression, Inputs: map[string]string{}}
		for _, in := range s.Inputs {
			out.Derived.Inputs[in.Name] = in.Metric
		}
	}
	imp := s.Improvement
	if imp == nil {
		return out, fmt.Errorf("spec.improvement: %w", errNotDefaulted)
	}
	// A fixed target has no baseline window; "0s" stands for none.
	baseline := "0s"
	if s.Objective.Relative != nil {
		baseline = s.Objective.Relative.BaselineWindow
	}
	d := &out.Durations
	if err := parseDurations([]durationField{
		{"spec.window", s.Window, &d.Window},
		{"spec.interval", s.Interval, &d.Interval},
		{"spec.settleDelay", s.SettleDelay, &d.SettleDelay},
		{"spec.improvement.verifyWindow", imp.VerifyWindow, &d.VerifyWindow},
		{"spec.improvement.dueAfter", imp.DueAfter, &d.DueAfter},
		{"spec.improvement.retention", imp.Retention, &d.Retention},
		{"spec.objective.relative.baselineWindow", baseline, &d.BaselineWindow},
	}); err != nil {
		return out, err
	}
	if d.Interval <= 0 {
		return out, fmt.Errorf("spec.interval: must be positive, got %s", d.Interval)
	}
	if d.Window <= d.Interval || d.Window%d.Interval != 0 {
		return out, fmt.Errorf("spec.window: %s must be a whole number (two or more) of spec.interval %s", d.Window, d.Interval)
	}
	if s.TimeZone == "" {
		return out, fmt.Errorf("spec.timeZone: %w", errNotDefaulted)
	}
	loc, err := location(s.TimeZone)
	if err != nil {
		return out, fmt.Errorf("spec.timeZone: %q is not an IANA time zone: %w", s.TimeZone, err)
	}
	out.Location = loc

	o := s.Objective
	out.Objective = engine.Objective{Direction: engine.Direction(o.Direction), Target: o.Target, WarningAt: o.WarningAt,
		Confidence: o.Confidence, MinSamples: o.MinSamples, Budget: o.FalseTaskBudget / 100}
	if o.Relative != nil {
		out.Objective.Relative = &engine.Relative{MaxChange: o.Relative.MaxChange}
	}
	if o.MinShift != nil {
		out.Objective.MinShift = *o.MinShift
	}
	switch {
	case o.Direction == "":
		return out, fmt.Errorf("spec.objective.direction: %w", errNotDefaulted)
	case !(o.Confidence > 0 && o.Confidence < 1):
		return out, fmt.Errorf("spec.objective.confidence: %w", errNotDefaulted)
	case o.MinSamples <= 0:
		return out, fmt.Errorf("spec.objective.minSamples: %w", errNotDefaulted)
	case !(o.FalseTaskBudget > 0):
		return out, fmt.Errorf("spec.objective.falseTaskBudget: %w", errNotDefaulted)
	case imp.MinFreshSamples <= 0 || imp.MaxAttempts <= 0 || imp.MaxOpenTasks <= 0:
		return out, fmt.Errorf("spec.improvement (minFreshSamples, maxAttempts, maxOpenTasks): %w", errNotDefaulted)
	}
	out.Policy = engine.Policy{DryRun: imp.DryRun, MinFreshSamples: imp.MinFreshSamples, MaxAttempts: imp.MaxAttempts,
		MaxOpenTasks: imp.MaxOpenTasks, EscalationTeam: imp.EscalationTeam, Playbook: imp.Playbook}
	for _, e := range s.Exclusions {
		out.Exclusions = append(out.Exclusions, engine.Exclusion{Name: e.Name, Start: e.Start.Time, End: e.End.Time,
			Recurrence: engine.Recurrence(e.Recurrence), Reason: e.Reason})
	}
	return out, nil
}

// durationField is a spec field holding a Go duration.
type durationField struct {
	field, text string
	into        *time.Duration
}

// parseDurations parses each field into its duration; an empty one is a
// schema default that was not applied.
func parseDurations(fields []durationField) error {
	for _, f := range fields {
		if f.text == "" {
			return fmt.Errorf("%s: %w", f.field, errNotDefaulted)
		}
		v, err := time.ParseDuration(f.text)
		if err != nil {
			return fmt.Errorf("%s: %w", f.field, err)
		}
		*f.into = v
	}
	return nil
}

// locations caches time zones by name: loading one reads the zone database
// from disk, and every reconcile translates its Metric.
var locations sync.Map

func location(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}
