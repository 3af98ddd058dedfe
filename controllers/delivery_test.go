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
	"github.com/cxloop/cxloop/internal/notify"
)

// A webhook that is down when a task opens receives the event exactly once
// when it comes back, and the task records the failed and the successful
// attempt.
func TestDeliveryRetriesUntilTheSinkIsBack(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	var mu sync.Mutex
	tries, accepted := 0, map[string]int{}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tries++
		if tries == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		accepted[r.Header.Get("Idempotency-Key")]++
		w.WriteHeader(http.StatusOK)
	}))
	defer sink.Close()

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hooks", Namespace: ns, Labels: map[string]string{cxv1.SecretLabel: "true"}}, Data: map[string][]byte{"hmac": []byte("k")}}
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
	var got cxv1.ImprovementTask
	eventually(t, 10*time.Second, "a failed delivery recorded", func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
			return false, err.Error()
		}
		n := len(got.Status.Deliveries)
		return n == 2 && got.Status.Deliveries[1].Message != "sending", fmt.Sprintf("%+v", got.Status.Deliveries)
	})
	if d := got.Status.Deliveries[0]; d.Tries != 0 || d.Message != "pending" || d.Event != "Opened" {
		t.Fatalf("the pending delivery %+v", d)
	}
	if d := got.Status.Deliveries[1]; d.Succeeded || !d.Retryable || d.Tries != 1 {
		t.Fatalf("first attempt %+v", d)
	}
	testClock.Advance(notify.RetryAfter(0) * 2)
	patch := client.MergeFrom(got.DeepCopy())
	got.Annotations = map[string]string{"test/poke": "1"}
	if err := k8sClient.Patch(ctx, &got, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "delivered after the sink came back", func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
			return false, err.Error()
		}
		n := len(got.Status.Deliveries)
		return n == 3 && got.Status.Deliveries[2].Succeeded, fmt.Sprintf("%+v", got.Status.Deliveries)
	})
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(accepted) != 1 || tries != 2 {
		t.Fatalf("sink saw %d tries and accepted %v, want 2 tries and one event once", tries, accepted)
	}
	for _, n := range accepted {
		if n != 1 {
			t.Fatalf("an event was accepted %d times", n)
		}
	}
	if got.Status.Deliveries[2].Tries != 2 {
		t.Fatalf("second attempt %+v", got.Status.Deliveries[2])
	}
}
