package demo

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// The demo moves its manager's clock by hand, a day at a time: every
// Metric evaluates at the same instant of each day, and the manager
// finishes all the work the evaluations cause (tasks opened, verified,
// reopened) before the owners act and the day ends. So the story is the
// same on every run and every machine, whatever their speed; the day's
// wall time (--day-every) only paces it.

// evaluateAll asks every Metric and Scorecard of the demo for an
// evaluation at now, and waits until the manager has handled them and all
// they caused.
func evaluateAll(ctx context.Context, c client.Client, now time.Time) error {
	var metrics cxv1.MetricList
	if err := c.List(ctx, &metrics, client.InNamespace(Namespace)); err != nil {
		return err
	}
	var scorecards cxv1.ScorecardList
	if err := c.List(ctx, &scorecards, client.InNamespace(Namespace)); err != nil {
		return err
	}
	var objs []client.Object
	for i := range metrics.Items {
		objs = append(objs, &metrics.Items[i])
	}
	for i := range scorecards.Items {
		objs = append(objs, &scorecards.Items[i])
	}
	stamp := now.UTC().Format(time.RFC3339)
	patch := client.RawPatch("application/merge-patch+json",
		fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, cxv1.ReconcileRequestAnnotation, stamp))
	errs := make(chan error, len(objs))
	var wg sync.WaitGroup
	for _, o := range objs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Patch(ctx, o, patch); err != nil {
				errs <- fmt.Errorf("request an evaluation of %s: %w", o.GetName(), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for _, o := range objs {
		if err := waitHandled(ctx, c, o, stamp); err != nil {
			return err
		}
	}
	return settle(ctx)
}

// waitHandled waits until a Metric or Scorecard reports the evaluation
// asked at stamp.
func waitHandled(ctx context.Context, c client.Client, o client.Object, stamp string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := o.DeepCopyObject().(client.Object)
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
			return err
		}
		if lastHandled(got) == stamp {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not evaluate at %s within 2 minutes", o.GetName(), stamp)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// lastHandled is the reconcile request an object last acted on.
func lastHandled(o client.Object) string {
	switch o := o.(type) {
	case *cxv1.Metric:
		return o.Status.LastHandledReconcileAt
	case *cxv1.Scorecard:
		return o.Status.LastHandledReconcileAt
	}
	return ""
}

// settle waits until the manager's work queues have been empty, with
// nothing in flight, for quietFor: the events an evaluation or an owner's
// patch caused have then been worked off. Work the manager schedules for
// later (requeues after a delay) is not waiting work: the clock is moved
// by hand, so the demo's later steps reach it.
func settle(ctx context.Context) error {
	const poll, quietFor = 10 * time.Millisecond, 100 * time.Millisecond
	deadline := time.Now().Add(2 * time.Minute)
	quiet := time.Duration(0)
	for quiet < quietFor {
		if busy() {
			quiet = 0
		} else {
			quiet += poll
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager did not settle within 2 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
	return nil
}

// busy reports whether any controller of the process has a request queued
// or being worked on, from controller-runtime's work-queue metrics.
func busy() bool {
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return true
	}
	for _, f := range families {
		switch f.GetName() {
		case "workqueue_depth", "controller_runtime_active_workers":
			for _, m := range f.GetMetric() {
				if m.GetGauge().GetValue() > 0 {
					return true
				}
			}
		}
	}
	return false
}

// byStory orders tasks by Metric, segment and creation: the story reports
// a day's changes in the same order on every run (task names hash the
// Metric's UID, which is new in every run).
func byStory(tasks []cxv1.ImprovementTask) {
	sort.Slice(tasks, func(i, j int) bool {
		a, b := &tasks[i], &tasks[j]
		if oa, ob := originLabel(a), originLabel(b); oa != ob {
			return oa < ob
		}
		if a.Spec.Segment != b.Spec.Segment {
			return a.Spec.Segment < b.Spec.Segment
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	})
}
