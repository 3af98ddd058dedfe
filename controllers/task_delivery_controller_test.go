package controllers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/notify"
)

// hangingSink is a webhook that accepts every call and answers none until
// released; it counts the calls it receives and the ones it answers by
// idempotency key.
type hangingSink struct {
	*httptest.Server
	release  chan struct{}
	once     sync.Once
	mu       sync.Mutex
	received map[string]int
	answered map[string]int
	first    time.Time
}

func newHangingSink(t *testing.T) *hangingSink {
	s := &hangingSink{release: make(chan struct{}), received: map[string]int{}, answered: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		s.mu.Lock()
		if len(s.received) == 0 {
			s.first = time.Now()
		}
		s.received[key]++
		s.mu.Unlock()
		select {
		case <-r.Context().Done(): // the client gave up
		case <-s.release:
			s.mu.Lock()
			s.answered[key]++
			s.mu.Unlock()
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(func() { s.answer(); s.Close() })
	return s
}

// answer lets every call, held or to come, be answered.
func (s *hangingSink) answer() { s.once.Do(func() { close(s.release) }) }

// counts are the calls received so far, in total and by key, and when the
// first one arrived.
func (s *hangingSink) counts() (received, answered map[string]int, first time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	received, answered = map[string]int{}, map[string]int{}
	for k, n := range s.received {
		received[k] = n
	}
	for k, n := range s.answered {
		answered[k] = n
	}
	return received, answered, s.first
}

// More tasks than there are task workers deliver to one team's webhook,
// which accepts every call and answers none: every delivery worker waits on
// it, yet every one of those tasks has its transition written, and another
// team's task is resolved and reaches verification well within the call
// timeout. Once the sink answers, each pending delivery arrives exactly
// once.
func TestHangingDeliveriesStallNoVerification(t *testing.T) {
	ctx := context.Background()
	sink := newHangingSink(t)

	slow := newNamespace(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hooks", Namespace: slow, Labels: map[string]string{cxv1.SecretLabel: "true"}},
		Data: map[string][]byte{"hmac": []byte("k")}}
	team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "customer-success", Namespace: slow},
		Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{{Name: "hook", Type: cxv1.ChannelWebhook,
			Webhook: &cxv1.WebhookChannel{URL: sink.URL, SigningKey: &cxv1.SecretKeyReference{Name: "hooks", Key: "hmac"}}}}}}
	slowMetric := validMetric(slow, "account-nps")
	for _, o := range []client.Object{secret, team, slowMetric} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	n := taskWorkers + 2
	var slowTasks []*cxv1.ImprovementTask
	for i := range n {
		task := validTask(slow)
		task.Name = fmt.Sprintf("account-nps-persona-%d", i)
		persona := fmt.Sprintf("admin%d", i)
		task.Spec.Segment, task.Spec.SegmentValues = "persona="+persona, map[string]string{"persona": persona}
		task.Spec.Metric, task.Spec.DefinitionHash = slowMetric.Name, metricspec.Definition(slowMetric).Hash()
		if err := k8sClient.Create(ctx, task); err != nil {
			t.Fatal(err)
		}
		slowTasks = append(slowTasks, task)
	}
	held := min(n, deliveryWorkers)
	eventually(t, 10*time.Second, "every delivery worker waiting on the sink", func() (bool, string) {
		received, _, _ := sink.counts()
		return len(received) >= held, fmt.Sprintf("%d calls held", len(received))
	})
	_, _, since := sink.counts()
	for _, task := range slowTasks {
		taskPhase(t, task, cxv1.PhaseOpen)
	}

	// While the calls hang, another team's task opens, is resolved and
	// moves on to verification.
	other := newNamespace(t)
	otherMetric := validMetric(other, "account-nps")
	if err := k8sClient.Create(ctx, otherMetric); err != nil {
		t.Fatal(err)
	}
	otherTask := newTaskFor(t, other, otherMetric)
	resolveTask(t, otherTask, "reworked the macro")
	if waited := time.Since(since); waited >= notify.CallTimeout-time.Second {
		t.Fatalf("the other task reached verification %s after the calls began to hang, want well within the call timeout %s", waited, notify.CallTimeout)
	}
	received, answered, _ := sink.counts()
	if len(answered) != 0 || len(received) > deliveryWorkers {
		t.Fatalf("sink received %v and answered %v while hanging: want at most %d calls held, none answered", received, answered, deliveryWorkers)
	}

	sink.answer()
	for _, task := range slowTasks {
		var got cxv1.ImprovementTask
		eventually(t, 10*time.Second, "delivered once the sink answers", func() (bool, string) {
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
				return false, err.Error()
			}
			d := got.Status.Deliveries
			return len(openDeliveries(&got.Status)) == 0 && len(d) > 0 && d[len(d)-1].Succeeded, fmt.Sprintf("%+v", d)
		})
		if d := got.Status.Deliveries; len(d) != 2 || d[1].Tries != 1 || d[1].Event != "Opened" {
			t.Errorf("task %s deliveries %+v: want its pending Opened delivery and one successful try", task.Name, d)
		}
	}
	time.Sleep(500 * time.Millisecond) // room for a duplicate to arrive
	received, answered, _ = sink.counts()
	if len(answered) != n || len(received) != n {
		t.Fatalf("sink received %v and answered %v: want %d events", received, answered, n)
	}
	for key, times := range received {
		if times != 1 || answered[key] != 1 {
			t.Errorf("event %s received %d times and answered %d times, want once", key, times, answered[key])
		}
	}
}

