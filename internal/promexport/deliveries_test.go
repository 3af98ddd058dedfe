package promexport

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/notify"
)

// scripted answers each Retry with the next record, and knows only the
// channels it has records for.
type scripted struct {
	records map[string][]cxv1.DeliveryRecord
}

func (s *scripted) Retry(_ context.Context, _ *cxv1.Team, channel string, _ *cxv1.ImprovementTask, _ loop.Event, _ int32) (cxv1.DeliveryRecord, bool) {
	recs := s.records[channel]
	if len(recs) == 0 {
		return cxv1.DeliveryRecord{}, false
	}
	s.records[channel] = recs[1:]
	return recs[0], true
}

// Every attempt is counted once under its team's namespace, the channel's
// type and whether the event arrived, will be tried again or is lost; a
// channel the team does not have is not an attempt.
func TestDeliveriesCountEachAttemptByOutcome(t *testing.T) {
	reg := prometheus.NewRegistry()
	d := NewDeliveries(reg)
	team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Namespace: "support", Name: "billing"},
		Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{{Name: "hook", Type: cxv1.ChannelWebhook}, {Name: "chat", Type: cxv1.ChannelSlack}}}}
	inner := &scripted{records: map[string][]cxv1.DeliveryRecord{
		"billing/hook": {
			{Retryable: true, Tries: 1},               // a 503: tried again
			{Retryable: true, Tries: notify.MaxTries}, // the last try
			{Succeeded: true, Tries: 1},
		},
		"billing/chat": {{Retryable: false, Tries: 1}}, // a 404: never again
	}}
	counting := d.Counting(inner)
	for _, ch := range []string{"billing/hook", "billing/hook", "billing/hook", "billing/chat", "billing/gone"} {
		counting.Retry(context.Background(), team, ch, &cxv1.ImprovementTask{}, loop.EventOpened, 1)
	}
	for _, c := range []struct {
		typ, outcome string
		want         float64
	}{
		{"webhook", DeliveryFailed, 1}, {"webhook", DeliveryDropped, 1}, {"webhook", DeliveryDelivered, 1},
		{"slack", DeliveryDropped, 1}, {"slack", DeliveryDelivered, 0},
	} {
		if got := testutil.ToFloat64(d.total.WithLabelValues("support", "billing", c.typ, c.outcome)); got != c.want {
			t.Errorf("%s %s: %v attempts, want %v", c.typ, c.outcome, got, c.want)
		}
	}
	// 4 attempts recorded; the channel the team lacks added no series.
	if n := testutil.CollectAndCount(d.total); n != 5 {
		t.Errorf("%d series, want the 5 read above", n)
	}
}
