package engine

import (
	"time"

	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// Direction is the good direction of a metric.
type Direction string

// The directions.
const (
	AtLeast Direction = "AtLeast"
	AtMost  Direction = "AtMost"
)

// Metric is everything the engine needs of one Metric, defaults applied.
type Metric struct {
	Namespace, Name, UID string
	// Team owns the metric's tasks, but for the segments SegmentTeams
	// hands to other teams.
	Team         string
	SegmentTeams []SegmentTeam
	// Definition and Hash say what the number is.
	Definition measure.Definition
	Hash       string
	// Query is where the metric's units are.
	Query source.Query
	// Derived is set for a metric computed from others' values.
	Derived *Derived
	Durations
	// Location is the time zone evaluation bounds are aligned in.
	Location  *time.Location
	Objective Objective
	Policy    Policy
	// Exclusions are known events whose data the metric leaves out
	// everywhere (ExcludeFrom).
	Exclusions []Exclusion
}

// SegmentTeam hands the tasks of the segments whose Column is Value to
// Team.
type SegmentTeam struct {
	Column, Value, Team string
}

// TeamFor is the team that owns the tasks of a segment with these values:
// the first SegmentTeam that matches, else Team.
func (m Metric) TeamFor(values map[string]string) string {
	for _, s := range m.SegmentTeams {
		if v, ok := values[s.Column]; ok && v == s.Value {
			return s.Team
		}
	}
	return m.Team
}

// Derived is a derived metric's expression over named input Metrics.
type Derived struct {
	Expression string
	// Inputs maps each name the expression uses to a Metric's name.
	Inputs map[string]string
}

// Durations of a metric.
type Durations struct {
	Window, Interval, SettleDelay time.Duration
	VerifyWindow, DueAfter        time.Duration
	Retention                     time.Duration
	BaselineWindow                time.Duration
}

// Objective is what good looks like.
type Objective struct {
	Direction Direction
	// Target is the fixed target; nil with Relative set.
	Target *float64
	// Relative is a change allowed from a frozen baseline.
	Relative   *Relative
	WarningAt  *float64
	Confidence float64
	MinSamples int64
	// MinShift is δ; zero means the formula's default.
	MinShift float64
	// Budget is false tasks per month for the whole metric.
	Budget float64
}

// Relative is an objective relative to a baseline window.
type Relative struct {
	// MaxChange is the change from the baseline that is still good.
	MaxChange float64
}

// Policy is a metric's improvement policy.
type Policy struct {
	DryRun          bool
	MinFreshSamples int64
	MaxAttempts     int32
	MaxOpenTasks    int32
	EscalationTeam  string
	Playbook        string
}

// WindowEnd is the end of the latest evaluation that may run at now.
func (m Metric) WindowEnd(now time.Time) time.Time {
	return WindowEnd(now, m.Interval, m.SettleDelay, m.Location)
}

// shift is δ, the formula's default at the target when unset.
func (m Metric) shift(target float64) float64 {
	if m.Objective.MinShift > 0 {
		return m.Objective.MinShift
	}
	return detect.DefaultShift(m.Definition.Formula, target)
}
