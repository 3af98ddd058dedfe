package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/promexport"
	"github.com/cxloop/cxloop/internal/source"
)

// SourceGetter returns the connected source of a DataSource.
type SourceGetter interface {
	Get(ctx context.Context, ds *cxv1.DataSource) (source.Source, error)
}

// MetricReconciler measures each Metric on schedule through the engine,
// opens a task per new episode and writes the Metric's status: once, at
// the end, and only when it changed.
type MetricReconciler struct {
	client.Client
	// Shard selects the namespaces reconciled; every namespace when nil.
	Shard    *Shard
	Scheme   *runtime.Scheme
	Clock    clock.Clock
	Recorder events.EventRecorder
	Exporter *promexport.Exporter
	Sources  SourceGetter
	// MaxConcurrent bounds how many Metrics are evaluated at once, so slow
	// warehouse queries never starve the others.
	MaxConcurrent int
	// MaxSegments bounds the segments of a Metric's result (the source's
	// default when 0); past it the Metric is Stalled TooManySegments.
	MaxSegments int

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
	p := newStatusPatcher(r, &m)
	res, err := r.reconcileNormal(ctx, &m, p)
	// Summarize and patch once, on every return path; events follow a
	// successful patch.
	p.summarize(err)
	if perr := p.flush(ctx); perr != nil {
		return ctrl.Result{}, errors.Join(err, perr)
	}
	if p.stalled || errors.Is(err, engine.ErrSourceUnavailable) {
		err = nil // waits for the user, or retries on the backoff in res
	}
	return res, err
}