// A task dismissed while its Opened delivery hangs is written by both of its
// status writers at once: the transition and the delivery it plans are
// kept, the hanging call's outcome is recorded on top of them, and each
// event reaches the sink exactly once.
func TestATransitionDuringADeliveryLosesNeither(t *testing.T) {
	ctx := context.Background()
	sink := newHangingSink(t)
	ns := newNamespace(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hooks", Namespace: ns, Labels: map[string]string{cxv1.SecretLabel: "true"}},
		Data: map[string][]byte{"hmac": []byte("k")}}
	team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "customer-success", Namespace: ns},
		Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{{Name: "hook", Type: cxv1.ChannelWebhook,
			Webhook: &cxv1.WebhookChannel{URL: sink.URL, SigningKey: &cxv1.SecretKeyReference{Name: "hooks", Key: "hmac"}}}}}}
	metric := validMetric(ns, "account-nps")
	for _, o := range []client.Object{secret, team, metric} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	task := newTaskFor(t, ns, metric)
	eventually(t, 10*time.Second, "the Opened delivery held by the sink", func() (bool, string) {
		received, _, _ := sink.counts()
		return len(received) == 1, fmt.Sprintf("%v", received)
	})
	open := taskPhase(t, task, cxv1.PhaseOpen)
	patch := client.MergeFrom(open.DeepCopy())
	open.Spec.State, open.Spec.DismissReason = cxv1.TaskDismissed, "a holiday week, not a problem"
	if err := k8sClient.Patch(ctx, open, patch); err != nil {
		t.Fatal(err)
	}
	dismissed := taskPhase(t, task, cxv1.PhaseDismissed)
	if d := openDeliveries(&dismissed.Status); len(d) != 2 || d[0].Message != "sending" || d[1].Event != "Dismissed" || d[1].Message != "pending" {
		t.Fatalf("deliveries %+v: want the Opened call in flight and the dismissal's delivery pending", dismissed.Status.Deliveries)
	}

	sink.answer()
	var got cxv1.ImprovementTask
	eventually(t, 10*time.Second, "both events delivered", func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
			return false, err.Error()
		}
		return len(openDeliveries(&got.Status)) == 0, fmt.Sprintf("%+v", got.Status.Deliveries)
	})
	if got.Status.Phase != cxv1.PhaseDismissed {
		t.Fatalf("phase %s after the delivery was recorded, want the transition kept", got.Status.Phase)
	}
	events := map[string]bool{}
	for _, d := range got.Status.Deliveries {
		if d.Succeeded {
			if events[d.Event] {
				t.Errorf("event %s recorded as delivered twice: %+v", d.Event, got.Status.Deliveries)
			}
			events[d.Event] = true
		}
	}
	if len(events) != 2 || !events["Opened"] || !events["Dismissed"] {
		t.Fatalf("delivered %v (%+v): want Opened and Dismissed", events, got.Status.Deliveries)
	}
	time.Sleep(500 * time.Millisecond) // room for a duplicate to arrive
	received, answered, _ := sink.counts()
	if len(received) != 2 || len(answered) != 2 {
		t.Fatalf("sink received %v and answered %v: want two events", received, answered)
	}
	for key, times := range received {
		if times != 1 || answered[key] != 1 {
			t.Errorf("event %s received %d times and answered %d times, want once", key, times, answered[key])
		}
	}
}
