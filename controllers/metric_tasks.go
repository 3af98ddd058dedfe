package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/response"
)

// planTasks gathers what the engine needs to plan the Metric's tasks: its
// existing tasks and the owning team's load. The team is read even when
// there is nothing to plan, so a Metric naming a Team that does not exist
// says so before its first episode; the load is returned for the status.
func (r *MetricReconciler) planTasks(ctx context.Context, m *cxv1.Metric, spec engine.Metric, res *engine.Evaluation, now time.Time) (engine.TaskPlan, engine.TeamLoad, error) {
	team, err := teamLoad(ctx, r.Client, m.Namespace, m.Spec.Owner.Team, len(res.Episodes) > 0)
	if err != nil || len(res.Episodes) == 0 {
		return engine.TaskPlan{}, team, err
	}
	for _, st := range spec.SegmentTeams {
		if _, done := team.ByTeam[st.Team]; done || st.Team == spec.Team {
			continue
		}
		load, err := teamLoad(ctx, r.Client, m.Namespace, st.Team, true)
		if err != nil {
			return engine.TaskPlan{}, team, err
		}
		if team.ByTeam == nil {
			team.ByTeam = map[string]engine.TeamLoad{}
		}
		team.ByTeam[st.Team] = load
	}
	var tasks cxv1.ImprovementTaskList
	if err := r.List(ctx, &tasks, client.InNamespace(m.Namespace), client.MatchingFields{indexTaskMetric: m.Name}); err != nil {
		return engine.TaskPlan{}, team, fmt.Errorf("list tasks of metric %s: %w", m.Name, err)
	}
	existing := make([]engine.ExistingTask, 0, len(tasks.Items))
	for i := range tasks.Items {
		existing = append(existing, engine.ExistingTask{Name: tasks.Items[i].Name, Open: !phaseOf(&tasks.Items[i]).Final()})
	}
	return engine.PlanTasks(spec, res.Episodes, existing, team, now), team, nil
}

// createTasks creates planned tasks under their deterministic names; one
// that exists already is left as it is, so a crash between detection and
// creation never duplicates a task.
func (r *MetricReconciler) createTasks(ctx context.Context, m *cxv1.Metric, spec engine.Metric, planned []engine.NewTask,
	drivers *driverAnalysis, rates *response.Result) error {
	for _, nt := range planned {
		task := metricspec.TaskObject(spec, nt)
		task.Spec.Drivers = drivers.taskDrivers(m, nt.Episode.Values)
		task.Spec.ResponseRate = metricspec.TaskResponseRate(rates, nt.Episode.Segment)
		if err := r.Create(ctx, task); err != nil {
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			return fmt.Errorf("create task %s: %w", task.Name, err)
		}
		if r.Recorder != nil {
			r.Recorder.Eventf(m, nil, "Warning", "TaskOpened", "Evaluate", "task %s opened for team %s (segment %s)",
				task.Name, task.Spec.Team, metricspec.SegmentLabel(task.Spec.Segment))
		}
	}
	return nil
}

// teamLoad reads the owning team: whether it exists and, when count is set
// and it has a capacity, how many open tasks it has, wherever they were
// opened (the index holds each task's current team, so tasks moved to this
// team count and tasks moved away do not). A Team that does not exist is
// Missing, not uncapped: a task for it would reach nobody.
func teamLoad(ctx context.Context, r client.Reader, namespace, name string, count bool) (engine.TeamLoad, error) {
	var team cxv1.Team
	err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &team)
	if apierrors.IsNotFound(err) {
		return engine.TeamLoad{Missing: true}, nil
	}
	if err != nil {
		return engine.TeamLoad{}, fmt.Errorf("read team %s: %w", name, err)
	}
	if !count || team.Spec.Capacity == nil {
		return engine.TeamLoad{}, nil
	}
	var tasks cxv1.ImprovementTaskList
	if err := r.List(ctx, &tasks, client.InNamespace(namespace), client.MatchingFields{indexTaskTeam: team.Name}); err != nil {
		return engine.TeamLoad{}, fmt.Errorf("list tasks of team %s: %w", team.Name, err)
	}
	load := engine.TeamLoad{Max: int(team.Spec.Capacity.MaxOpenTasks)}
	for i := range tasks.Items {
		if !phaseOf(&tasks.Items[i]).Final() {
			load.Open++
		}
	}
	return load, nil
}
