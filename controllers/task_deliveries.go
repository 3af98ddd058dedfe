package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/notify"
)

// deliveryKey names one delivery: an event of one attempt of the task to
// one channel. Its records are its tries, the latest last.
type deliveryKey struct {
	channel, event string
	attempt        int32
}

// openDeliveries are the latest records of the deliveries still to be
// made, in the order they were planned: pending, failed with a retryable
// error and tries left, or claimed by an attempt whose outcome is not
// recorded (in flight, or lost with a manager that stopped mid-call).
func openDeliveries(status *cxv1.ImprovementTaskStatus) []cxv1.DeliveryRecord {
	latest := map[deliveryKey]cxv1.DeliveryRecord{}
	var order []deliveryKey
	for _, d := range status.Deliveries {
		k := deliveryKey{d.Channel, d.Event, d.Attempt}
		if _, seen := latest[k]; !seen {
			order = append(order, k)
		}
		latest[k] = d
	}
	var open []cxv1.DeliveryRecord
	for _, k := range order {
		if d := latest[k]; !d.Succeeded && d.Retryable && d.Tries < notify.MaxTries {
			open = append(open, d)
		}
	}
	return open
}

// sendDeliveries makes each pending delivery, and retries each one whose
// latest attempt failed with a retryable error once its backoff has
// passed. Each attempt is first claimed in status with optimistic locking,
// so a reconcile that read a stale task conflicts before it sends a
// duplicate; the outcomes are written afterwards. It returns when the next
// retry is due (zero when none is).
func (r *taskDeliveryReconciler) sendDeliveries(ctx context.Context, task *cxv1.ImprovementTask, now time.Time) (time.Time, error) {
	if r.Deliverer == nil {
		return time.Time{}, nil
	}
	status := task.Status.DeepCopy()
	var due time.Time
	later := func(at time.Time) {
		if due.IsZero() || at.Before(due) {
			due = at
		}
	}
	var claims []cxv1.DeliveryRecord
	for _, d := range openDeliveries(status) {
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
		status.Deliveries = metricspec.AppendBounded(status.Deliveries, claim, 50)
	}
	if len(claims) == 0 {
		return due, nil
	}
	if err := r.writeStatus(ctx, task, status); err != nil {
		return due, err
	}
	var outcomes []sent
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
		outcomes = append(outcomes, sent{claim, rec})
		if !rec.Succeeded && rec.Retryable {
			later(now.Add(notify.RetryAfter(int(rec.Tries) - 1)))
		}
	}
	return due, r.recordOutcomes(ctx, task, outcomes)
}

// sent pairs a claimed attempt with the record of its outcome.
type sent struct{ claim, outcome cxv1.DeliveryRecord }

// recordOutcomes replaces each claim with its outcome. The task reconciler
// may have written the task while the calls were in flight (a transition
// and the deliveries it plans); then the write conflicts, and the outcomes
// are applied again to the task as the API server has it now, so neither
// writer's change is lost and no answered call is sent again.
func (r *taskDeliveryReconciler) recordOutcomes(ctx context.Context, task *cxv1.ImprovementTask, outcomes []sent) error {
	if len(outcomes) == 0 {
		return nil
	}
	var reader client.Reader = r.Client
	if r.APIReader != nil {
		reader = r.APIReader
	}
	fresh := false
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if fresh {
			if err := reader.Get(ctx, client.ObjectKeyFromObject(task), task); err != nil {
				return fmt.Errorf("read task %s to record its deliveries: %w", task.Name, err)
			}
		}
		fresh = true
		status := task.Status.DeepCopy()
		for _, o := range outcomes {
			for i := len(status.Deliveries) - 1; i >= 0; i-- {
				d := &status.Deliveries[i]
				if d.Channel == o.claim.Channel && d.Event == o.claim.Event && d.Attempt == o.claim.Attempt && d.Tries == o.claim.Tries {
					// Only the claim itself is replaced, never a record
					// that already holds this try's outcome.
					if d.Message == o.claim.Message && d.Succeeded == o.claim.Succeeded {
						*d = o.outcome
					}
					break
				}
			}
		}
		return r.writeStatus(ctx, task, status)
	})
}

// planDeliveries records a pending delivery of an event to each channel of
// the team that owns the task now (status, about to be written), and of
// the escalation team for an escalation. A team that does not exist yet
// has no channels, so it gets no record.
func (r *ImprovementTaskReconciler) planDeliveries(ctx context.Context, task *cxv1.ImprovementTask, status *cxv1.ImprovementTaskStatus, ev loop.Event, now time.Time) {
	if r.Deliverer == nil {
		return
	}
	owner := status.Team
	if owner == "" {
		owner = task.Spec.Team
	}
	teams := []string{owner}
	if ev == loop.EventEscalated && status.EscalatedTo != "" && status.EscalatedTo != owner {
		teams = append(teams, status.EscalatedTo)
	}
	for _, name := range teams {
		var team cxv1.Team
		if err := r.Get(ctx, types.NamespacedName{Namespace: task.Namespace, Name: name}, &team); err != nil {
			continue
		}
		for _, ch := range team.Spec.Channels {
			status.Deliveries = metricspec.AppendBounded(status.Deliveries, cxv1.DeliveryRecord{Channel: team.Name + "/" + ch.Name,
				Event: string(ev), Attempt: status.Attempt, Time: metav1.NewTime(now), Retryable: true, Message: "pending"}, 50)
		}
	}
}
