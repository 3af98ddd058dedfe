package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/promexport"
	"github.com/cxloop/cxloop/internal/scorecard"
	"github.com/cxloop/cxloop/internal/source"
)

// ScorecardReconciler scores each Scorecard's accounts on schedule: it
// reads every member Metric's source per key and writes the index, the
// distribution and the accounts at risk to the Scorecard's status.
type ScorecardReconciler struct {
	client.Client
	// Shard selects the namespaces reconciled; every namespace when nil.
	Shard  *Shard
	Scheme *runtime.Scheme
	Clock  clock.Clock
	// Sources connects the members' DataSources.
	Sources SourceGetter
	// Exporter publishes each Scorecard's gauges; none when nil.
	Exporter *promexport.Scorecards
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=cxloop.dev,resources=scorecards,verbs=get;list;watch
// +kubebuilder:rbac:groups=cxloop.dev,resources=scorecards/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cxloop.dev,resources=metrics,verbs=get;list;watch
// +kubebuilder:rbac:groups=cxloop.dev,resources=improvementtasks,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=cxloop.dev,resources=teams,verbs=get;list;watch

// Reconcile scores one Scorecard, judges its latest closed window when it
// is due, and opens the tasks its accounts' episodes call for.
func (r *ScorecardReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var sc cxv1.Scorecard
	if err := r.Get(ctx, req.NamespacedName, &sc); err != nil {
		if apierrors.IsNotFound(err) && r.Exporter != nil {
			r.Exporter.Forget(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	interval, err := time.ParseDuration(sc.Spec.Interval)
	if err != nil || interval <= 0 {
		interval = 24 * time.Hour
	}
	now := r.Clock.Now()
	requeue := ctrl.Result{RequeueAfter: clock.WallDuration(r.Clock, now.Truncate(interval).Add(interval).Sub(now))}
	next := sc.Status.DeepCopy()
	next.ObservedGeneration = sc.Generation
	next.LastHandledReconcileAt = sc.Annotations[cxv1.ReconcileRequestAnnotation]
	if sc.Spec.Suspend {
		setScorecardCondition(next, sc.Generation, cxv1.ConditionReady, metav1.ConditionTrue, "Suspended", "scoring is suspended; the last scores are kept")
		return requeue, r.patchStatus(ctx, &sc, next)
	}
	scored, err := r.score(ctx, &sc, now)
	res := scored.Result
	var d decision
	if err == nil {
		d, err = r.decide(ctx, &sc, scored, next, now)
	}
	var stalled *metricspec.ScorecardProblem
	switch {
	case errors.As(err, &stalled):
		setScorecardCondition(next, sc.Generation, cxv1.ConditionStalled, metav1.ConditionTrue, stalled.Reason, stalled.Message)
		setScorecardCondition(next, sc.Generation, cxv1.ConditionReady, metav1.ConditionFalse, stalled.Reason, stalled.Message)
		return requeue, r.patchStatus(ctx, &sc, next)
	case errors.Is(err, engine.ErrSourceUnavailable):
		// The last scores stay: a source that fails never shows as a score.
		meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionStalled)
		setScorecardCondition(next, sc.Generation, cxv1.ConditionReady, metav1.ConditionFalse, "SourceUnavailable", err.Error())
		if perr := r.patchStatus(ctx, &sc, next); perr != nil {
			return ctrl.Result{}, perr
		}
		return ctrl.Result{RequeueAfter: clock.WallDuration(r.Clock, min(time.Minute, interval))}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	metricspec.ApplyScorecard(next, scored, now)
	next.HeldBack = heldBackStatus(d.plan.Held)
	drv := r.drivers(ctx, &sc, next, scored, d, now)
	meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionStalled)
	setScorecardCondition(next, sc.Generation, cxv1.ConditionReady, metav1.ConditionTrue, "Scored",
		fmt.Sprintf("%d accounts scored, %d below %.4g", len(res.Accounts), len(res.AtRisk), sc.Spec.Objective.Target))
	// The episodes are recorded before their tasks are created: a task
	// always has its episode in status, and a crash in between is repaired
	// by the next reconcile, which plans the same names.
	if err := r.patchStatus(ctx, &sc, next); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.createTasks(ctx, &sc, d.tasks, d.det, d.plan.Create, drv); err != nil {
		return ctrl.Result{}, err
	}
	if r.Exporter != nil {
		r.Exporter.Observe(&sc)
	}
	return requeue, nil
}

// score scores the Scorecard through the cluster's Metrics and sources.
func (r *ScorecardReconciler) score(ctx context.Context, sc *cxv1.Scorecard, now time.Time) (metricspec.Scored, error) {
	return metricspec.ScoreScorecard(ctx, sc, r.reader(sc), now)
}

// decision is what a Scorecard's reconcile decided on its tasks.
type decision struct {
	tasks metricspec.ScorecardTasks
	det   scorecard.Detector
	plan  engine.TaskPlan
}

// decide translates the Scorecard's objective and policy, judges its
// latest closed window when due and plans its tasks.
func (r *ScorecardReconciler) decide(ctx context.Context, sc *cxv1.Scorecard, scored metricspec.Scored, next *cxv1.ScorecardStatus,
	now time.Time) (decision, error) {
	var d decision
	var err error
	if d.tasks, err = metricspec.TranslateScorecard(sc); err != nil {
		return d, &metricspec.ScorecardProblem{Reason: "InvalidSpec", Message: err.Error()}
	}
	if d.det, err = judge(ctx, sc, d.tasks, scored, next, now); err != nil {
		return d, err
	}
	d.plan, err = r.planTasks(ctx, sc, d.tasks, d.det, now)
	return d, err
}

// reader reads the Metrics and sources a Scorecard names from the cluster.
func (r *ScorecardReconciler) reader(sc *cxv1.Scorecard) metricspec.ScorecardReader {
	return scorecardReader(r.Client, r.Sources, sc)
}

// scorecardReader reads the Metrics of a Scorecard's namespace through c
// and connects their sources.
func scorecardReader(c client.Client, sources SourceGetter, sc *cxv1.Scorecard) metricspec.ScorecardReader {
	return metricspec.ScorecardReader{
		Metric: func(ctx context.Context, name string) (*cxv1.Metric, error) {
			var m cxv1.Metric
			err := c.Get(ctx, types.NamespacedName{Namespace: sc.Namespace, Name: name}, &m)
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return &m, err
		},
		Source: func(ctx context.Context, m *cxv1.Metric) (source.Source, error) {
			src, err := metricSource(ctx, c, sources, m)
			if errors.Is(err, errDataSourceNotFound) {
				return nil, &metricspec.ScorecardProblem{Reason: "DataSourceNotFound", Message: err.Error()}
			}
			return src, err
		},
	}
}

func (r *ScorecardReconciler) patchStatus(ctx context.Context, sc *cxv1.Scorecard, next *cxv1.ScorecardStatus) error {
	base := sc.DeepCopy()
	sc.Status = *next
	return r.Status().Patch(ctx, sc, client.MergeFrom(base))
}

// naming lists the Scorecards of a Metric's namespace that name it.
func (r *ScorecardReconciler) naming(ctx context.Context, o client.Object) []reconcile.Request {
	var list cxv1.ScorecardList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, sc := range list.Items {
		if slices.Contains(scorecardMetrics(&sc), o.GetName()) {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: sc.Namespace, Name: sc.Name}})
		}
	}
	return reqs
}

// scorecardMetrics are the Metrics a Scorecard reads.
func scorecardMetrics(sc *cxv1.Scorecard) []string {
	var out []string
	for _, m := range sc.Spec.Members {
		out = append(out, m.Metric)
	}
	if sc.Spec.Value != nil {
		out = append(out, sc.Spec.Value.Metric)
	}
	return out
}

func setScorecardCondition(st *cxv1.ScorecardStatus, generation int64, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message,
		ObservedGeneration: generation})
}

// SetupWithManager registers the reconciler: a spec change or a
// reconcile request scores at once, and every interval after; a Metric
// created or changed rescores the Scorecards of its namespace that name
// it, so a member created after its Scorecard counts at once.
func (r *ScorecardReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&cxv1.Scorecard{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{}))).
		Watches(&cxv1.Metric{}, handler.EnqueueRequestsFromMapFunc(r.naming),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Named("scorecard")
	return r.Shard.watch(b, &cxv1.ScorecardList{}).Complete(r.Shard.gate(r))
}
