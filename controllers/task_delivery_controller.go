package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
)

// taskDeliveryReconciler sends the deliveries the task reconciler plans:
// a controller of its own for ImprovementTasks, with workers of its own,
// so a channel that is slow to answer holds a delivery worker and never a
// worker that verifies, reopens or closes tasks. It writes only the
// deliveries' records, and like the task reconciler with optimistic
// locking: the two writers of a task's status conflict rather than
// overwrite each other.
type taskDeliveryReconciler struct {
	*ImprovementTaskReconciler
}

// deliveryWorkers is how many tasks send their deliveries at once. Each
// channel call is bounded by notify.CallTimeout; sinks that never answer
// can hold every delivery worker that long, delaying other deliveries but
// no verification.
const deliveryWorkers = 4

// conflictBackoff is how soon a reconcile whose status write conflicted
// with the other writer of the task's status tries again, on the task as
// it is then. The other writer's write also brings the task back; this is
// the floor in case its event was filtered out.
const conflictBackoff = 100 * time.Millisecond

// Reconcile sends the task's deliveries that are due and wakes when the
// next retry is.
func (r *taskDeliveryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var task cxv1.ImprovementTask
	if err := r.Get(ctx, req.NamespacedName, &task); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Clock.Now()
	retryAt, err := r.sendDeliveries(ctx, &task, now)
	switch {
	case apierrors.IsConflict(err):
		return ctrl.Result{RequeueAfter: conflictBackoff}, nil
	case err != nil:
		return ctrl.Result{}, client.IgnoreNotFound(err)
	case retryAt.IsZero():
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(clock.WallDuration(r.Clock, retryAt.Sub(now)), conflictBackoff)}, nil
}

// setup registers the delivery controller beside the task reconciler. It
// hears of a task only while one of its deliveries is still to be made
// (pending, failed but retryable, or claimed and not yet answered): a
// retry whose backoff has not passed is woken by the requeue at its time.
func (r *taskDeliveryReconciler) setup(mgr ctrl.Manager) error {
	open := func(o client.Object) bool {
		t, ok := o.(*cxv1.ImprovementTask)
		return ok && len(openDeliveries(&t.Status)) > 0
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&cxv1.ImprovementTask{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc:  func(e event.CreateEvent) bool { return open(e.Object) },
			UpdateFunc:  func(e event.UpdateEvent) bool { return open(e.ObjectNew) },
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(e event.GenericEvent) bool { return open(e.Object) },
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: deliveryWorkers}).
		Named("taskdelivery")
	return r.Shard.watch(b, &cxv1.ImprovementTaskList{}).Complete(r.Shard.gate(r))
}

// setupDeliveries is called by the task reconciler's SetupWithManager.
func (r *ImprovementTaskReconciler) setupDeliveries(mgr ctrl.Manager) error {
	if err := (&taskDeliveryReconciler{r}).setup(mgr); err != nil {
		return fmt.Errorf("set up task deliveries: %w", err)
	}
	return nil
}
