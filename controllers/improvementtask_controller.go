package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/redact"
	"github.com/cxloop/cxloop/internal/source"
)

// Deliverer delivers a task event to one of a team's channels (named
// team/channel) and returns the attempt's record; ok is false when the
// team has no such channel.
type Deliverer interface {
	Retry(ctx context.Context, team *cxv1.Team, channel string, task *cxv1.ImprovementTask, ev loop.Event, tries int32) (cxv1.DeliveryRecord, bool)
}

// ImprovementTaskReconciler moves tasks through the closed loop: it
// applies the owner's actions, verifies resolutions on fresh data through
// the engine, reopens, escalates, recovers, cancels, moves open tasks to
// their Metric's new owner, plans the delivery of each transition to the
// team's tools and removes closed tasks after their retention. The
// deliveries are sent by a controller of their own that it registers
// beside itself, the only other writer of task status.
type ImprovementTaskReconciler struct {
	client.Client
	// Shard selects the namespaces reconciled; every namespace when nil.
	Shard     *Shard
	Scheme    *runtime.Scheme
	Clock     clock.Clock
	Recorder  events.EventRecorder
	Sources   SourceGetter
	Deliverer Deliverer
	// APIReader reads around the cache when a decision must not rest on a
	// stale copy; the cache alone when nil.
	APIReader client.Reader
}

// +kubebuilder:rbac:groups=cxloop.dev,resources=improvementtasks,verbs=get;list;watch;create;delete;patch
// +kubebuilder:rbac:groups=cxloop.dev,resources=improvementtasks/status,verbs=get;update;patch

// Reconcile moves one task through the closed loop.
func (r *ImprovementTaskReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var task cxv1.ImprovementTask
	if err := r.Get(ctx, req.NamespacedName, &task); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Clock.Now()
	if task.Spec.Scorecard != "" {
		return r.reconcileScorecardTask(ctx, &task, now)
	}
	metric, err := r.metricOf(ctx, &task)
	if err != nil {
		return ctrl.Result{}, err
	}
	metric = r.confirmed(ctx, &task, metric)
	obs := loop.Observation{Now: now, Owner: metricspec.OwnerOf(&task), MetricDeleted: metric == nil || !metric.DeletionTimestamp.IsZero()}
	var spec engine.Metric
	if metric != nil {
		if spec, err = metricspec.Translate(metric); err != nil {
			return ctrl.Result{}, nil // the Metric reconciler reports a bad spec
		}
		obs.Policy = loop.Policy{MaxAttempts: spec.Policy.MaxAttempts, VerifyWindow: spec.VerifyWindow}
		obs.DefinitionChanged = spec.Hash != task.Spec.DefinitionHash
	}

	current := metricspec.LoopStatus(&task)
	status := task.Status.DeepCopy()
	newlyDisputed := false
	if metric != nil && !current.Phase.Final() {
		var dispute loop.Dispute
		dispute, obs.FactsDisputed = metricspec.CheckFacts(&task, metric)
		newlyDisputed = metricspec.RecordDispute(status, dispute, obs.FactsDisputed, task.Generation)
	}
	if status.EpisodeEndedAt == nil && metric != nil && !current.Phase.Final() && !obs.FactsDisputed &&
		engine.EpisodeClosed(metricspec.DetectorOf(metric.Status.Detector), metricspec.TaskOf(&task)) {
		t := metav1.NewTime(now)
		status.EpisodeEndedAt = &t
	}
	if metric != nil && !obs.MetricDeleted && !obs.DefinitionChanged && !obs.FactsDisputed && !current.Phase.Final() && current.Phase != "" {
		measurement, err := r.look(ctx, metric, spec, &task, current, status, &obs, now)
		recordLook(status, measurement, err, task.Generation)
	}

	o := origin{spec: spec, present: metric != nil}
	if metric != nil && !obs.MetricDeleted {
		o.plan = func(status *cxv1.ImprovementTaskStatus, attempt int32) {
			metricspec.ApplyVerificationPlan(status, spec, &task, attempt, metric.Status.Samples, metricspec.DetectorOf(metric.Status.Detector))
		}
	}
	return r.settle(ctx, &task, current, status, obs, o, newlyDisputed)
}

