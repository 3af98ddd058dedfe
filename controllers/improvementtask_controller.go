package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// ImprovementTaskReconciler reconciles ImprovementTask objects.
type ImprovementTaskReconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// +kubebuilder:rbac:groups=cxloop.dev,resources=improvementtasks,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=cxloop.dev,resources=improvementtasks/status,verbs=get;update;patch

// Reconcile brings one ImprovementTask towards its desired state.
func (r *ImprovementTaskReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var obj cxv1.ImprovementTask
	if err := r.Get(ctx, req.NamespacedName, &obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler with a manager.
func (r *ImprovementTaskReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&cxv1.ImprovementTask{}).
		Named("improvementtask").
		Complete(r)
}
