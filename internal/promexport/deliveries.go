package promexport

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/notify"
)

// The outcomes of one delivery attempt.
const (
	// DeliveryDelivered: the channel accepted the event.
	DeliveryDelivered = "delivered"
	// DeliveryFailed: the attempt failed and the delivery will be tried
	// again.
	DeliveryFailed = "failed"
	// DeliveryDropped: the attempt failed and no further try will be
	// made (the error is not retryable, or it was the last try): the
	// team's tool never hears of the event.
	DeliveryDropped = "dropped"
)

// Deliveries counts the attempts to deliver task events to Teams'
// channels, so a channel that stopped accepting events (an expired token,
// a moved webhook) shows on the metrics endpoint before a team wonders
// why its tasks never arrived: one series per namespace, team, channel
// type and outcome.
type Deliveries struct {
	total *prometheus.CounterVec
}

// NewDeliveries creates the counter and registers it with reg.
func NewDeliveries(reg prometheus.Registerer) *Deliveries {
	d := &Deliveries{total: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cxloop", Name: "task_deliveries_total",
		Help: "Attempts to deliver a task event to a Team's channel, by channel type and outcome (delivered, failed and tried again, dropped)."},
		[]string{"namespace", "team", "channel_type", "outcome"})}
	reg.MustRegister(d.total)
	return d
}

// Observe records one attempt's outcome on one of team's channels (named
// team/channel, as in the task's delivery records).
func (d *Deliveries) Observe(team *cxv1.Team, channel string, rec cxv1.DeliveryRecord) {
	typ := "unknown"
	for _, ch := range team.Spec.Channels {
		if team.Name+"/"+ch.Name == channel {
			typ = string(ch.Type)
		}
	}
	outcome := DeliveryDelivered
	switch {
	case rec.Succeeded:
	case rec.Retryable && rec.Tries < notify.MaxTries:
		outcome = DeliveryFailed
	default:
		outcome = DeliveryDropped
	}
	d.total.WithLabelValues(metricspec.MetricsLabelValue(team.Namespace), metricspec.MetricsLabelValue(team.Name), typ, outcome).Inc()
}

// Deliverer is the controllers' delivery interface, restated here so the
// counter can wrap it without importing the controllers.
type Deliverer interface {
	Retry(ctx context.Context, team *cxv1.Team, channel string, task *cxv1.ImprovementTask, ev loop.Event, tries int32) (cxv1.DeliveryRecord, bool)
}

// Counting wraps next so that every attempt it makes is counted; a
// channel the team does not have is no attempt.
func (d *Deliveries) Counting(next Deliverer) Deliverer {
	return countingDeliverer{next: next, d: d}
}

type countingDeliverer struct {
	next Deliverer
	d    *Deliveries
}

func (c countingDeliverer) Retry(ctx context.Context, team *cxv1.Team, channel string, task *cxv1.ImprovementTask, ev loop.Event, tries int32) (cxv1.DeliveryRecord, bool) {
	rec, ok := c.next.Retry(ctx, team, channel, task, ev, tries)
	if ok {
		c.d.Observe(team, channel, rec)
	}
	return rec, ok
}
