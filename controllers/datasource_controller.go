package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/redact"
)

// SourceChecker runs a DataSource's cheap connectivity check. It returns
// nil when the source answers, or an error whose reason (see metricspec.CheckReason)
// tells the user what to fix.
type SourceChecker interface {
	CheckSource(ctx context.Context, ds *cxv1.DataSource) error
}

// DataSourceReconciler keeps each DataSource's Ready condition: it resolves
// credentials from the Secret in the DataSource's namespace (watching it, so
// a rotated password takes effect), runs the driver's connectivity check,
// and re-checks on a backoff while it fails.
type DataSourceReconciler struct {
	client.Client
	// Shard selects the namespaces reconciled; every namespace when nil.
	Shard   *Shard
	Scheme  *runtime.Scheme
	Checker SourceChecker
	// RecheckAfter is how often a Ready source is checked again.
	RecheckAfter time.Duration
}

// +kubebuilder:rbac:groups=cxloop.dev,resources=datasources,verbs=get;list;watch
// +kubebuilder:rbac:groups=cxloop.dev,resources=datasources/status,verbs=get;update;patch

// Reconcile checks one DataSource.
func (r *DataSourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ds cxv1.DataSource
	if err := r.Get(ctx, req.NamespacedName, &ds); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.Checker == nil {
		return ctrl.Result{}, nil
	}
	next := ds.Status.DeepCopy()
	next.ObservedGeneration = ds.Generation
	recheck := r.RecheckAfter
	if recheck == 0 {
		recheck = 5 * time.Minute
	}
	ready := metav1.Condition{Type: cxv1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Connected",
		Message: fmt.Sprintf("the %s source answers", ds.Spec.Type), ObservedGeneration: ds.Generation}
	result := ctrl.Result{RequeueAfter: recheck}
	if err := r.Checker.CheckSource(ctx, &ds); err != nil {
		next.ConsecutiveFailures++
		ready.Status, ready.Reason = metav1.ConditionFalse, metricspec.CheckReason(err)
		ready.Message = redact.Cut(err.Error(), 1024)
		result.RequeueAfter = backoff(next.ConsecutiveFailures, recheck)
	} else {
		next.ConsecutiveFailures = 0
	}
	meta.SetStatusCondition(&next.Conditions, ready)
	if !equality.Semantic.DeepEqual(&ds.Status, next) {
		patch := client.MergeFrom(ds.DeepCopy())
		ds.Status = *next
		if err := r.Status().Patch(ctx, &ds, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("write status of DataSource %s: %w", ds.Name, err)
		}
	}
	return result, nil
}

// SetupWithManager registers the reconciler; a Secret's change re-checks
// the DataSources of its namespace that name it.
func (r *DataSourceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&cxv1.DataSource{}).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.sourcesOfSecret)).
		Named("datasource")
	return r.Shard.watch(b, &cxv1.DataSourceList{}).Complete(r.Shard.gate(r))
}

func (r *DataSourceReconciler) sourcesOfSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list cxv1.DataSourceList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, ds := range list.Items {
		if ds.Spec.SecretRef != nil && ds.Spec.SecretRef.Name == o.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ds.Namespace, Name: ds.Name}})
		}
	}
	return reqs
}
