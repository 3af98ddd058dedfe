package metricspec

import (
	"k8s.io/apimachinery/pkg/api/meta"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
)

// UnsignedWebhooks names the webhook channels without a signing key.
func UnsignedWebhooks(team *cxv1.Team) []string {
	var names []string
	for _, ch := range team.Spec.Channels {
		if ch.Webhook != nil && ch.Webhook.SigningKey == nil {
			names = append(names, ch.Name)
		}
	}
	return names
}

// ChannelSecretRefs lists the Secret keys a Team's channels read.
func ChannelSecretRefs(team *cxv1.Team) []cxv1.SecretKeyReference {
	var refs []cxv1.SecretKeyReference
	for _, ch := range team.Spec.Channels {
		switch {
		case ch.Webhook != nil && ch.Webhook.SigningKey != nil:
			refs = append(refs, *ch.Webhook.SigningKey)
		case ch.Slack != nil:
			refs = append(refs, ch.Slack.WebhookURL)
		case ch.GitHub != nil:
			refs = append(refs, ch.GitHub.Token)
		case ch.Jira != nil:
			refs = append(refs, ch.Jira.User, ch.Jira.Token)
		}
	}
	return refs
}

// TaskRecord is what the team summary needs of a task.
func TaskRecord(t *cxv1.ImprovementTask) loop.TaskRecord {
	rec := loop.TaskRecord{
		Phase:     loop.Phase(t.Status.Phase),
		Attempt:   t.Status.Attempt,
		Escalated: meta.IsStatusConditionTrue(t.Status.Conditions, cxv1.ConditionEscalated),
		OpenedAt:  t.CreationTimestamp.Time,
	}
	if t.Status.ClosedAt != nil {
		c := t.Status.ClosedAt.Time
		rec.ClosedAt = &c
	}
	return rec
}
