package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/scorecard"
	"github.com/cxloop/cxloop/internal/source"
)

// PlanScorecard is one Scorecard scored offline.
type PlanScorecard struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Index     *float64 `json:"index"`
	Lower     *float64 `json:"lower"`
	Upper     *float64 `json:"upper"`
	Target    float64  `json:"target"`
	Accounts  int      `json:"accounts"`
	// AtRisk are the accounts below the target, most valuable first.
	AtRisk      []cxv1.ScorecardAccount `json:"atRisk"`
	ValueAtRisk float64                 `json:"valueAtRisk"`
	// WouldOpen are the accounts whose latest closed window breaches, as
	// the operator would judge it from scratch (calibrated on the windows
	// before it): each would get a task unless a member's task is open
	// for it or a cap holds it back.
	WouldOpen []PlanScorecardTask `json:"wouldOpen"`
	Error     string              `json:"error,omitempty"`
}

// PlanScorecardTask is an account a Scorecard would open a task for.
type PlanScorecardTask struct {
	Account      string    `json:"account"`
	Score        float64   `json:"score"`
	EpisodeStart time.Time `json:"episodeStart"`
}

// planScorecards scores the manifests' Scorecards at now through their
// Metrics and DataSources, as the operator would.
func planScorecards(ctx context.Context, set *manifestSet, sources *metricspec.Sources, now time.Time) []PlanScorecard {
	out := []PlanScorecard{}
	for _, sc := range set.scorecards {
		ps := PlanScorecard{Namespace: sc.Namespace, Name: sc.Name, Target: sc.Spec.Objective.Target, AtRisk: []cxv1.ScorecardAccount{}}
		rd := set.scorecardReader(sc, sources)
		scored, err := metricspec.ScoreScorecard(ctx, sc, rd, now)
		if err != nil {
			ps.Error = err.Error()
			out = append(out, ps)
			continue
		}
		var st cxv1.ScorecardStatus
		metricspec.ApplyScorecard(&st, scored, now)
		ps.Index, ps.Lower, ps.Upper, ps.Accounts = st.Index, st.IndexLower, st.IndexUpper, len(scored.Result.Accounts)
		if st.AtRisk != nil {
			ps.AtRisk = st.AtRisk
		}
		ps.ValueAtRisk = scored.Result.ValueAtRisk
		if ps.WouldOpen, err = wouldOpen(ctx, sc, scored, now); err != nil {
			ps.Error = err.Error()
		}
		out = append(out, ps)
	}
	return out
}

// scorecardReader reads a Scorecard's Metrics from the manifests and
// connects their DataSources.
func (set *manifestSet) scorecardReader(sc *cxv1.Scorecard, sources *metricspec.Sources) metricspec.ScorecardReader {
	return metricspec.ScorecardReader{
		Metric: func(_ context.Context, name string) (*cxv1.Metric, error) {
			for _, m := range set.metrics {
				if m.Namespace == sc.Namespace && m.Name == name {
					return m, nil
				}
			}
			return nil, nil
		},
		Source: func(ctx context.Context, m *cxv1.Metric) (source.Source, error) {
			return manifestSource(ctx, sources, set.sources, m)
		},
	}
}

// wouldOpen judges the Scorecard's latest closed window at now from
// scratch, on the members the scoring read, as the operator's first
// decision does.
func wouldOpen(ctx context.Context, sc *cxv1.Scorecard, scored metricspec.Scored, now time.Time) ([]PlanScorecardTask, error) {
	t, err := metricspec.TranslateScorecard(sc)
	if err != nil {
		return nil, err
	}
	det, _, err := t.Policy.Decide(ctx, scored.Sources, t.Input, scorecard.Detector{}, now)
	if err != nil {
		return nil, err
	}
	out := []PlanScorecardTask{}
	for _, e := range det.Episodes {
		out = append(out, PlanScorecardTask{Account: e.Account, Score: e.Score, EpisodeStart: e.Start})
	}
	return out, nil
}

func printPlanScorecards(w io.Writer, scorecards []PlanScorecard) {
	for _, sc := range scorecards {
		if sc.Error != "" {
			fmt.Fprintf(w, "\nScorecard %s/%s: Error: %s\n", sc.Namespace, sc.Name, sc.Error)
			continue
		}
		fmt.Fprintf(w, "\nScorecard %s/%s: index %s %s over %d accounts; %d below %.4g, %s at risk\n", sc.Namespace, sc.Name,
			formatNumber(sc.Index), interval(sc.Lower, sc.Upper), sc.Accounts, len(sc.AtRisk), sc.Target, formatNumber(&sc.ValueAtRisk))
		rows := [][]string{}
		for _, a := range sc.AtRisk {
			rows = append(rows, []string{a.Key, formatNumber(a.Value), formatNumber(&a.Score), interval(&a.Lower, &a.Upper), a.PulledDownBy})
		}
		if len(rows) > 0 {
			_ = printTable(w, []string{"ACCOUNT", "VALUE", "SCORE", "INTERVAL", "PULLED DOWN BY"}, rows)
		}
		if len(sc.WouldOpen) > 0 {
			fmt.Fprintf(w, "Would open %d tasks: the latest closed window breaches for", len(sc.WouldOpen))
			for _, t := range sc.WouldOpen {
				fmt.Fprintf(w, " %s (%.3g)", t.Account, t.Score)
			}
			fmt.Fprintln(w)
		}
	}
}
