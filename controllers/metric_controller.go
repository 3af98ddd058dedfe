package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/detect"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// MetricReconciler measures each Metric on schedule, feeds its change
// detector exactly once with new data, opens a task per new episode and
// writes the Metric's status: once, at the end, and only when it changed.
type MetricReconciler struct {
	client.Client
	Scheme    *runtime.Scheme
	Clock     clock.Clock
	Recorder  events.EventRecorder
	Exporter  *Exporter
	Evaluator MetricEvaluator
	// MaxConcurrent bounds how many Metrics are evaluated at once, so slow
	// warehouse queries never starve the others.
	MaxConcurrent int

	mu        sync.Mutex
	evaluated map[types.UID]evaluationKey
}

// evaluationKey is what makes an evaluation due again: a new window, a new
// generation or a new reconcile request.
type evaluationKey struct {
	windowEnd  time.Time
	generation int64
	requested  string
}

// errSourceUnavailable wraps errors that mean the source could not be read.
var errSourceUnavailable = errors.New("source unavailable")

// +kubebuilder:rbac:groups=cxloop.dev,resources=metrics,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cxloop.dev,resources=metrics/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cxloop.dev,resources=metrics/finalizers,verbs=update
// +kubebuilder:rbac:groups=cxloop.dev,resources=improvementtasks,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile evaluates one Metric if an evaluation is due.
func (r *MetricReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var m cxv1.Metric
	if err := r.Get(ctx, req.NamespacedName, &m); err != nil {
		if apierrors.IsNotFound(err) && r.Exporter != nil {
			r.Exporter.Forget(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !m.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, &m)
	}
	if !controllerutil.ContainsFinalizer(&m, cxv1.MetricFinalizer) {
		patch := client.MergeFrom(m.DeepCopy())
		controllerutil.AddFinalizer(&m, cxv1.MetricFinalizer)
		if err := r.Patch(ctx, &m, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
	}
	return r.reconcileNormal(ctx, &m)
}

// reconcileDelete waits until the task reconciler has cancelled every open
// task of the Metric, then lets it go.
func (r *MetricReconciler) reconcileDelete(ctx context.Context, m *cxv1.Metric) (ctrl.Result, error) {
	var tasks cxv1.ImprovementTaskList
	if err := r.List(ctx, &tasks, client.InNamespace(m.Namespace), client.MatchingFields{indexTaskMetric: m.Name}); err != nil {
		return ctrl.Result{}, err
	}
	for _, t := range tasks.Items {
		if !isFinal(t.Status.Phase) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
	}
	if controllerutil.ContainsFinalizer(m, cxv1.MetricFinalizer) {
		patch := client.MergeFrom(m.DeepCopy())
		controllerutil.RemoveFinalizer(m, cxv1.MetricFinalizer)
		if err := r.Patch(ctx, m, patch); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if r.Exporter != nil {
		r.Exporter.Forget(m.Namespace, m.Name)
	}
	return ctrl.Result{}, nil
}

func isFinal(p cxv1.TaskPhase) bool {
	switch p {
	case cxv1.PhaseVerified, cxv1.PhaseRecovered, cxv1.PhaseDismissed, cxv1.PhaseCancelled:
		return true
	}
	return false
}

func (r *MetricReconciler) reconcileNormal(ctx context.Context, m *cxv1.Metric) (ctrl.Result, error) {
	now := r.Clock.Now()
	next := m.Status.DeepCopy()
	next.ObservedGeneration = m.Generation
	requested := m.Annotations[cxv1.ReconcileRequestAnnotation]
	next.LastHandledReconcileAt = requested

	durations, err := metricspec.ParseDurations(m)
	if err != nil {
		setStalled(next, m.Generation, "InvalidSpec", err.Error())
		return ctrl.Result{}, r.writeStatus(ctx, m, next)
	}
	if m.Spec.Suspend {
		setReady(next, m.Generation, metav1.ConditionTrue, "Suspended", "evaluation is suspended; the detector's state is kept")
		return ctrl.Result{}, r.writeStatus(ctx, m, next)
	}

	windowEnd := detect.Bounds(now, durations.Interval, durations.SettleDelay)
	requeue := ctrl.Result{RequeueAfter: clock.WallDuration(r.Clock, windowEnd.Add(durations.Interval+durations.SettleDelay).Sub(now))}
	key := evaluationKey{windowEnd: windowEnd, generation: m.Generation, requested: requested}
	if r.alreadyEvaluated(m.UID, key) && m.Status.ObservedGeneration == m.Generation {
		return requeue, nil
	}

	if r.Evaluator == nil {
		return ctrl.Result{}, nil
	}
	ds, stalled, err := r.dataSource(ctx, m)
	if err != nil {
		return ctrl.Result{}, err
	}
	if stalled != "" {
		setStalled(next, m.Generation, "DataSourceNotFound", stalled)
		if err := r.writeStatus(ctx, m, next); err != nil {
			return ctrl.Result{}, err
		}
		return requeue, nil
	}

	result, err := r.Evaluator.Evaluate(ctx, m, ds, windowEnd)
	if err != nil {
		if !errors.Is(err, errSourceUnavailable) {
			return ctrl.Result{}, err
		}
		r.sourceFailed(m, next, err)
		if err := r.writeStatus(ctx, m, next); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: clock.WallDuration(r.Clock, backoff(next.ConsecutiveSourceErrors, durations.Interval))}, nil
	}
	if next.ConsecutiveSourceErrors > 0 {
		r.event(m, "Normal", "SourceRestored", "the source answers again after %d failed evaluation(s)", next.ConsecutiveSourceErrors)
	}
	next.ConsecutiveSourceErrors = 0
	meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionSourceUnavailable)
	meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionReconciling)
	meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionStalled)

	create, err := r.planTasks(ctx, m, result, next)
	if err != nil {
		return ctrl.Result{}, err
	}
	applyEvaluation(m, next, result)
	r.announceEpisodes(m, result)
	if err := r.writeStatus(ctx, m, next); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.createTasks(ctx, m, create); err != nil {
		return ctrl.Result{}, err
	}
	r.markEvaluated(m.UID, key)
	if r.Exporter != nil {
		exported := m.DeepCopy()
		exported.Status = *next
		r.Exporter.Observe(exported, now)
	}
	return requeue, nil
}

