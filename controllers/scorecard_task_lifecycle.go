package controllers

import (
	"context"
	"fmt"
	"math"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/scorecard"
)

// reconcileScorecardTask moves a Scorecard's task through the closed loop
// as a Metric's moves: the owner's word, verification on fresh data,
// reopening, escalation, recovery and cancellation, with the account's
// fresh scores, every member read since the resolution, as the evidence.
func (r *ImprovementTaskReconciler) reconcileScorecardTask(ctx context.Context, task *cxv1.ImprovementTask, now time.Time) (ctrl.Result, error) {
	sc, err := r.scorecardOf(ctx, task)
	if err != nil {
		return ctrl.Result{}, err
	}
	obs := loop.Observation{Now: now, Owner: metricspec.OwnerOf(task), MetricDeleted: sc == nil || !sc.DeletionTimestamp.IsZero()}
	var t metricspec.ScorecardTasks
	if sc != nil {
		if t, err = metricspec.TranslateScorecard(sc); err != nil {
			return ctrl.Result{}, nil // the Scorecard reconciler reports a bad spec
		}
		obs.Policy = loop.Policy{MaxAttempts: t.Metric.Policy.MaxAttempts, VerifyWindow: t.Metric.VerifyWindow}
		obs.DefinitionChanged = t.Metric.Hash != task.Spec.DefinitionHash
	}
	current := metricspec.LoopStatus(task)
	status := task.Status.DeepCopy()
	if sc != nil && !current.Phase.Final() {
		sc = r.confirmedScorecard(ctx, task, sc)
		if status.EpisodeEndedAt == nil && scorecardEpisodeEnded(sc, task) {
			ended := metav1.NewTime(now)
			status.EpisodeEndedAt = &ended
		}
	}
	if sc != nil && !obs.MetricDeleted && !obs.DefinitionChanged && !current.Phase.Final() && current.Phase != "" {
		measurement, err := r.lookAtAccount(ctx, sc, t, task, current, status, &obs, now)
		recordLook(status, measurement, err, task.Generation)
	}
	o := origin{spec: t.Metric, present: sc != nil}
	if sc != nil && !obs.MetricDeleted {
		o.plan = func(status *cxv1.ImprovementTaskStatus, attempt int32) {
			if loop.Phase(status.Phase).Final() {
				return
			}
			ep := metricspec.ScorecardTaskEpisode(t, task, "")
			status.VerificationPlan = &cxv1.VerificationPlan{Null: engine.Round(math.Max(t.Policy.Target-t.Policy.Shift/2, ep.Score)),
				Level: engine.Round(detect.AttemptLevel(detect.DefaultLevel, attempt))}
		}
	}
	return r.settle(ctx, task, current, status, obs, o, false)
}

// scorecardOf reads the task's Scorecard; nil when it is gone.
func (r *ImprovementTaskReconciler) scorecardOf(ctx context.Context, task *cxv1.ImprovementTask) (*cxv1.Scorecard, error) {
	var sc cxv1.Scorecard
	if found, err := r.readOrigin(ctx, task, task.Spec.Scorecard, &sc); !found {
		return nil, err
	}
	return &sc, nil
}

// confirmedScorecard re-reads the Scorecard from the API server when the
// cached copy would end the task's episode: the cache can lag the status
// write that recorded the episode just before its task was created.
func (r *ImprovementTaskReconciler) confirmedScorecard(ctx context.Context, task *cxv1.ImprovementTask, sc *cxv1.Scorecard) *cxv1.Scorecard {
	if r.APIReader == nil || task.Status.EpisodeEndedAt != nil || !scorecardEpisodeEnded(sc, task) {
		return sc
	}
	var fresh cxv1.Scorecard
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: sc.Namespace, Name: sc.Name}, &fresh); err != nil {
		return sc
	}
	return &fresh
}