// origin is what a task's lifecycle needs of the Metric or Scorecard that
// opened it.
type origin struct {
	// spec carries the origin's owner, durations and improvement policy.
	spec engine.Metric
	// present: the origin exists, though it may be being deleted.
	present bool
	// plan records what verifying the attempt needs; nil records nothing.
	plan func(status *cxv1.ImprovementTaskStatus, attempt int32)
}

// settle advances the task's state machine on what was observed and
// writes what follows from it: the status with its pending deliveries,
// the events, the team label and the next wake-up.
func (r *ImprovementTaskReconciler) settle(ctx context.Context, t *cxv1.ImprovementTask, current loop.Status,
	status *cxv1.ImprovementTaskStatus, obs loop.Observation, o origin, newlyDisputed bool) (ctrl.Result, error) {
	task := *t
	now := obs.Now
	spec := o.spec
	next, evs := loop.Advance(current, obs)
	metricspec.ApplyLoopStatus(status, next, task.Generation)
	if o.plan != nil {
		o.plan(status, next.Attempt)
	}
	newlyIgnored := metricspec.RecordIgnoredResolution(status, next, obs.Owner, task.Generation)
	owner := ""
	if o.present {
		owner = spec.TeamFor(task.Spec.SegmentValues)
	}
	from, moved := reassign(status, task.Spec.Team, owner, !next.Phase.Final(), now)
	if next.Escalated && !current.Escalated && o.present {
		status.EscalatedTo = engine.EscalationTeam(spec, r.ownerEscalation(ctx, task.Namespace, status.Team))
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: cxv1.ConditionEscalated, Status: metav1.ConditionTrue,
			Reason: "MaxAttemptsReached", ObservedGeneration: task.Generation,
			Message: fmt.Sprintf("reopened %d times; escalated to team %s", next.Attempt-1, status.EscalatedTo)})
	}
	// The transition and its pending deliveries are written together, with
	// optimistic locking, so a reconcile that read a stale task (or raced
	// the delivery controller's write) conflicts instead of repeating the
	// transition or dropping a delivery's record. The delivery controller
	// sends what is pending, on workers of its own, so a sink that is slow
	// to answer delays no verification. A move is announced to the new team
	// before the transition that comes with it, so its tools hear of the
	// task first.
	if moved {
		r.planDeliveries(ctx, &task, status, loop.EventReassigned, now)
	}
	for _, ev := range evs {
		r.planDeliveries(ctx, &task, status, ev, now)
	}
	if err := r.writeStatus(ctx, &task, status); apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: conflictBackoff}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	if moved && r.Recorder != nil {
		r.Recorder.Eventf(&task, nil, "Normal", string(loop.EventReassigned), "Reassign",
			"moved from team %s to team %s, the owner of %s now", from, status.Team, task.Origin())
	}
	for _, ev := range evs {
		if r.Recorder != nil {
			r.Recorder.Eventf(&task, nil, eventType(ev), string(ev), "Transition", "%s: %s", next.Reason, next.Message)
		}
	}
	r.announceRefusals(&task, status, newlyDisputed, newlyIgnored)
	// The label follows the recorded team; written after the status, so a
	// crash in between is repaired by the next reconcile.
	if err := r.syncTeamLabel(ctx, &task); err != nil {
		return ctrl.Result{}, err
	}
	return r.requeue(ctx, &task, next, spec, o.present, now)
}

// recordLook records a look at a task's fresh data: the measurement, or
// the DataUnavailable condition while the data cannot be read.
func recordLook(status *cxv1.ImprovementTaskStatus, measurement *cxv1.TaskMeasurement, err error, generation int64) {
	if err != nil {
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: cxv1.ConditionDataUnavailable, Status: metav1.ConditionTrue,
			Reason: "FreshDataUnreadable", ObservedGeneration: generation,
			Message: redact.Cut(fmt.Sprintf("%v; the task waits: nothing verifies, reopens or closes on missing data", err), 1024)})
	} else {
		meta.RemoveStatusCondition(&status.Conditions, cxv1.ConditionDataUnavailable)
	}
	if measurement != nil {
		status.Measurements = metricspec.RecordMeasurement(status.Measurements, *measurement)
	}
}

