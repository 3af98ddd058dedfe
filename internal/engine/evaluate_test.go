package engine_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

func value(f float64) *float64 { return &f }

// seg is an outcome of key with value v (nil: no value).
func seg(key string, v *float64) Outcome { return Outcome{Segment: key, Value: v} }

func TestSortWorstFirst(t *testing.T) {
	segs := []Outcome{seg("e", value(50)), seg("b", value(20)), seg("z", nil), seg("c", value(20)), seg("a", nil), seg("d", value(35))}
	cases := []struct {
		dir  Direction
		want []string
	}{
		// Lowest first when more is better; ties by key, no value last.
		{AtLeast, []string{"b", "c", "d", "e", "a", "z"}},
		// Highest first when less is better.
		{AtMost, []string{"e", "d", "b", "c", "a", "z"}},
	}
	for _, c := range cases {
		t.Run(string(c.dir), func(t *testing.T) {
			got := append([]Outcome(nil), segs...)
			SortWorstFirst(got, c.dir)
			var keys []string
			for _, s := range got {
				keys = append(keys, s.Segment)
			}
			if !reflect.DeepEqual(keys, c.want) {
				t.Fatalf("order %q, want %q", keys, c.want)
			}
		})
	}
}

// failing is a source that cannot be read.
type failing struct{}

func (failing) Query(context.Context, measure.Definition, source.Query, time.Time, time.Time) (*source.Result, error) {
	return nil, errors.New("connection refused")
}
func (failing) Check(context.Context) error { return errors.New("connection refused") }
func (failing) Close() error                { return nil }

func TestEvaluateErrorsSayWhetherRetryingHelps(t *testing.T) {
	end := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	healthy := &synthetic{perHour: 1, segments: []string{"all"}, before: [2]float64{0.45, 0.15}}
	badBands := func(m *Metric) { m.Definition.DetractorMax, m.Definition.PromoterMin = 9, 8 }
	cases := []struct {
		name   string
		src    source.Source
		metric func(*Metric)
		want   error
	}{
		{"no source", nil, nil, ErrSourceUnavailable},
		{"a source that cannot be read", failing{}, nil, ErrSourceUnavailable},
		{"an unknown formula", healthy, func(m *Metric) { m.Definition.Formula = "median-ish" }, ErrRejected},
		{"bands that do not fit the scale", healthy, badBands, ErrRejected},
		// Retrying a spec that cannot be evaluated does not help, whatever
		// the source's state.
		{"an invalid definition without a source", nil, badBands, ErrRejected},
		{"a derived metric", healthy, func(m *Metric) { m.Derived = &Derived{Expression: "a", Inputs: map[string]string{"a": "nps"}} }, ErrRejected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := npsMetric(24*time.Hour, 30*24*time.Hour)
			if c.metric != nil {
				c.metric(&m)
			}
			res, err := Evaluate(context.Background(), c.src, m, Prior{}, end)
			if !errors.Is(err, c.want) || res != nil {
				t.Fatalf("Evaluate = %v, %v; want %v", res, err, c.want)
			}
			other := ErrRejected
			if c.want == ErrRejected {
				other = ErrSourceUnavailable
			}
			if errors.Is(err, other) {
				t.Fatalf("%v is both %v and %v", err, c.want, other)
			}
		})
	}
}

// derivedMetric is "promoters' NPS minus CSAT"-shaped: a − b at target 0.
func derivedMetric(expression string) Metric {
	target := 0.0
	return Metric{Namespace: "cx", Name: "gap", UID: "uid-9", Team: "success",
		Definition: measure.Definition{Formula: measure.FormulaDerived, Expression: expression, Inputs: []string{"a", "b"}},
		Derived:    &Derived{Expression: expression, Inputs: map[string]string{"a": "nps", "b": "csat"}},
		Durations:  Durations{Window: 30 * 24 * time.Hour, Interval: 24 * time.Hour}, Location: time.UTC,
		Objective: Objective{Direction: AtLeast, Target: &target, Confidence: 0.95}}
}

