package metricspec

import (
	"context"
	"fmt"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/response"
	"github.com/cxloop/cxloop/internal/scorecard"
	"github.com/cxloop/cxloop/internal/source"
)

// ScorecardProblem is a Scorecard that cannot be scored as written: the
// user has to fix Reason (MetricNotFound, InvalidMember, DataSourceNotFound,
// InvalidSpec) as Message says.
type ScorecardProblem struct{ Reason, Message string }

func (p *ScorecardProblem) Error() string { return p.Message }

// ScorecardReader reads what a Scorecard names: its Metrics by name (nil
// and no error for one that does not exist) and a Metric's connected
// source (a *ScorecardProblem when its DataSource does not exist).
type ScorecardReader struct {
	Metric func(ctx context.Context, name string) (*cxv1.Metric, error)
	Source func(ctx context.Context, m *cxv1.Metric) (source.Source, error)
}

// Scored is a Scorecard scored.
type Scored struct {
	Result  scorecard.Result
	Members []scorecard.Member
	// Sources are the members as read, to decide on the same Metrics and
	// connections (scorecard.Policy.Decide).
	Sources []scorecard.MemberSource
	// Rates are each member's response rates by account (nil for a member
	// without invitations), in Members' order.
	Rates []MemberRates
	// Outcomes are spec.outcomes' values by name and account, and
	// Linkage sets them beside the scores, in spec order.
	Outcomes map[string]map[string]float64
	Linkage  []scorecard.Linkage
}

// ScoreScorecard reads every member per key over its latest window at now
// (with its response rates when its Metric names invitations) and the
// accounts' values, and scores them, as the operator and plan do.
func ScoreScorecard(ctx context.Context, sc *cxv1.Scorecard, rd ScorecardReader, now time.Time) (Scored, error) {
	confidence := ScorecardConfidence(sc)
	in := scorecard.Input{Target: sc.Spec.Objective.Target, Confidence: confidence, MinCoverage: DefaultMinCoverage}
	if c := sc.Spec.Objective.MinCoverage; c != nil {
		in.MinCoverage = *c
	}
	var out Scored
	members, metrics, err := ScorecardMemberSources(ctx, sc, rd)
	if err != nil {
		return Scored{}, err
	}
	out.Sources = members
	for i, ms := range members {
		readings, err := scorecard.Read(ctx, ms.Source, ms.Metric, ms.KeyColumn, ms.PersonaColumn, ms.MinSamples, confidence,
			ms.Metric.WindowEnd(now))
		if err != nil {
			return Scored{}, fmt.Errorf("member %s: %w", ms.Member.Name, err)
		}
		rates, err := memberRates(ctx, ms.Source, metrics[i], ms.Metric, ms.KeyColumn, now)
		if err != nil {
			return Scored{}, fmt.Errorf("member %s: %w", ms.Member.Name, err)
		}
		out.Rates = append(out.Rates, rates)
		in.Members = append(in.Members, ms.Member)
		in.Readings = append(in.Readings, readings)
	}
	if v := sc.Spec.Value; v != nil {
		_, spec, src, err := scorecardMetric(ctx, rd, v.Metric, "value")
		if err != nil {
			return Scored{}, err
		}
		readings, err := scorecard.Read(ctx, src, spec, v.KeyColumn, "", 1, confidence, spec.WindowEnd(now))
		if err != nil {
			return Scored{}, fmt.Errorf("value: %w", err)
		}
		in.Values = make(map[string]float64, len(readings))
		for _, r := range readings {
			in.Values[r.Key] = r.Value
		}
	}
	out.Outcomes = map[string]map[string]float64{}
	var names []string
	for _, o := range sc.Spec.Outcomes {
		_, spec, src, err := scorecardMetric(ctx, rd, o.Metric, "outcome "+o.Name)
		if err != nil {
			return Scored{}, err
		}
		readings, err := scorecard.Read(ctx, src, spec, o.KeyColumn, "", 1, confidence, spec.WindowEnd(now))
		if err != nil {
			return Scored{}, fmt.Errorf("outcome %s: %w", o.Name, err)
		}
		values := make(map[string]float64, len(readings))
		for _, r := range readings {
			values[r.Key] = r.Value
		}
		out.Outcomes[o.Name] = values
		names = append(names, o.Name)
	}
	res, err := scorecard.Compute(in)
	if err != nil {
		return Scored{}, &ScorecardProblem{"InvalidSpec", err.Error()}
	}
	out.Result, out.Members = res, in.Members
	out.Linkage = scorecard.Link(res, names, out.Outcomes)
	return out, nil
}

