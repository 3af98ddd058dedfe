package controllers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/notify"
)

// A webhook that accepts the connection and never answers holds one
// delivery worker for notify.CallTimeout at most: meanwhile another namespace's
// task is resolved and starts its verification, and afterwards the slow
// delivery is recorded as a retryable failure.
func TestASinkThatNeverAnswersStallsNoOtherTask(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	var once sync.Once
	called := make(chan time.Time, 1)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { called <- time.Now() })
		select {
		case <-r.Context().Done(): // the client gave up
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); sink.Close() })

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
	slowTask := newTaskFor(t, slow, slowMetric)
	var since time.Time
	select {
	case since = <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook was never called")
	}

	// While the call hangs, another tenant's task opens, is resolved and
	// moves on to verification.
	other := newNamespace(t)
	otherMetric := validMetric(other, "account-nps")
	if err := k8sClient.Create(ctx, otherMetric); err != nil {
		t.Fatal(err)
	}
	otherTask := newTaskFor(t, other, otherMetric)
	resolveTask(t, otherTask, "reworked the macro")
	if waited := time.Since(since); waited >= notify.CallTimeout-time.Second {
		t.Fatalf("the other task reached verification %s after the slow call began, want well within the call timeout %s", waited, notify.CallTimeout)
	}
	if d := taskNow(t, slowTask).Status.Deliveries; len(d) != 2 || d[1].Message != "sending" {
		t.Fatalf("deliveries %+v: want the slow call still in flight while the other task went on", d)
	}

	var got cxv1.ImprovementTask
	eventually(t, notify.CallTimeout+10*time.Second, "the slow delivery recorded as failed", func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(slowTask), &got); err != nil {
			return false, err.Error()
		}
		d := got.Status.Deliveries
		return len(d) == 2 && d[1].Message != "sending", fmt.Sprintf("%+v", d)
	})
	d := got.Status.Deliveries[1]
	if d.Succeeded || !d.Retryable || d.Tries != 1 || !strings.Contains(d.Message, "Timeout") {
		t.Fatalf("the slow attempt %+v: want a retryable failure naming the timeout", d)
	}
	if took := time.Since(since); took < notify.CallTimeout-time.Second || took > notify.CallTimeout+5*time.Second {
		t.Errorf("the slow call ended after %s, want about %s", took, notify.CallTimeout)
	}
}
