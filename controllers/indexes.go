package controllers

import (
	"context"
	"slices"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// Field indexes let a reconciler find the objects that refer to another
// without listing everything.
const (
	// indexTaskTeam is the team that owns a task now (status.team, or
	// spec.team before the operator recorded it), so counts and capacity
	// follow a task that moved with its Metric's owner.
	indexTaskTeam      = "team"
	indexTaskMetric    = "spec.metric"
	indexTaskScorecard = "spec.scorecard"
	indexMetricSource  = "spec.source.name"
	indexMetricTeam    = "spec.owner.team"
)

func registerIndexes(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &cxv1.ImprovementTask{}, indexTaskTeam, func(o client.Object) []string {
		return []string{o.(*cxv1.ImprovementTask).CurrentTeam()}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &cxv1.ImprovementTask{}, indexTaskMetric, func(o client.Object) []string {
		if m := o.(*cxv1.ImprovementTask).Spec.Metric; m != "" {
			return []string{m}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &cxv1.ImprovementTask{}, indexTaskScorecard, func(o client.Object) []string {
		if sc := o.(*cxv1.ImprovementTask).Spec.Scorecard; sc != "" {
			return []string{sc}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &cxv1.Metric{}, indexMetricSource, func(o client.Object) []string {
		if s := o.(*cxv1.Metric).Spec.Source; s != nil {
			return []string{s.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	// Every team a Metric's tasks may go to: its owner and its segments'.
	return idx.IndexField(ctx, &cxv1.Metric{}, indexMetricTeam, func(o client.Object) []string {
		owner := o.(*cxv1.Metric).Spec.Owner
		teams := []string{owner.Team}
		for _, s := range owner.Segments {
			if !slices.Contains(teams, s.Team) {
				teams = append(teams, s.Team)
			}
		}
		return teams
	})
}
