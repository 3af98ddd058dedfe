package scorecard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// ErrNoFloor reports a member whose formula has no worst value to score 0
// at, and whose spec names none.
var ErrNoFloor = errors.New("the member's formula has no worst value: set its floor")

// ErrNoTarget reports a member whose Metric has no fixed target (a
// relative objective), and whose spec names none.
var ErrNoTarget = errors.New("the member's Metric has no fixed target: set the member's target")

// ErrInverted reports a member whose floor lies on the good side of its
// target for the Metric's direction.
var ErrInverted = errors.New("the member's floor must be worse than its target")

// ScaleOf is the scale a member of metric m scores on: floor and target as
// given, else the formula's worst value and the Metric's fixed target.
func ScaleOf(m engine.Metric, floor, target *float64) (Scale, error) {
	var s Scale
	switch {
	case target != nil:
		s.Target = *target
	case m.Objective.Target != nil:
		s.Target = *m.Objective.Target
	default:
		return Scale{}, ErrNoTarget
	}
	atMost := m.Objective.Direction == engine.AtMost
	if floor != nil {
		s.Floor = *floor
	} else {
		d := m.Definition.WithDefaults()
		switch d.Formula {
		case measure.FormulaNPS:
			s.Floor = pick(atMost, 100, -100)
		case measure.FormulaCSAT, measure.FormulaRate:
			s.Floor = pick(atMost, 100, 0)
		case measure.FormulaCES:
			s.Floor = pick(atMost, float64(d.ScaleMax), float64(d.ScaleMin))
		default:
			return Scale{}, ErrNoFloor
		}
	}
	if atMost && s.Floor <= s.Target || !atMost && s.Floor >= s.Target {
		return Scale{}, fmt.Errorf("%w: floor %v, target %v, the Metric's objective %s", ErrInverted, s.Floor, s.Target,
			m.Objective.Direction)
	}
	return s, nil
}

func pick(atMost bool, worstHigh, worstLow float64) float64 {
	if atMost {
		return worstHigh
	}
	return worstLow
}

// Read measures metric m over its latest window ending at windowEnd, once
// per value of keyColumn (and of personaColumn when set): its definition,
// table and filters are the Metric's own, its segments the scorecard's.
// Keys (or key and persona pairs) with fewer than minSamples effective
// units give no reading.
func Read(ctx context.Context, src source.Source, m engine.Metric, keyColumn, personaColumn string,
	minSamples int64, confidence float64, windowEnd time.Time) ([]Reading, error) {
	from := engine.AddWall(windowEnd, -m.Window, m.Location)
	return ReadBetween(ctx, src, m, keyColumn, personaColumn, minSamples, confidence, from, windowEnd)
}

// ReadBetween is Read over the units whose time lies in [from, to).
func ReadBetween(ctx context.Context, src source.Source, m engine.Metric, keyColumn, personaColumn string,
	minSamples int64, confidence float64, from, to time.Time) ([]Reading, error) {
	out, _, err := readBetween(ctx, src, m, keyColumn, personaColumn, minSamples, confidence, from, to)
	return out, err
}

// ReadWithOverall is Read by keyColumn alone, with the whole
// population's value over the same window, read by the same query: nil
// when too few units.
func ReadWithOverall(ctx context.Context, src source.Source, m engine.Metric, keyColumn string,
	minSamples int64, confidence float64, windowEnd time.Time) ([]Reading, *float64, error) {
	from := engine.AddWall(windowEnd, -m.Window, m.Location)
	out, res, err := readBetween(ctx, src, m, keyColumn, "", minSamples, confidence, from, windowEnd)
	if err != nil || res.Overall == nil {
		return out, nil, err
	}
	e, err := measure.Compute(m.Definition, res.Overall, confidence, minSamples)
	if err != nil || !e.Sufficient || math.IsNaN(e.Value) {
		return out, nil, nil
	}
	return out, &e.Value, nil
}

func readBetween(ctx context.Context, src source.Source, m engine.Metric, keyColumn, personaColumn string,
	minSamples int64, confidence float64, from, to time.Time) ([]Reading, *source.Result, error) {
	q := m.Query
	q.Segments = []string{keyColumn}
	if personaColumn != "" {
		q.Segments = append(q.Segments, personaColumn)
	}
	res, err := src.Query(ctx, m.Definition, q, from, to)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", engine.ErrSourceUnavailable, err)
	}
	out := make([]Reading, 0, len(res.Segments))
	for _, seg := range res.Segments {
		key, ok := seg.Values[keyColumn]
		if !ok || key == "" {
			continue
		}
		e, err := measure.Compute(m.Definition, seg.Stats, confidence, minSamples)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s=%s: %v", engine.ErrSourceUnavailable, keyColumn, key, err)
		}
		if !e.Sufficient {
			continue
		}
		out = append(out, Reading{Key: key, Persona: seg.Values[personaColumn], Value: e.Value, Lower: e.Lower, Upper: e.Upper,
			Samples: int64(math.Round(e.NEff))})
	}
	return out, res, nil
}