// reconcileDelete waits until the task reconciler has cancelled every open
// task of the Metric, then lets it go.
func (r *MetricReconciler) reconcileDelete(ctx context.Context, m *cxv1.Metric) (ctrl.Result, error) {
	var tasks cxv1.ImprovementTaskList
	if err := r.List(ctx, &tasks, client.InNamespace(m.Namespace), client.MatchingFields{indexTaskMetric: m.Name}); err != nil {
		return ctrl.Result{}, err
	}
	for _, t := range tasks.Items {
		if !phaseOf(&t).Final() {
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

// reconcileNormal: translate, read the source, call the engine, plan and
// create tasks.
func (r *MetricReconciler) reconcileNormal(ctx context.Context, m *cxv1.Metric, p *statusPatcher) (ctrl.Result, error) {
	now := r.Clock.Now()
	next := p.next
	next.ObservedGeneration = m.Generation
	requested := m.Annotations[cxv1.ReconcileRequestAnnotation]
	next.LastHandledReconcileAt = requested

	spec, err := metricspec.Translate(m)
	if err != nil {
		p.stall("InvalidSpec", err.Error())
		return ctrl.Result{}, nil
	}
	spec.Query.MaxSegments = r.MaxSegments
	if m.Spec.Suspend {
		p.ready("Suspended", "evaluation is suspended; the detector's state is kept")
		return ctrl.Result{}, nil
	}
	windowEnd := spec.WindowEnd(now)
	requeue := ctrl.Result{RequeueAfter: clock.WallDuration(r.Clock, engine.AddWall(windowEnd, spec.Interval, spec.Location).Add(spec.SettleDelay).Sub(now))}
	key := evaluationKey{windowEnd: windowEnd, generation: m.Generation, requested: requested}
	if r.alreadyEvaluated(m.UID, key) && m.Status.ObservedGeneration == m.Generation {
		p.keep = true
		return requeue, nil
	}

	res, err := r.evaluate(ctx, m, spec, windowEnd)
	switch {
	case errors.Is(err, engine.ErrRejected):
		p.stall(engine.RejectionReason(err, "InvalidSpec"), err.Error())
		return requeue, nil
	case errors.Is(err, errDataSourceNotFound):
		p.stall("DataSourceNotFound", err.Error())
		return requeue, nil
	case errors.Is(err, engine.ErrSourceUnavailable):
		p.sourceFailed(err)
		return ctrl.Result{RequeueAfter: clock.WallDuration(r.Clock, backoff(next.ConsecutiveSourceErrors, spec.Interval))}, err
	case err != nil:
		return ctrl.Result{}, err
	}
	if next.ConsecutiveSourceErrors > 0 {
		p.event("Normal", "SourceRestored", "the source answers again after %d failed evaluation(s)", next.ConsecutiveSourceErrors)
	}
	next.ConsecutiveSourceErrors = 0
	meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionSourceUnavailable)

	plan, team, err := r.planTasks(ctx, m, spec, res, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	metricspec.ApplyEvaluation(next, &m.Spec, m.Generation, res, plan.Held)
	drivers := r.drivers(ctx, m, spec, windowEnd, p)
	rates := r.responseRates(ctx, m, spec, windowEnd, p)
	p.announceEpisodes(res)
	p.announceExclusion(res)
	// The message names the window of the latest result, as
	// lastEvaluation does, so a window that moves without changing the
	// result writes nothing.
	resultEnd := res.WindowEnd
	if next.LastEvaluation != nil {
		resultEnd = next.LastEvaluation.WindowEnd.Time
	}
	p.ready("Measured", fmt.Sprintf("measured %s: %s", resultEnd.UTC().Format(time.RFC3339), res.Overall.State))
	p.ownerTeam(team)
	// A task never exists before the episode it answers is recorded on its
	// Metric: the status goes first.
	if err := p.flush(ctx); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.createTasks(ctx, m, spec, plan.Create, drivers, rates); err != nil {
		p.retrying()
		return ctrl.Result{}, err
	}
	// While the owner Team is missing the evaluation is not remembered as
	// done, so the Team's creation (watched) plans again at once instead
	// of at the next window; re-evaluating a window feeds nothing twice.
	if !team.Missing {
		r.markEvaluated(m.UID, key)
	}
	if r.Exporter != nil {
		exported := m.DeepCopy()
		exported.Status = *next
		r.Exporter.Observe(exported, now)
	}
	return requeue, nil
}

// errDataSourceNotFound: the Metric names a DataSource that does not
// exist; the user has to act.
var errDataSourceNotFound = errors.New("DataSource not found")

// evaluate reads the Metric's source (or its inputs) and runs the engine.
func (r *MetricReconciler) evaluate(ctx context.Context, m *cxv1.Metric, spec engine.Metric, windowEnd time.Time) (*engine.Evaluation, error) {
	prior := metricspec.PriorOf(&m.Status)
	if spec.Derived != nil {
		inputs := map[string]engine.InputValue{}
		for name, metric := range spec.Derived.Inputs {
			var in cxv1.Metric
			if err := r.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: metric}, &in); err != nil {
				return nil, fmt.Errorf("%w: input %s: %v", engine.ErrSourceUnavailable, metric, err)
			}
			inputs[name] = engine.InputValue{Hash: in.Status.DefinitionHash, Value: in.Status.Value, Samples: in.Status.Samples}
		}
		return engine.EvaluateDerived(spec, inputs, windowEnd)
	}
	src, err := r.source(ctx, m)
	if err != nil {
		return nil, err
	}
	return engine.Evaluate(ctx, src, spec, prior, windowEnd)
}

// source connects the Metric's DataSource.
func (r *MetricReconciler) source(ctx context.Context, m *cxv1.Metric) (source.Source, error) {
	return metricSource(ctx, r.Client, r.Sources, m)
}

// metricSource connects the DataSource a Metric names, in its namespace.
func metricSource(ctx context.Context, c client.Reader, sources SourceGetter, m *cxv1.Metric) (source.Source, error) {
	name := sourceName(m)
	var ds cxv1.DataSource
	err := c.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: name}, &ds)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: DataSource %s not found in namespace %s; create it or fix spec.source.name", errDataSourceNotFound, name, m.Namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("read DataSource %s: %w", name, err)
	}
	src, err := sources.Get(ctx, &ds)
	if err != nil {
		return nil, fmt.Errorf("%w: DataSource %s: %v", engine.ErrSourceUnavailable, name, err)
	}
	return src, nil
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

func sourceName(m *cxv1.Metric) string {
	if m.Spec.Source == nil {
		return ""
	}
	return m.Spec.Source.Name
}

// SetupWithManager registers the reconciler. A spec change or a reconcile
// request evaluates at once; a DataSource or Team change re-evaluates the
// Metrics that use it, found through field indexes.
func (r *MetricReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.MaxConcurrent == 0 {
		r.MaxConcurrent = 4
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&cxv1.Metric{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{}))).
		Watches(&cxv1.DataSource{}, handler.EnqueueRequestsFromMapFunc(r.metricsBy(indexMetricSource)),
			builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, readyChanged))).
		Watches(&cxv1.Team{}, handler.EnqueueRequestsFromMapFunc(r.metricsBy(indexMetricTeam)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrent}).
		Named("metric")
	return r.Shard.watch(b, &cxv1.MetricList{}).Complete(r.Shard.gate(r))
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