// scorecardEpisodeEnded reports whether the Scorecard's decisions no
// longer hold the task's episode open; before any decision nothing has
// ended.
func scorecardEpisodeEnded(sc *cxv1.Scorecard, task *cxv1.ImprovementTask) bool {
	if sc.Status.Detector == nil {
		return false
	}
	det := metricspec.ScorecardDetectorOf(sc.Status.Detector)
	ep, open := det.Episode(task.Spec.SegmentValues[sc.Spec.Key])
	return !open || !ep.Start.Equal(task.Spec.EpisodeStart.Time)
}

// lookAtAccount scores the task's account on fresh data for its phase:
// data newer than the resolution while Verifying, data since the episode
// ended while the owner has not resolved it (recovery without action).
func (r *ImprovementTaskReconciler) lookAtAccount(ctx context.Context, sc *cxv1.Scorecard, t metricspec.ScorecardTasks,
	task *cxv1.ImprovementTask, current loop.Status, status *cxv1.ImprovementTaskStatus, obs *loop.Observation,
	now time.Time) (*cxv1.TaskMeasurement, error) {
	var since, deadline time.Time
	switch {
	case current.Phase == loop.Verifying && current.ResolvedAt != nil:
		since, deadline = *current.ResolvedAt, current.ResolvedAt.Add(t.Metric.VerifyWindow)
	case obs.Owner.State != loop.OwnerResolved && status.EpisodeEndedAt != nil:
		since = status.EpisodeEndedAt.Time
	default:
		return nil, nil
	}
	to := engine.Align(now, t.Metric.Interval, t.Metric.Location)
	if !to.After(since) {
		return nil, nil
	}
	members, _, err := metricspec.ScorecardMemberSources(ctx, sc, scorecardReader(r.Client, r.Sources, sc))
	if err != nil {
		return nil, err
	}
	account := task.Spec.SegmentValues[sc.Spec.Key]
	fresh, err := scorecard.ScoreBetween(ctx, scorecard.ForKey(members, account), t.Input, since, to)
	if err != nil {
		return nil, err
	}
	ep := metricspec.ScorecardTaskEpisode(t, task, account)
	det := metricspec.ScorecardDetectorOf(sc.Status.Detector)
	look := scorecard.Look{Attempt: max(1, task.Status.Attempt), Deadline: !deadline.IsZero(), Final: !deadline.IsZero() && !to.Before(deadline),
		Span: to.Sub(since), Planned: t.Metric.VerifyWindow, MinSamples: t.Metric.Policy.MinFreshSamples}
	v := t.Policy.Verify(ep, fresh, det.Spread(t.Policy.Shift), look)
	check := &loop.Check{Outcome: loop.Outcome(v.Verdict),
		Improvement: loop.Improvement{Value: engine.Round(v.Improvement), Lower: engine.Round(v.ImprovementLower),
			Upper: engine.Round(v.ImprovementUpper), Samples: int64(v.Samples), Level: v.Level},
		Message: fmt.Sprintf("account %s: fresh score %.3g on %.0f samples since %s against %.3g, improvement measured from the score that opened the task",
			account, v.Mean, v.Samples, since.UTC().Format(time.RFC3339), math.Max(t.Policy.Target-t.Policy.Shift/2, ep.Score))}
	if deadline.IsZero() {
		obs.SinceOpening = check
		return nil, nil
	}
	obs.Fresh = check
	m := &cxv1.TaskMeasurement{Time: metav1.NewTime(to), Samples: int64(v.Samples)}
	if v.Samples > 0 {
		m.Value, m.Lower, m.Upper = ptrTo(engine.Round(v.Mean)), ptrTo(engine.Round(v.Lower)), ptrTo(engine.Round(v.Upper))
	}
	return m, nil
}

func ptrTo[T any](v T) *T { return &v }

// tasksOfScorecard lists a Scorecard's tasks, so its change (deletion,
// a new definition, a decision that ends an episode) re-examines them.
func (r *ImprovementTaskReconciler) tasksOfScorecard(ctx context.Context, o client.Object) []reconcile.Request {
	return r.tasksOf(ctx, o, indexTaskScorecard)
}
