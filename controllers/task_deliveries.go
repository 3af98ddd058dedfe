package controllers

import (
	"context"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/notify"
)

// sendDeliveries makes each pending delivery, and retries each one whose
// latest attempt failed with a retryable error once its backoff has
// passed. Each attempt is first claimed in status with optimistic locking,
// so a reconcile that read a stale task conflicts before it sends a
// duplicate; the outcomes are written afterwards. It returns when the next
// retry is due (zero when none is).
func (r *ImprovementTaskReconciler) sendDeliveries(ctx context.Context, task *cxv1.ImprovementTask, now time.Time) (time.Time, error) {
	if r.Deliverer == nil {
		return time.Time{}, nil
	}
	type key struct {
		channel, event string
		attempt        int32
	}
	status := task.Status.DeepCopy()
	latest := map[key]cxv1.DeliveryRecord{}
	var order []key
	for _, d := range status.Deliveries {
		k := key{d.Channel, d.Event, d.Attempt}
		if _, seen := latest[k]; !seen {
			order = append(order, k)
		}
		latest[k] = d
	}
	var due time.Time
	later := func(at time.Time) {
		if due.IsZero() || at.Before(due) {
			due = at
		}
	}
	var claims []cxv1.DeliveryRecord
	for _, k := range order {
		d := latest[k]
		if d.Succeeded || !d.Retryable || d.Tries >= notify.MaxTries {
			continue
		}
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
	status = task.Status.DeepCopy()
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
		for i := len(status.Deliveries) - 1; i >= 0; i-- {
			d := &status.Deliveries[i]
			if d.Channel == claim.Channel && d.Event == claim.Event && d.Attempt == claim.Attempt && d.Tries == claim.Tries {
				*d = rec
				break
			}
		}
		if !rec.Succeeded && rec.Retryable {
			later(now.Add(notify.RetryAfter(int(rec.Tries) - 1)))
		}
	}
	return due, r.writeStatus(ctx, task, status)
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
