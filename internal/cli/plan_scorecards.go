package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
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
	Error       string                  `json:"error,omitempty"`
}

// planScorecards scores the manifests' Scorecards at now through their
// Metrics and DataSources, as the operator would.
func planScorecards(ctx context.Context, set *manifestSet, sources *metricspec.Sources, now time.Time) []PlanScorecard {
	out := []PlanScorecard{}
	for _, sc := range set.scorecards {
		ps := PlanScorecard{Namespace: sc.Namespace, Name: sc.Name, Target: sc.Spec.Objective.Target, AtRisk: []cxv1.ScorecardAccount{}}
		rd := metricspec.ScorecardReader{
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
		out = append(out, ps)
	}
	return out
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
	}
}
