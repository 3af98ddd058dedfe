package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// The shard a manager reconciles is read from the labels of Namespaces.
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Shard selects the namespaces one manager reconciles by a label selector
// on the Namespace object, so that several managers split a cluster and a
// namespace's DataSources, Teams, Metrics and tasks always share one of
// them: a Metric's tasks, its Team's load and its DataSource's Secret are
// never judged by two managers with different views. A manager reconciles
// an object only while its namespace matches the selector, checked from
// the cache on every event and again when the request is worked on, so
// a namespace relabelled to another shard stops here before it starts
// there; its objects are requeued by the manager whose shard it enters.
//
// The zero Shard (a nil Selector) reconciles every namespace and reads no
// Namespace.
type Shard struct {
	// Selector matches the labels of the Namespaces this manager owns.
	Selector labels.Selector
	// Reader reads Namespaces, from the manager's cache.
	Reader client.Reader
}

// ParseShard parses a --shard selector, such as "cxloop.dev/shard=a" or
// "!cxloop.dev/shard" for the namespaces no shard names; "" selects
// every namespace.
func ParseShard(selector string) (labels.Selector, error) {
	if selector == "" {
		return nil, nil
	}
	s, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("shard selector %q: %w", selector, err)
	}
	return s, nil
}

// owns reports whether namespace belongs to the shard. A namespace that is
// gone belongs to none: its objects are gone with it.
func (s *Shard) owns(ctx context.Context, namespace string) (bool, error) {
	if s == nil || s.Selector == nil || namespace == "" {
		return true, nil
	}
	var ns corev1.Namespace
	if err := s.Reader.Get(ctx, types.NamespacedName{Name: namespace}, &ns); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("read namespace %s for the shard: %w", namespace, err)
	}
	return s.Selector.Matches(labels.Set(ns.Labels)), nil
}

// watch restricts a controller to the shard's namespaces and, with a
// selector, requeues the controller's objects (listed as list) of a
// Namespace whenever the Namespace changes, so a namespace that enters the
// shard is reconciled at once. Namespaces themselves pass the filter.
func (s *Shard) watch(b *builder.Builder, list client.ObjectList) *builder.Builder {
	if s == nil || s.Selector == nil {
		return b
	}
	inShard := predicate.NewPredicateFuncs(func(o client.Object) bool {
		owns, err := s.owns(context.Background(), o.GetNamespace())
		return owns || err != nil // on a read error, let the gate decide and retry
	})
	return b.WithEventFilter(inShard).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return s.requests(ctx, o.GetName(), list)
		}))
}

// requests lists the objects of a namespace in the shard as requests.
func (s *Shard) requests(ctx context.Context, namespace string, list client.ObjectList) []reconcile.Request {
	if owns, err := s.owns(ctx, namespace); err != nil || !owns {
		return nil
	}
	l := list.DeepCopyObject().(client.ObjectList)
	if err := s.Reader.List(ctx, l, client.InNamespace(namespace)); err != nil {
		return nil
	}
	items, err := meta.ExtractList(l)
	if err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(items))
	for _, item := range items {
		if o, ok := item.(client.Object); ok {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return out
}

// gate checks, when a request is worked on, that its namespace is still
// in the shard: a requeued evaluation of a namespace that left is dropped.
func (s *Shard) gate(next reconcile.Reconciler) reconcile.Reconciler {
	if s == nil || s.Selector == nil {
		return next
	}
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		owns, err := s.owns(ctx, req.Namespace)
		if err != nil || !owns {
			return reconcile.Result{}, err
		}
		return next.Reconcile(ctx, req)
	})
}