// ScorecardMemberSources reads, translates and connects every member's
// Metric, with the Metrics read, in spec order.
func ScorecardMemberSources(ctx context.Context, sc *cxv1.Scorecard, rd ScorecardReader) ([]scorecard.MemberSource, []*cxv1.Metric, error) {
	var members []scorecard.MemberSource
	var metrics []*cxv1.Metric
	for _, sm := range sc.Spec.Members {
		m, spec, src, err := scorecardMetric(ctx, rd, sm.Metric, "member "+sm.Name)
		if err != nil {
			return nil, nil, err
		}
		scale, err := scorecard.ScaleOf(spec, sm.Floor, sm.Target)
		if err != nil {
			return nil, nil, &ScorecardProblem{"InvalidMember", fmt.Sprintf("member %s (Metric %s): %v", sm.Name, sm.Metric, err)}
		}
		ms := scorecard.MemberSource{Member: ScorecardMember(sm, scale), Metric: spec, Source: src, KeyColumn: sm.KeyColumn,
			MinSamples: MemberMinSamples(sm)}
		if sm.Personas != nil {
			ms.PersonaColumn = sm.Personas.Column
		}
		members = append(members, ms)
		metrics = append(metrics, m)
	}
	return members, metrics, nil
}

// scorecardMetric reads, translates and connects a Metric a Scorecard
// names.
func scorecardMetric(ctx context.Context, rd ScorecardReader, name, role string) (*cxv1.Metric, engine.Metric, source.Source, error) {
	m, err := rd.Metric(ctx, name)
	if err != nil {
		return nil, engine.Metric{}, nil, err
	}
	if m == nil {
		return nil, engine.Metric{}, nil, &ScorecardProblem{"MetricNotFound", fmt.Sprintf("%s: Metric %s not found", role, name)}
	}
	spec, err := Translate(m)
	if err != nil {
		return nil, engine.Metric{}, nil, &ScorecardProblem{"InvalidMember", fmt.Sprintf("%s: Metric %s: %v", role, name, err)}
	}
	if spec.Derived != nil {
		return nil, engine.Metric{}, nil, &ScorecardProblem{"InvalidMember",
			fmt.Sprintf("%s: Metric %s is derived; a scorecard reads its members' sources per account, so name Metrics measured from a DataSource", role, name)}
	}
	src, err := rd.Source(ctx, m)
	if err != nil {
		return nil, engine.Metric{}, nil, err
	}
	return m, spec, src, nil
}

// memberRates are a member Metric's response rates per account over its
// latest window; nil when it names no invitations.
func memberRates(ctx context.Context, src source.Source, m *cxv1.Metric, spec engine.Metric, keyColumn string,
	now time.Time) (MemberRates, error) {
	inv := InvitationsOf(m)
	if inv == nil {
		return nil, nil
	}
	spec.Query.Segments = []string{keyColumn}
	res, err := response.Read(ctx, src, spec, *inv, spec.WindowEnd(now))
	if err != nil {
		return nil, err
	}
	out := make(MemberRates, len(res.Segments))
	for key, rate := range res.Segments {
		if values, err := source.ParseSegmentKey(key); err == nil && values[keyColumn] != "" {
			out[values[keyColumn]] = rate
		}
	}
	return out, nil
}