// confirmed re-reads the Metric from the API server when the cached copy
// would dispute the task's facts or end its episode: the cache can lag the
// status write that recorded a new episode just before its task was
// created, and neither a dispute nor an episode's end may rest on a stale
// read.
func (r *ImprovementTaskReconciler) confirmed(ctx context.Context, task *cxv1.ImprovementTask, metric *cxv1.Metric) *cxv1.Metric {
	if metric == nil || r.APIReader == nil || phaseOf(task).Final() {
		return metric
	}
	_, disputed := metricspec.CheckFacts(task, metric)
	ending := task.Status.EpisodeEndedAt == nil &&
		engine.EpisodeClosed(metricspec.DetectorOf(metric.Status.Detector), metricspec.TaskOf(task))
	if !disputed && !ending {
		return metric
	}
	var fresh cxv1.Metric
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: metric.Namespace, Name: metric.Name}, &fresh); err != nil {
		return metric
	}
	return &fresh
}

// metricOf reads the task's Metric; nil when it is gone.
func (r *ImprovementTaskReconciler) metricOf(ctx context.Context, task *cxv1.ImprovementTask) (*cxv1.Metric, error) {
	var m cxv1.Metric
	if found, err := r.readOrigin(ctx, task, task.Spec.Metric, &m); !found {
		return nil, err
	}
	return &m, nil
}

// readOrigin reads the Metric or Scorecard named name in the task's
// namespace into obj; found is false when it is gone. One missing from
// the cache may be one created a moment ago, and a task is cancelled for
// an origin that is gone: only the API server may say so.
func (r *ImprovementTaskReconciler) readOrigin(ctx context.Context, task *cxv1.ImprovementTask, name string, obj client.Object) (bool, error) {
	key := types.NamespacedName{Namespace: task.Namespace, Name: name}
	err := r.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && r.APIReader != nil {
		err = r.APIReader.Get(ctx, key, obj)
	}
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read %s of task %s: %w", task.Origin(), task.Name, err)
	}
	return true, nil
}

// look runs the engine's verification for the task's phase: on data newer
// than the resolution while Verifying, and on data since the episode came
// back while the owner has not resolved it (recovery without action).
func (r *ImprovementTaskReconciler) look(ctx context.Context, metric *cxv1.Metric, spec engine.Metric, task *cxv1.ImprovementTask,
	current loop.Status, status *cxv1.ImprovementTaskStatus, obs *loop.Observation, now time.Time) (*cxv1.TaskMeasurement, error) {
	t := metricspec.TaskOf(task).WithCalibration(metricspec.DetectorOf(metric.Status.Detector))
	var since, deadline time.Time
	switch {
	case current.Phase == loop.Verifying && current.ResolvedAt != nil:
		since, deadline = *current.ResolvedAt, current.ResolvedAt.Add(spec.VerifyWindow)
	case obs.Owner.State != loop.OwnerResolved:
		var ended *time.Time
		if status.EpisodeEndedAt != nil {
			ended = &status.EpisodeEndedAt.Time
		}
		s, ok := engine.RecoverySince(metricspec.DetectorOf(metric.Status.Detector), t, ended)
		if !ok {
			return nil, nil
		}
		since = s
	default:
		return nil, nil
	}
	src, err := r.source(ctx, metric)
	if err != nil {
		return nil, err
	}
	// Fresh data leaves the metric's exclusions out, as its evaluation does.
	check, meas, err := engine.Verify(ctx, engine.ExcludeFrom(src, spec), spec, t, since, deadline, now, metric.Status.Samples)
	if err != nil {
		return nil, err
	}
	if deadline.IsZero() {
		obs.SinceOpening = check
		return nil, nil
	}
	obs.Fresh = check
	return metricspec.MeasurementStatus(meas), nil
}