func TestEvaluateDerived(t *testing.T) {
	end := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	both := map[string]InputValue{"a": {Hash: "h1", Value: value(42), Samples: 300}, "b": {Hash: "h2", Value: value(30), Samples: 200}}
	cases := []struct {
		name       string
		expression string
		inputs     map[string]InputValue
		state      measure.State
		value      *float64
	}{
		{"both inputs measured", "a - b", both, measure.StateMet, value(12)},
		{"on the wrong side", "b - a", both, measure.StateBreached, value(-12)},
		{"an input without a value", "a - b", map[string]InputValue{"a": both["a"], "b": {Hash: "h2", Samples: 3}}, measure.StateInsufficientData, nil},
		{"an input never measured", "a - b", map[string]InputValue{"a": both["a"]}, measure.StateInsufficientData, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := EvaluateDerived(derivedMetric(c.expression), c.inputs, end)
			if err != nil {
				t.Fatal(err)
			}
			o := res.Overall
			if o.State != c.state {
				t.Fatalf("state %s, want %s", o.State, c.state)
			}
			if (o.Value == nil) != (c.value == nil) || (o.Value != nil && math.Abs(*o.Value-*c.value) > 1e-12) {
				t.Fatalf("value %v, want %v", o.Value, c.value)
			}
			if len(res.Episodes) != 0 || res.Detector != nil {
				t.Fatalf("a derived metric opened episodes: %+v", res.Episodes)
			}
			if !res.WindowEnd.Equal(end) || !res.WindowStart.Equal(end.Add(-30*24*time.Hour)) {
				t.Fatalf("window [%s, %s)", res.WindowStart, res.WindowEnd)
			}
		})
	}

	for _, c := range []struct {
		name string
		m    Metric
	}{
		{"an expression that does not compile", derivedMetric("a -")},
		{"an expression naming an unknown input", derivedMetric("a - c")},
		{"an expression that is not a number", derivedMetric("a > b")},
		{"a metric that is not derived", npsMetric(24*time.Hour, 30*24*time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := EvaluateDerived(c.m, both, end)
			if !errors.Is(err, ErrRejected) || res != nil {
				t.Fatalf("EvaluateDerived = %v, %v; want ErrRejected", res, err)
			}
		})
	}
}

// On a drop of two of three segments, the episodes an evaluation reports
// carry how far each sits on the wrong side, in δ, measured on the same
// window the evaluation reports, and the segment's share of the weight:
// the whole population carries all of it.
func TestEpisodesCarryTheirGapAndWeightShare(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	drop := start.Add(35 * 24 * time.Hour)
	src := &synthetic{perHour: 3, segments: []string{"kickoff", "integration", "training"},
		before: [2]float64{0.45, 0.15}, after: [2]float64{0.30, 0.30}, change: map[string]time.Time{"integration": drop, "training": drop}}
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	var prior Prior
	var res *Evaluation
	// Past a whole window after the drop the window holds only dropped
	// data.
	for end := start.Add(24 * time.Hour); !end.After(drop.Add(31 * 24 * time.Hour)); end = end.Add(24 * time.Hour) {
		var err error
		if res, err = Evaluate(ctx, src, m, prior, end); err != nil {
			t.Fatal(err)
		}
		prior = res.Prior()
	}
	values := map[string]Outcome{"": res.Overall}
	for _, s := range res.Segments {
		values[s.Segment] = s
	}
	got := map[string]Episode{}
	for _, ep := range res.Episodes {
		got[ep.Segment] = ep
	}
	for _, key := range []string{"", "stage=integration", "stage=training"} {
		ep, ok := got[key]
		if !ok {
			t.Fatalf("no episode of %q: %+v", key, res.Episodes)
		}
		o := values[key]
		if o.Value == nil || ep.Baseline == nil || ep.Baseline.Value != *o.Value {
			t.Fatalf("%q: the episode's baseline %+v is not the window's value %v", key, ep.Baseline, o.Value)
		}
		if want := (30 - *o.Value) / 5; ep.Gap <= 0 || math.Abs(ep.Gap-want) > 1e-9 {
			t.Errorf("%q: gap %v, want (30 − %v)/δ = %v", key, ep.Gap, *o.Value, want)
		}
		if ep.Objective.Target != 30 || ep.Objective.MinShift != 5 || ep.Objective.Direction != AtLeast {
			t.Errorf("%q: objective %+v", key, ep.Objective)
		}
	}
	if _, ok := got["stage=kickoff"]; ok {
		t.Errorf("the segment that did not drop has an episode: %+v", got["stage=kickoff"])
	}
	if s := got[""].WeightShare; s != 1 {
		t.Errorf("the whole population's weight share is %v, want 1", s)
	}
	for _, key := range []string{"stage=integration", "stage=training"} {
		// Every segment answers as often, so each carries a third.
		if s := got[key].WeightShare; math.Abs(s-1.0/3) > 1e-9 {
			t.Errorf("%s: weight share %v, want 1/3", key, s)
		}
	}
	// A gap of about four δ on the whole population is priority 1, and
	// the plan gives its task that priority.
	plan := PlanTasks(m, res.Episodes, nil, TeamLoad{}, drop.Add(31*24*time.Hour))
	if len(plan.Create) != 3 {
		t.Fatalf("plan %+v", plan.Create)
	}
	for _, n := range plan.Create {
		if n.Priority != loop.Priority(got[n.Episode.Segment].Gap, got[n.Episode.Segment].WeightShare) {
			t.Errorf("%q: priority %d for gap %v and share %v", n.Episode.Segment, n.Priority, n.Episode.Gap, n.Episode.WeightShare)
		}
		if n.Episode.Segment == "" && n.Priority != 1 {
			t.Errorf("the whole population's task has priority %d with gap %v", n.Priority, n.Episode.Gap)
		}
	}
}
