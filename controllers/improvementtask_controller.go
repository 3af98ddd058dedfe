package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/notify"
)

// FreshDataChecker answers the loop's statistical question for a task: is
// the drop that opened it gone, judged only on data newer than since? It
// returns nil when there is no verdict to give (the source could not be
// read): missing data never verifies, reopens or closes a task.
type FreshDataChecker interface {
	Check(ctx context.Context, m *cxv1.Metric, t *cxv1.ImprovementTask, since, deadline time.Time) (*loop.Check, *cxv1.TaskMeasurement, error)
}

// Deliverer delivers a task event to one of a team's channels (named
// team/channel) and returns the attempt's record; ok is false when the
// team has no such channel.
type Deliverer interface {
	Retry(ctx context.Context, team *cxv1.Team, channel string, task *cxv1.ImprovementTask, ev loop.Event, tries int32) (cxv1.DeliveryRecord, bool)
}

// ImprovementTaskReconciler is the only writer of task status: it applies
// the owner's actions, verifies resolutions on fresh data, reopens,
// escalates, recovers, cancels, delivers each transition to the team's
// tools and removes closed tasks after their retention.
type ImprovementTaskReconciler struct {
	client.Client
	Scheme    *runtime.Scheme
	Clock     clock.Clock
	Recorder  events.EventRecorder
	Checker   FreshDataChecker
	Deliverer Deliverer
}

// +kubebuilder:rbac:groups=cxloop.dev,resources=improvementtasks,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=cxloop.dev,resources=improvementtasks/status,verbs=get;update;patch

// Reconcile moves one task through the closed loop.
func (r *ImprovementTaskReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	var task cxv1.ImprovementTask
	if err := r.Get(ctx, req.NamespacedName, &task); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Clock.Now()

	var metric *cxv1.Metric
	var m cxv1.Metric
	err := r.Get(ctx, types.NamespacedName{Namespace: task.Namespace, Name: task.Spec.Metric}, &m)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("read metric %s: %w", task.Spec.Metric, err)
	default:
		metric = &m
	}

	obs := loop.Observation{
		Now:           now,
		Owner:         ownerOf(&task),
		MetricDeleted: metric == nil || !metric.DeletionTimestamp.IsZero(),
	}
	var durations metricspec.Durations
	var policy metricspec.Policy
	if metric != nil {
		if durations, err = metricspec.ParseDurations(metric); err != nil {
			return ctrl.Result{}, nil // the Metric reconciler reports a bad spec
		}
		policy = metricspec.ImprovementPolicy(metric)
		obs.Policy = loop.Policy{MaxAttempts: policy.MaxAttempts, VerifyWindow: durations.VerifyWindow}
		obs.DefinitionChanged = metricspec.Definition(metric).Hash() != task.Spec.DefinitionHash
	}

	current := statusOf(&task)
	episodeEndedAt := task.Status.EpisodeEndedAt
	if episodeEndedAt == nil && metric != nil && !current.Phase.Final() && episodeClosed(metric, &task) {
		t := metav1.NewTime(now)
		episodeEndedAt = &t
	}
	var measurement *cxv1.TaskMeasurement
	if metric != nil && !obs.MetricDeleted && !obs.DefinitionChanged && !current.Phase.Final() && current.Phase != "" && r.Checker != nil {
		switch {
		case current.Phase == loop.Verifying && current.ResolvedAt != nil:
			obs.Fresh, measurement, err = r.Checker.Check(ctx, metric, &task, *current.ResolvedAt, current.ResolvedAt.Add(durations.VerifyWindow))
		case obs.Owner.State != loop.OwnerResolved:
			if since, ok := recoverySince(metric, &task, episodeEndedAt); ok {
				obs.SinceOpening, _, err = r.Checker.Check(ctx, metric, &task, since, time.Time{})
			}
		}
		if err != nil {
			log.Info("fresh data could not be read; the task waits", "error", err.Error())
		}
	}

	next, evs := loop.Advance(current, obs)
	status := task.Status.DeepCopy()
	applyStatus(status, next, task.Generation)
	status.EpisodeEndedAt = episodeEndedAt
	if measurement != nil {
		status.Measurements = recordMeasurement(status.Measurements, *measurement)
	}
	if next.Escalated && !current.Escalated && metric != nil {
		status.EscalatedTo = r.escalationTeam(ctx, metric, policy)
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: cxv1.ConditionEscalated, Status: metav1.ConditionTrue,
			Reason: "MaxAttemptsReached", ObservedGeneration: task.Generation,
			Message: fmt.Sprintf("reopened %d times; escalated to team %s", next.Attempt-1, status.EscalatedTo)})
	}
	// The transition and its pending deliveries are written first, with
	// optimistic locking, so a reconcile that read a stale task conflicts
	// instead of repeating the transition; the deliveries follow, and a
	// crash between the two leaves them pending for the next reconcile.
	for _, ev := range evs {
		r.planDeliveries(ctx, &task, status, ev, now)
	}
	if err := r.writeStatus(ctx, &task, status); err != nil {
		return ctrl.Result{}, err
	}
	for _, ev := range evs {
		if r.Recorder != nil {
			r.Recorder.Eventf(&task, nil, eventType(ev), string(ev), "Transition", "%s: %s", next.Reason, next.Message)
		}
	}
	retryAt, err := r.sendDeliveries(ctx, &task, now)
	if err != nil {
		return ctrl.Result{}, err
	}

	if next.Phase.Final() {
		retention := durations.Retention
		if retention == 0 {
			retention = 2160 * time.Hour
		}
		if loop.Expired(next, now, retention) {
			return ctrl.Result{}, client.IgnoreNotFound(r.Delete(ctx, &task))
		}
		return ctrl.Result{RequeueAfter: clock.WallDuration(r.Clock, next.ClosedAt.Add(retention).Sub(now))}, nil
	}
	interval := durations.Interval
	if interval == 0 {
		interval = 24 * time.Hour
	}
	wake := nextBoundary(now, interval)
	if !retryAt.IsZero() && retryAt.Before(wake) {
		wake = retryAt
	}
	return ctrl.Result{RequeueAfter: clock.WallDuration(r.Clock, wake.Sub(now))}, nil
}