// backoff is the delay before re-reading a failing source: doubling from
// a minute, capped at the metric's interval.
func backoff(failures int32, interval time.Duration) time.Duration {
	d := time.Minute
	for i := int32(1); i < failures && d < interval; i++ {
		d *= 2
	}
	return min(d, interval)
}

func (r *MetricReconciler) alreadyEvaluated(uid types.UID, key evaluationKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, ok := r.evaluated[uid]
	return ok && last == key
}

func (r *MetricReconciler) markEvaluated(uid types.UID, key evaluationKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evaluated == nil {
		r.evaluated = map[types.UID]evaluationKey{}
	}
	r.evaluated[uid] = key
}

// dataSource returns the Metric's DataSource, or a message saying why the
// Metric cannot be evaluated until the user acts.
func (r *MetricReconciler) dataSource(ctx context.Context, m *cxv1.Metric) (*cxv1.DataSource, string, error) {
	if m.Spec.Source == nil {
		return nil, "", nil
	}
	var ds cxv1.DataSource
	err := r.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: m.Spec.Source.Name}, &ds)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Sprintf("DataSource %s not found in namespace %s; create it or fix spec.source.name", m.Spec.Source.Name, m.Namespace), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read DataSource %s: %w", m.Spec.Source.Name, err)
	}
	return &ds, "", nil
}

func (r *MetricReconciler) sourceFailed(m *cxv1.Metric, next *cxv1.MetricStatus, err error) {
	next.ConsecutiveSourceErrors++
	msg := truncate(err.Error(), 900)
	if next.ConsecutiveSourceErrors == 1 {
		r.event(m, "Warning", "SourceUnavailable", "%s", msg)
	}
	meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionSourceUnavailable, Status: metav1.ConditionTrue,
		Reason: "QueryFailed", Message: msg, ObservedGeneration: m.Generation})
	meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionReconciling, Status: metav1.ConditionTrue,
		Reason: "ProgressingWithRetry", Message: fmt.Sprintf("retrying after %d failed evaluation(s); the last good value is kept", next.ConsecutiveSourceErrors),
		ObservedGeneration: m.Generation})
	setReady(next, m.Generation, metav1.ConditionFalse, "SourceUnavailable", msg+"; check DataSource "+sourceName(m))
}

func sourceName(m *cxv1.Metric) string {
	if m.Spec.Source == nil {
		return ""
	}
	return m.Spec.Source.Name
}

func setReady(st *cxv1.MetricStatus, gen int64, s metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: cxv1.ConditionReady, Status: s, Reason: reason,
		Message: truncate(msg, 1024), ObservedGeneration: gen})
}

func setStalled(st *cxv1.MetricStatus, gen int64, reason, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: cxv1.ConditionStalled, Status: metav1.ConditionTrue,
		Reason: reason, Message: truncate(msg, 1024), ObservedGeneration: gen})
	meta.RemoveStatusCondition(&st.Conditions, cxv1.ConditionReconciling)
	setReady(st, gen, metav1.ConditionFalse, reason, msg)
}

// writeStatus patches the status once, and only when it changed.
func (r *MetricReconciler) writeStatus(ctx context.Context, m *cxv1.Metric, next *cxv1.MetricStatus) error {
	if equality.Semantic.DeepEqual(&m.Status, next) {
		return nil
	}
	patch := client.MergeFrom(m.DeepCopy())
	m.Status = *next
	if err := r.Status().Patch(ctx, m, patch); err != nil {
		return fmt.Errorf("write status of metric %s: %w", m.Name, err)
	}
	return nil
}

func (r *MetricReconciler) event(m *cxv1.Metric, typ, reason, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(m, nil, typ, reason, "Evaluate", note, args...)
	}
}

// SetupWithManager registers the reconciler. A spec change or a reconcile
// request evaluates at once; a DataSource or Team change re-evaluates the
// Metrics that use it, found through field indexes.
func (r *MetricReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.MaxConcurrent == 0 {
		r.MaxConcurrent = 4
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cxv1.Metric{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{}))).
		Watches(&cxv1.DataSource{}, handler.EnqueueRequestsFromMapFunc(r.metricsBy(indexMetricSource)),
			builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, readyChanged))).
		Watches(&cxv1.Team{}, handler.EnqueueRequestsFromMapFunc(r.metricsBy(indexMetricTeam)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrent}).
		Named("metric").
		Complete(r)
}

func (r *MetricReconciler) metricsBy(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var metrics cxv1.MetricList
		if err := r.List(ctx, &metrics, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(metrics.Items))
		for _, m := range metrics.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.Namespace, Name: m.Name}})
		}
		return reqs
	}
}

// readyChanged passes DataSource updates whose Ready condition changed, so
// Metrics re-evaluate when their source comes back.
var readyChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool { return readyStatus(e.ObjectOld) != readyStatus(e.ObjectNew) },
}

func readyStatus(o client.Object) metav1.ConditionStatus {
	ds, ok := o.(*cxv1.DataSource)
	if !ok {
		return ""
	}
	if c := meta.FindStatusCondition(ds.Status.Conditions, cxv1.ConditionReady); c != nil {
		return c.Status
	}
	return ""
}
