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
	"github.com/cxloop/cxloop/internal/response"
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
}

// errStalled marks a spec the user has to fix; its message says how.
type errStalled struct{ reason, message string }

func (e errStalled) Error() string { return e.message }

// +kubebuilder:rbac:groups=cxloop.dev,resources=scorecards,verbs=get;list;watch
// +kubebuilder:rbac:groups=cxloop.dev,resources=scorecards/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cxloop.dev,resources=metrics,verbs=get;list;watch

// Reconcile scores one Scorecard.
func (r *ScorecardReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var sc cxv1.Scorecard
	if err := r.Get(ctx, req.NamespacedName, &sc); err != nil {
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
	res, members, rates, err := r.score(ctx, &sc, now)
	var stalled errStalled
	switch {
	case errors.As(err, &stalled):
		setScorecardCondition(next, sc.Generation, cxv1.ConditionStalled, metav1.ConditionTrue, stalled.reason, stalled.message)
		setScorecardCondition(next, sc.Generation, cxv1.ConditionReady, metav1.ConditionFalse, stalled.reason, stalled.message)
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
	metricspec.ApplyScorecard(next, res, members, rates, now)
	meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionStalled)
	setScorecardCondition(next, sc.Generation, cxv1.ConditionReady, metav1.ConditionTrue, "Scored",
		fmt.Sprintf("%d accounts scored, %d below %.4g", len(res.Accounts), len(res.AtRisk), sc.Spec.Objective.Target))
	return requeue, r.patchStatus(ctx, &sc, next)
}

// score reads every member (and its response rates per account, when its
// Metric names invitations) and the accounts' values, and computes.
func (r *ScorecardReconciler) score(ctx context.Context, sc *cxv1.Scorecard, now time.Time) (scorecard.Result, []scorecard.Member,
	[]metricspec.MemberRates, error) {
	confidence := metricspec.ScorecardConfidence(sc)
	in := scorecard.Input{Target: sc.Spec.Objective.Target, Confidence: confidence}
	var rates []metricspec.MemberRates
	for _, sm := range sc.Spec.Members {
		m, spec, err := r.memberMetric(ctx, sc.Namespace, sm.Metric, "member "+sm.Name)
		if err != nil {
			return scorecard.Result{}, nil, nil, err
		}
		scale, err := scorecard.ScaleOf(spec, sm.Floor, sm.Target)
		if err != nil {
			return scorecard.Result{}, nil, nil, errStalled{"InvalidMember", fmt.Sprintf("member %s (Metric %s): %v", sm.Name, sm.Metric, err)}
		}
		persona := ""
		if sm.Personas != nil {
			persona = sm.Personas.Column
		}
		readings, err := r.read(ctx, m, spec, sm.KeyColumn, persona, metricspec.MemberMinSamples(sm), confidence, now)
		if err != nil {
			return scorecard.Result{}, nil, nil, fmt.Errorf("member %s: %w", sm.Name, err)
		}
		memberRates, err := r.memberRates(ctx, m, spec, sm.KeyColumn, now)
		if err != nil {
			return scorecard.Result{}, nil, nil, fmt.Errorf("member %s: %w", sm.Name, err)
		}
		rates = append(rates, memberRates)
		in.Members = append(in.Members, metricspec.ScorecardMember(sm, scale))
		in.Readings = append(in.Readings, readings)
	}
	if v := sc.Spec.Value; v != nil {
		m, spec, err := r.memberMetric(ctx, sc.Namespace, v.Metric, "value")
		if err != nil {
			return scorecard.Result{}, nil, nil, err
		}
		readings, err := r.read(ctx, m, spec, v.KeyColumn, "", 1, confidence, now)
		if err != nil {
			return scorecard.Result{}, nil, nil, fmt.Errorf("value: %w", err)
		}
		in.Values = make(map[string]float64, len(readings))
		for _, rd := range readings {
			in.Values[rd.Key] = rd.Value
		}
	}
	res, err := scorecard.Compute(in)
	if err != nil {
		return scorecard.Result{}, nil, nil, errStalled{"InvalidSpec", err.Error()}
	}
	return res, in.Members, rates, nil
}

// memberRates are a member Metric's response rates per account over its
// latest window; nil when it names no invitations.
func (r *ScorecardReconciler) memberRates(ctx context.Context, m *cxv1.Metric, spec engine.Metric, keyColumn string,
	now time.Time) (metricspec.MemberRates, error) {
	inv := metricspec.InvitationsOf(m)
	if inv == nil {
		return nil, nil
	}
	src, err := metricSource(ctx, r.Client, r.Sources, m)
	if err != nil {
		return nil, err
	}
	spec.Query.Segments = []string{keyColumn}
	res, err := response.Read(ctx, src, spec, *inv, spec.WindowEnd(now))
	if err != nil {
		return nil, err
	}
	out := make(metricspec.MemberRates, len(res.Segments))
	for key, rate := range res.Segments {
		if values, err := source.ParseSegmentKey(key); err == nil && values[keyColumn] != "" {
			out[values[keyColumn]] = rate
		}
	}
	return out, nil
}

// memberMetric reads and translates a Metric the scorecard names.
func (r *ScorecardReconciler) memberMetric(ctx context.Context, namespace, name, role string) (*cxv1.Metric, engine.Metric, error) {
	var m cxv1.Metric
	err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &m)
	if apierrors.IsNotFound(err) {
		return nil, engine.Metric{}, errStalled{"MetricNotFound", fmt.Sprintf("%s: Metric %s not found in namespace %s", role, name, namespace)}
	}
	if err != nil {
		return nil, engine.Metric{}, err
	}
	spec, err := metricspec.Translate(&m)
	if err != nil {
		return nil, engine.Metric{}, errStalled{"InvalidMember", fmt.Sprintf("%s: Metric %s: %v", role, name, err)}
	}
	if spec.Derived != nil {
		return nil, engine.Metric{}, errStalled{"InvalidMember",
			fmt.Sprintf("%s: Metric %s is derived; a scorecard reads its members' sources per account, so name Metrics measured from a DataSource", role, name)}
	}
	return &m, spec, nil
}

// read measures one Metric per key over its latest window.
func (r *ScorecardReconciler) read(ctx context.Context, m *cxv1.Metric, spec engine.Metric, keyColumn, personaColumn string,
	minSamples int64, confidence float64, now time.Time) ([]scorecard.Reading, error) {
	src, err := metricSource(ctx, r.Client, r.Sources, m)
	if errors.Is(err, errDataSourceNotFound) {
		return nil, errStalled{"DataSourceNotFound", err.Error()}
	}
	if err != nil {
		return nil, err
	}
	return scorecard.Read(ctx, src, spec, keyColumn, personaColumn, minSamples, confidence, spec.WindowEnd(now))
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