// source connects the Metric's DataSource; nil for a derived Metric.
func (r *ImprovementTaskReconciler) source(ctx context.Context, m *cxv1.Metric) (source.Source, error) {
	if m.Spec.Source == nil || r.Sources == nil {
		return nil, nil
	}
	var ds cxv1.DataSource
	if err := r.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: m.Spec.Source.Name}, &ds); err != nil {
		return nil, fmt.Errorf("read DataSource %s: %w", m.Spec.Source.Name, err)
	}
	return r.Sources.Get(ctx, &ds)
}

// ownerEscalation is the escalation team of the team that owns the task
// now, if it names one.
func (r *ImprovementTaskReconciler) ownerEscalation(ctx context.Context, namespace, team string) string {
	var owner cxv1.Team
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: team}, &owner); err == nil {
		return owner.Spec.EscalationTeam
	}
	return ""
}

// requeue removes a closed task after its retention, and otherwise wakes
// at the next evaluation boundary (delivery retries wake the delivery
// controller).
func (r *ImprovementTaskReconciler) requeue(ctx context.Context, task *cxv1.ImprovementTask, next loop.Status, spec engine.Metric,
	haveMetric bool, now time.Time) (ctrl.Result, error) {
	if next.Phase.Final() {
		retention := spec.Retention
		if !haveMetric {
			retention = defaultRetention
		}
		if loop.Expired(next, now, retention) {
			return ctrl.Result{}, client.IgnoreNotFound(r.Delete(ctx, task))
		}
		return ctrl.Result{RequeueAfter: clock.WallDuration(r.Clock, next.ClosedAt.Add(retention).Sub(now))}, nil
	}
	wake := now.Add(time.Hour)
	if haveMetric {
		wake = engine.NextBoundary(now, spec.Interval, spec.Location)
	}
	return ctrl.Result{RequeueAfter: clock.WallDuration(r.Clock, wake.Sub(now))}, nil
}

// defaultRetention keeps a closed task whose Metric is gone (so its
// retention is unknown) for 90 days.
const defaultRetention = 2160 * time.Hour

// taskWorkers is how many tasks reconcile at once. No channel is called
// inside these reconciles: deliveries run on the delivery controller's
// workers (deliveryWorkers), so channels that never answer, however many
// tasks deliver to them, hold no task worker and verification goes on.
const taskWorkers = 4

// SetupWithManager registers the reconciler, and the delivery controller
// that sends what it plans; a Metric's change (deletion, definition
// change) re-examines its tasks.
func (r *ImprovementTaskReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&cxv1.ImprovementTask{}).
		Watches(&cxv1.Metric{}, handler.EnqueueRequestsFromMapFunc(r.tasksOfMetric)).
		Watches(&cxv1.Scorecard{}, handler.EnqueueRequestsFromMapFunc(r.tasksOfScorecard)).
		WithOptions(controller.Options{MaxConcurrentReconciles: taskWorkers}).
		Named("improvementtask")
	err := r.Shard.watch(b, &cxv1.ImprovementTaskList{}).Complete(r.Shard.gate(r))
	if err != nil {
		return err
	}
	return r.setupDeliveries(mgr)
}

func (r *ImprovementTaskReconciler) tasksOfMetric(ctx context.Context, o client.Object) []reconcile.Request {
	return r.tasksOf(ctx, o, indexTaskMetric)
}

// tasksOf lists the tasks whose index field names the object.
func (r *ImprovementTaskReconciler) tasksOf(ctx context.Context, o client.Object, field string) []reconcile.Request {
	var tasks cxv1.ImprovementTaskList
	if err := r.List(ctx, &tasks, client.InNamespace(o.GetNamespace()), client.MatchingFields{field: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(tasks.Items))
	for _, t := range tasks.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: t.Namespace, Name: t.Name}})
	}
	return reqs
}