// sendDeliveries makes each pending delivery, and retries each one whose
// latest attempt failed with a retryable error once its backoff has
// passed. Each attempt is first claimed in status with optimistic locking,
// so a reconcile that read a stale task conflicts before it sends a
// duplicate; the outcomes are written afterwards. It returns when the next
// retry is due (zero when none is).
func (r *ImprovementTaskReconciler) sendDeliveries(ctx context.Context, task *cxv1.ImprovementTask, now time.Time) (time.Time, error) {
	if r.Deliverer == nil {
		return time.Time{}, nil
	}
	type key struct {
		channel, event string
		attempt        int32
	}
	status := task.Status.DeepCopy()
	latest := map[key]cxv1.DeliveryRecord{}
	var order []key
	for _, d := range status.Deliveries {
		k := key{d.Channel, d.Event, d.Attempt}
		if _, seen := latest[k]; !seen {
			order = append(order, k)
		}
		latest[k] = d
	}
	var due time.Time
	later := func(at time.Time) {
		if due.IsZero() || at.Before(due) {
			due = at
		}
	}
	var claims []cxv1.DeliveryRecord
	for _, k := range order {
		d := latest[k]
		if d.Succeeded || !d.Retryable || d.Tries >= notify.MaxTries {
			continue
		}
		at := d.Time.Time // a pending delivery is due at once
		if d.Tries > 0 {
			at = at.Add(notify.RetryAfter(int(d.Tries) - 1))
		}
		if now.Before(at) {
			later(at)
			continue
		}
		claim := d
		claim.Tries, claim.Time, claim.Message, claim.Retryable = d.Tries+1, metav1.NewTime(now), "sending", true
		claims = append(claims, claim)
		status.Deliveries = appendBounded(status.Deliveries, claim, 50)
	}
	if len(claims) == 0 {
		return due, nil
	}
	if err := r.writeStatus(ctx, task, status); err != nil {
		return due, err
	}
	status = task.Status.DeepCopy()
	for _, claim := range claims {
		teamName, _, _ := strings.Cut(claim.Channel, "/")
		var team cxv1.Team
		if err := r.Get(ctx, types.NamespacedName{Namespace: task.Namespace, Name: teamName}, &team); err != nil {
			continue
		}
		rec, ok := r.Deliverer.Retry(ctx, &team, claim.Channel, task, loop.Event(claim.Event), claim.Tries)
		if !ok {
			continue
		}
		for i := len(status.Deliveries) - 1; i >= 0; i-- {
			d := &status.Deliveries[i]
			if d.Channel == claim.Channel && d.Event == claim.Event && d.Attempt == claim.Attempt && d.Tries == claim.Tries {
				*d = rec
				break
			}
		}
		if !rec.Succeeded && rec.Retryable {
			later(now.Add(notify.RetryAfter(int(rec.Tries) - 1)))
		}
	}
	return due, r.writeStatus(ctx, task, status)
}

