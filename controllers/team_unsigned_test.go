package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// A webhook channel without a signing key is reported on its Team, which
// stays Ready (deliveries still go out), until the key is set.
func TestTeamReportsAnUnsignedWebhook(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	team := &cxv1.Team{
		ObjectMeta: metav1.ObjectMeta{Name: "support-operations", Namespace: ns},
		Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{
			{Name: "ops-hook", Type: cxv1.ChannelWebhook, Webhook: &cxv1.WebhookChannel{URL: "https://hooks.example.com/cx"}},
		}},
	}
	if err := k8sClient.Create(ctx, team); err != nil {
		t.Fatal(err)
	}
	state := func(unsigned bool) func() (bool, string) {
		return func() (bool, string) {
			var got cxv1.Team
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(team), &got); err != nil {
				return false, err.Error()
			}
			ready := meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionReady)
			c := meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionUnsigned)
			if ready == nil || ready.Status != metav1.ConditionTrue || got.Status.ObservedGeneration != got.Generation {
				return false, fmt.Sprintf("Ready %+v at generation %d", ready, got.Status.ObservedGeneration)
			}
			if !unsigned {
				return c == nil, fmt.Sprintf("Unsigned %+v", c)
			}
			return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "WebhookWithoutSigningKey" &&
				strings.Contains(c.Message, "ops-hook") && strings.Contains(c.Message, "signingKey"), fmt.Sprintf("Unsigned %+v", c)
		}
	}
	eventually(t, 10*time.Second, "Unsigned=True naming the channel", state(true))

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns, Labels: map[string]string{cxv1.SecretLabel: "true"}}, Data: map[string][]byte{"key": []byte("whsec")}}
	if err := k8sClient.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(team), team); err != nil {
		t.Fatal(err)
	}
	team.Spec.Channels[0].Webhook.SigningKey = &cxv1.SecretKeyReference{Name: "hook", Key: "key"}
	if err := k8sClient.Update(ctx, team); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "no Unsigned condition once signed", state(false))
}
