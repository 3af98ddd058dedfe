package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
)

func TestTeamReadyFollowsItsChannelSecretsAndCountsTasks(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	team := &cxv1.Team{
		ObjectMeta: metav1.ObjectMeta{Name: "support-operations", Namespace: ns},
		Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{{
			Name: "tracker", Type: cxv1.ChannelGitHub,
			GitHub: &cxv1.GitHubChannel{Repository: "example/support", Token: cxv1.SecretKeyReference{Name: "gh", Key: "token"}},
		}}},
	}
	if err := k8sClient.Create(ctx, team); err != nil {
		t.Fatal(err)
	}
	ready := func(want metav1.ConditionStatus, reason string) func() (bool, string) {
		return func() (bool, string) {
			var got cxv1.Team
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(team), &got); err != nil {
				return false, err.Error()
			}
			c := meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionReady)
			if c == nil {
				return false, "no Ready condition"
			}
			return c.Status == want && c.Reason == reason, fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
		}
	}
	eventually(t, 10*time.Second, "Ready=False SecretNotFound", ready(metav1.ConditionFalse, "SecretNotFound"))

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gh", Namespace: ns, Labels: map[string]string{cxv1.SecretLabel: "true"}}, Data: map[string][]byte{"token": []byte("t0ken")}}
	if err := k8sClient.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Ready=True once the Secret exists", ready(metav1.ConditionTrue, "ChannelsConfigured"))

	metric := validMetric(ns, "account-nps")
	metric.Spec.Owner.Team = team.Name
	if err := k8sClient.Create(ctx, metric); err != nil {
		t.Fatal(err)
	}
	task := validTask(ns)
	task.Spec.Team = team.Name
	task.Spec.DefinitionHash = metricspec.Definition(metric).Hash()
	if err := k8sClient.Create(ctx, task); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "one open task counted", func() (bool, string) {
		var got cxv1.Team
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(team), &got); err != nil {
			return false, err.Error()
		}
		return got.Status.OpenTasks == 1, fmt.Sprintf("%+v", got.Status)
	})
}
