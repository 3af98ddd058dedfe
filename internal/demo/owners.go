package demo

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// demoSigningKey signs the demo's webhook deliveries.
var demoSigningKey = []byte("demo-signing-key")

// connectOwners points the sample Teams' channels at the receiver, and
// creates the Secrets they name, so every Team is Ready and the story
// shows what each owner receives. The samples' GitHub, Slack and webhook
// channels keep their shape; the Jira channel, whose API the receiver
// does not speak, becomes a signed webhook.
func connectOwners(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, rcv *receiver) error {
	for _, o := range objs {
		if o.GetKind() != "Team" {
			continue
		}
		channels, _, _ := unstructured.NestedSlice(o.Object, "spec", "channels")
		for i, ch := range channels {
			m, ok := ch.(map[string]any)
			if !ok {
				continue
			}
			switch m["type"] {
			case "github":
				_ = unstructured.SetNestedField(m, rcv.url()+"/github", "github", "apiURL")
			case "webhook":
				_ = unstructured.SetNestedField(m, rcv.url()+"/hooks/"+o.GetName(), "webhook", "url")
			case "jira":
				channels[i] = map[string]any{"name": m["name"], "type": "webhook", "webhook": map[string]any{
					"url":        rcv.url() + "/hooks/" + o.GetName(),
					"signingKey": map[string]any{"name": "demo-webhook", "key": "hmac-key"},
				}}
			}
		}
		if err := unstructured.SetNestedSlice(o.Object, channels, "spec", "channels"); err != nil {
			return err
		}
	}
	secrets := map[string]map[string]string{
		"support-github":  {"token": "demo-token"},
		"support-slack":   {"webhook-url": rcv.url() + "/slack/support-operations"},
		"success-webhook": {"hmac-key": string(demoSigningKey)},
		"demo-webhook":    {"hmac-key": string(demoSigningKey)},
	}
	for name, data := range secrets {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: name, Labels: map[string]string{cxv1.SecretLabel: "true"}},
			StringData: data}
		if err := c.Create(ctx, s); err != nil {
			return fmt.Errorf("create the demo's secret %s: %w", name, err)
		}
	}
	return nil
}