// episodeClosed reports whether the Metric's detector no longer holds the
// task's episode open. Tasks are created only after their episode is
// recorded on the Metric, so a missing episode means it ended.
func episodeClosed(m *cxv1.Metric, t *cxv1.ImprovementTask) bool {
	d := m.Status.Detector
	if d == nil {
		return false
	}
	for _, s := range d.Segments {
		if s.Segment == t.Spec.Segment && s.EpisodeStart != nil && s.EpisodeStart.Equal(&t.Spec.EpisodeStart) {
			return false
		}
	}
	return true
}

// recoverySince is where data for judging recovery without action starts:
// when the detector estimates the metric came back while its episode is
// open, or when the episode ended.
func recoverySince(m *cxv1.Metric, t *cxv1.ImprovementTask, ended *metav1.Time) (time.Time, bool) {
	if ended != nil {
		return ended.Time, true
	}
	if d := m.Status.Detector; d != nil {
		for _, s := range d.Segments {
			if s.Segment == t.Spec.Segment && s.EpisodeStart != nil && s.EpisodeStart.Equal(&t.Spec.EpisodeStart) && s.RecoverySince != nil {
				return s.RecoverySince.Time, true
			}
		}
	}
	return time.Time{}, false
}

// nextBoundary is the first multiple of interval after now.
func nextBoundary(now time.Time, interval time.Duration) time.Time {
	return now.Truncate(interval).Add(interval)
}

func (r *ImprovementTaskReconciler) escalationTeam(ctx context.Context, m *cxv1.Metric, p metricspec.Policy) string {
	if p.EscalationTeam != "" {
		return p.EscalationTeam
	}
	var owner cxv1.Team
	if err := r.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: m.Spec.Owner.Team}, &owner); err == nil && owner.Spec.EscalationTeam != "" {
		return owner.Spec.EscalationTeam
	}
	return m.Spec.Owner.Team
}

// planDeliveries records a pending delivery of an event to each channel of
// the owning team, and of the escalation team for an escalation.
func (r *ImprovementTaskReconciler) planDeliveries(ctx context.Context, task *cxv1.ImprovementTask, status *cxv1.ImprovementTaskStatus, ev loop.Event, now time.Time) {
	if r.Deliverer == nil {
		return
	}
	teams := []string{task.Spec.Team}
	if ev == loop.EventEscalated && status.EscalatedTo != "" && status.EscalatedTo != task.Spec.Team {
		teams = append(teams, status.EscalatedTo)
	}
	for _, name := range teams {
		var team cxv1.Team
		if err := r.Get(ctx, types.NamespacedName{Namespace: task.Namespace, Name: name}, &team); err != nil {
			continue
		}
		for _, ch := range team.Spec.Channels {
			status.Deliveries = appendBounded(status.Deliveries, cxv1.DeliveryRecord{Channel: team.Name + "/" + ch.Name,
				Event: string(ev), Attempt: status.Attempt, Time: metav1.NewTime(now), Retryable: true, Message: "pending"}, 50)
		}
	}
}

// writeStatus patches the task's status when it changed, with optimistic
// locking.
func (r *ImprovementTaskReconciler) writeStatus(ctx context.Context, task *cxv1.ImprovementTask, status *cxv1.ImprovementTaskStatus) error {
	if equality.Semantic.DeepEqual(&task.Status, status) {
		return nil
	}
	patch := client.MergeFromWithOptions(task.DeepCopy(), client.MergeFromWithOptimisticLock{})
	task.Status = *status
	if err := r.Status().Patch(ctx, task, patch); err != nil {
		return fmt.Errorf("write status of task %s: %w", task.Name, err)
	}
	return nil
}

