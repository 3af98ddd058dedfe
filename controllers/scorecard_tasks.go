package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/scorecard"
)

// judge decides on the Scorecard's latest closed window when it is due
// (scorecard.Policy.Decide, on the members the scoring read) and records
// the episodes in next. It returns the decision state as it stands.
func judge(ctx context.Context, sc *cxv1.Scorecard, t metricspec.ScorecardTasks, scored metricspec.Scored,
	next *cxv1.ScorecardStatus, now time.Time) (scorecard.Detector, error) {
	det, judged, err := t.Policy.Decide(ctx, scored.Sources, t.Input, metricspec.ScorecardDetectorOf(sc.Status.Detector), now)
	if errors.Is(err, scorecard.ErrInvalid) {
		return det, &metricspec.ScorecardProblem{Reason: "InvalidSpec", Message: err.Error()}
	}
	if judged {
		next.Detector = metricspec.ScorecardDetectorStatus(det)
	}
	return det, err
}

// planTasks plans a task for every open episode that has none, within the
// Scorecard's and the team's capacity, except for accounts with a task
// open on a member Metric: the member's task is the direction to act in.
func (r *ScorecardReconciler) planTasks(ctx context.Context, sc *cxv1.Scorecard, t metricspec.ScorecardTasks,
	det scorecard.Detector, now time.Time) (engine.TaskPlan, error) {
	episodes := metricspec.ScorecardEpisodes(sc, t, det)
	team, err := teamLoad(ctx, r.Client, sc.Namespace, t.Metric.Team, len(episodes) > 0)
	if err != nil || len(episodes) == 0 {
		return engine.TaskPlan{}, err
	}
	busy, err := r.membersBusy(ctx, sc)
	if err != nil {
		return engine.TaskPlan{}, err
	}
	var tasks cxv1.ImprovementTaskList
	if err := r.List(ctx, &tasks, client.InNamespace(sc.Namespace), client.MatchingFields{indexTaskScorecard: sc.Name}); err != nil {
		return engine.TaskPlan{}, fmt.Errorf("list tasks of scorecard %s: %w", sc.Name, err)
	}
	existing := make([]engine.ExistingTask, 0, len(tasks.Items))
	for i := range tasks.Items {
		existing = append(existing, engine.ExistingTask{Name: tasks.Items[i].Name, Open: !phaseOf(&tasks.Items[i]).Final()})
	}
	var free []engine.Episode
	var held []loop.Held
	for _, ep := range episodes {
		if busy[ep.Values[sc.Spec.Key]] {
			held = append(held, loop.Held{Candidate: loop.Candidate{Segment: ep.Segment, EpisodeStart: ep.Start},
				Reason: loop.HoldMemberTaskOpen})
			continue
		}
		free = append(free, ep)
	}
	plan := engine.PlanTasks(t.Metric, free, existing, team, now)
	plan.Held = append(plan.Held, held...)
	sort.SliceStable(plan.Held, func(i, j int) bool { return plan.Held[i].Segment < plan.Held[j].Segment })
	return plan, nil
}

// membersBusy are the accounts with a task open on one of the
// Scorecard's member Metrics, by the member's key column.
func (r *ScorecardReconciler) membersBusy(ctx context.Context, sc *cxv1.Scorecard) (map[string]bool, error) {
	busy := map[string]bool{}
	for _, m := range sc.Spec.Members {
		var tasks cxv1.ImprovementTaskList
		if err := r.List(ctx, &tasks, client.InNamespace(sc.Namespace), client.MatchingFields{indexTaskMetric: m.Metric}); err != nil {
			return nil, fmt.Errorf("list tasks of metric %s: %w", m.Metric, err)
		}
		for i := range tasks.Items {
			task := &tasks.Items[i]
			if account, ok := task.Spec.SegmentValues[m.KeyColumn]; ok && !phaseOf(task).Final() {
				busy[account] = true
			}
		}
	}
	return busy, nil
}

// heldBackStatus renders the held episodes for status, at most
// MaxHeldBackTasks.
func heldBackStatus(held []loop.Held) []cxv1.HeldBackTask {
	var out []cxv1.HeldBackTask
	for i, h := range held {
		if i == cxv1.MaxHeldBackTasks {
			break
		}
		out = append(out, cxv1.HeldBackTask{Segment: h.Segment, EpisodeStart: metav1.NewTime(h.EpisodeStart), Reason: string(h.Reason)})
	}
	return out
}

// createTasks creates the planned tasks under their deterministic names;
// one that exists already is left as it is, so a crash between the
// status write that recorded the episode and the creation never
// duplicates a task.
func (r *ScorecardReconciler) createTasks(ctx context.Context, sc *cxv1.Scorecard, t metricspec.ScorecardTasks,
	det scorecard.Detector, planned []engine.NewTask, drv *driverAnalysis) error {
	var errs []error
	for _, nt := range planned {
		account := nt.Episode.Values[sc.Spec.Key]
		ep, _ := det.Episode(account)
		task := metricspec.ScorecardTaskObject(t, nt, ep, det.FedUntil)
		task.Spec.Drivers = drv.accountDrivers(sc, account)
		if err := r.Create(ctx, task); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				errs = append(errs, fmt.Errorf("create task %s: %w", task.Name, err))
			}
			continue
		}
		if r.Recorder != nil {
			r.Recorder.Eventf(sc, nil, "Warning", "TaskOpened", "Evaluate", "task %s opened for team %s (account %s)",
				task.Name, task.Spec.Team, nt.Episode.Values[sc.Spec.Key])
		}
	}
	return errors.Join(errs...)
}