func eventType(ev loop.Event) string {
	switch ev {
	case loop.EventReopened, loop.EventEscalated:
		return "Warning"
	}
	return "Normal"
}

// recordMeasurement keeps one measurement per evaluation window: the
// fresh data is read up to the window's aligned end, so every reconcile
// within one window measures the same thing and replaces the entry rather
// than adding another. Appending on each reconcile would write status on
// every reconcile, each write would trigger the next reconcile, and the
// bounded history would fill with copies of one window.
func recordMeasurement(list []cxv1.TaskMeasurement, m cxv1.TaskMeasurement) []cxv1.TaskMeasurement {
	if n := len(list); n > 0 && list[n-1].Time.Equal(&m.Time) {
		out := append([]cxv1.TaskMeasurement(nil), list...)
		out[n-1] = m
		return out
	}
	return appendBounded(list, m, cxv1.MaxHistory)
}

func appendBounded[T any](list []T, item T, max int) []T {
	list = append(list, item)
	if len(list) > max {
		list = append([]T(nil), list[len(list)-max:]...)
	}
	return list
}

func ownerOf(t *cxv1.ImprovementTask) loop.Owner {
	o := loop.Owner{State: loop.OwnerState(t.Spec.State)}
	if o.State == "" {
		o.State = loop.OwnerOpen
	}
	if t.Spec.Resolution != nil {
		o.ResolutionAttempt = t.Spec.Resolution.Attempt
	}
	return o
}

func statusOf(t *cxv1.ImprovementTask) loop.Status {
	st := &t.Status
	s := loop.Status{
		Phase: loop.Phase(st.Phase), Attempt: st.Attempt, Reason: st.Reason, Message: st.Message,
		Escalated: meta.IsStatusConditionTrue(st.Conditions, cxv1.ConditionEscalated),
	}
	if st.ResolvedAt != nil {
		x := st.ResolvedAt.Time
		s.ResolvedAt = &x
	}
	if st.ClosedAt != nil {
		x := st.ClosedAt.Time
		s.ClosedAt = &x
	}
	if v := st.Verification; v != nil {
		s.Improvement = &loop.Improvement{Value: v.Improvement, Lower: v.Lower, Upper: v.Upper, Samples: v.Samples, Level: v.Level}
	}
	return s
}

func applyStatus(st *cxv1.ImprovementTaskStatus, s loop.Status, generation int64) {
	st.ObservedGeneration = generation
	st.Phase, st.Attempt, st.Reason, st.Message = cxv1.TaskPhase(s.Phase), s.Attempt, s.Reason, truncate(s.Message, 1024)
	st.ResolvedAt, st.ClosedAt = timePtr(s.ResolvedAt), timePtr(s.ClosedAt)
	st.Verification = nil
	if imp := s.Improvement; imp != nil {
		st.Verification = &cxv1.Verification{Improvement: imp.Value, Lower: imp.Lower, Upper: imp.Upper, Samples: imp.Samples, Level: imp.Level}
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: cxv1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: string(s.Phase), Message: "the task is tracked", ObservedGeneration: generation})
}

func timePtr(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	mt := metav1.NewTime(*t)
	return &mt
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// SetupWithManager registers the reconciler; a Metric's change (deletion,
// definition change) re-examines its tasks.
func (r *ImprovementTaskReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&cxv1.ImprovementTask{}).
		Watches(&cxv1.Metric{}, handler.EnqueueRequestsFromMapFunc(r.tasksOfMetric)).
		Named("improvementtask").
		Complete(r)
}

func (r *ImprovementTaskReconciler) tasksOfMetric(ctx context.Context, o client.Object) []reconcile.Request {
	var tasks cxv1.ImprovementTaskList
	if err := r.List(ctx, &tasks, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexTaskMetric: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(tasks.Items))
	for _, t := range tasks.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: t.Namespace, Name: t.Name}})
	}
	return reqs
}
