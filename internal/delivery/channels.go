// Package delivery turns a Team's delivery channels and an ImprovementTask
// event into deliveries by internal/notify, with credentials read from
// Secrets in the Team's own namespace. It makes no decision about tasks
// and must not import controller-runtime or client-go.
package delivery

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/notify"
	"github.com/cxloop/cxloop/internal/redact"
	"github.com/cxloop/cxloop/internal/source"
)

// Channels delivers task events to a Team's channels with credentials from
// Secrets in the Team's namespace.
type Channels struct {
	Secrets metricspec.SecretReader
	Clock   clock.Clock
	// AllowedSlackHosts are hosts (host, or host:port) a Slack webhook URL
	// may point at besides hooks.slack.com, over http as well as https:
	// local receivers that stand in for Slack in tests. Empty in
	// production, where a Slack channel posts to https://hooks.slack.com
	// only, so a Secret cannot send task details, or the URL itself,
	// anywhere else.
	AllowedSlackHosts []string
	// Network says which addresses channels may connect to; the zero value
	// refuses loopback, link-local and private ones.
	Network source.NetworkPolicy
	// AllowedHosts are the hosts (host, or host:port) GitHub and Jira
	// channels may call, over https or http, besides https://api.github.com:
	// those channels send a token to their host, which the platform team
	// therefore chooses.
	AllowedHosts []string

	clientOnce sync.Once
	httpClient *http.Client
}

// slackHost is where Slack's incoming webhooks live.
const slackHost = "hooks.slack.com"

func (c *Channels) deliverOne(ctx context.Context, team *cxv1.Team, ch cxv1.DeliveryChannel, task *cxv1.ImprovementTask, ev loop.Event, tries int32) cxv1.DeliveryRecord {
	rec := cxv1.DeliveryRecord{Channel: team.Name + "/" + ch.Name, Event: string(ev), Attempt: task.Status.Attempt,
		Time: metav1.NewTime(c.Clock.Now()), Tries: tries}
	// Every message reaches the record through redact.HTTP with the
	// channel's credentials, whichever client produced it.
	d, secrets, err := c.deliverer(ctx, team.Namespace, ch)
	if err != nil {
		rec.Message, rec.Retryable = redact.Cut(redact.HTTP(err.Error(), secrets...), maxMessage), true
		return rec
	}
	out := d.Deliver(ctx, eventOf(task, ev))
	rec.Succeeded, rec.Retryable = out.Succeeded, !out.Succeeded && out.Retryable
	rec.Message, rec.ExternalRef = redact.Cut(redact.HTTP(out.Message, secrets...), maxMessage), out.ExternalRef
	return rec
}

// Retry delivers an event to one channel: a pending delivery, or another
// try after a failed one.
func (c *Channels) Retry(ctx context.Context, team *cxv1.Team, channel string, task *cxv1.ImprovementTask, ev loop.Event, tries int32) (cxv1.DeliveryRecord, bool) {
	for _, ch := range team.Spec.Channels {
		if team.Name+"/"+ch.Name == channel {
			return c.deliverOne(ctx, team, ch, task, ev, tries), true
		}
	}
	return cxv1.DeliveryRecord{}, false
}

func (c *Channels) secret(ctx context.Context, ns string, ref *cxv1.SecretKeyReference) (string, error) {
	if ref == nil {
		return "", nil
	}
	data, _, err := c.Secrets(ctx, ns, ref.Name)
	if err != nil {
		return "", err
	}
	v, ok := data[ref.Key]
	if !ok {
		return "", fmt.Errorf("secret %s has no key %s", ref.Name, ref.Key)
	}
	// A value written with `kubectl create secret --from-file` or echo
	// ends in a newline that is no part of the credential.
	return strings.TrimSpace(string(v)), nil
}

// deliverer returns the channel's client and the credentials it holds,
// which its messages must not show.
func (c *Channels) deliverer(ctx context.Context, ns string, ch cxv1.DeliveryChannel) (notify.Deliverer, []string, error) {
	switch {
	case ch.Webhook != nil:
		key, err := c.secret(ctx, ns, ch.Webhook.SigningKey)
		return notify.Webhook{URL: ch.Webhook.URL, SigningKey: []byte(key), Client: c.client()}, []string{key}, err
	case ch.Slack != nil:
		hook, err := c.secret(ctx, ns, &ch.Slack.WebhookURL)
		if err == nil {
			err = c.checkSlackURL(hook, ch.Slack.WebhookURL)
		}
		return notify.Slack{WebhookURL: hook, Client: c.client()}, []string{hook}, err
	case ch.GitHub != nil:
		api := ch.GitHub.APIURL
		if api == "" {
			api = "https://" + githubAPIHost
		}
		if err := c.checkAPIHost("GitHub API", api, githubAPIHost); err != nil {
			return nil, nil, err
		}
		token, err := c.secret(ctx, ns, &ch.GitHub.Token)
		return notify.GitHub{APIURL: api, Repository: ch.GitHub.Repository, Labels: ch.GitHub.Labels, Token: token, Client: c.client()},
			[]string{token}, err
	case ch.Jira != nil:
		if err := c.checkAPIHost("Jira", ch.Jira.URL, ""); err != nil {
			return nil, nil, err
		}
		user, err := c.secret(ctx, ns, &ch.Jira.User)
		if err != nil {
			return nil, []string{user}, err
		}
		token, err := c.secret(ctx, ns, &ch.Jira.Token)
		return notify.Jira{URL: ch.Jira.URL, Project: ch.Jira.Project, IssueType: ch.Jira.IssueType,
			DoneTransition: ch.Jira.DoneTransition, User: user, Token: token, Client: c.client()}, []string{user, token}, err
	}
	return nil, nil, fmt.Errorf("channel %s has no settings", ch.Name)
}

// checkSlackURL refuses a webhook URL that is not https://hooks.slack.com
// (or an allowed test host). The error names at most the URL's scheme and
// host: the rest of the URL is the credential.
func (c *Channels) checkSlackURL(hook string, ref cxv1.SecretKeyReference) error {
	u, err := url.Parse(hook)
	if err != nil || u.Host == "" {
		return fmt.Errorf("secret %s key %s does not hold a Slack webhook URL, which points at https://%s", ref.Name, ref.Key, slackHost)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "https" && strings.EqualFold(u.Hostname(), slackHost) && (u.Port() == "" || u.Port() == "443") && u.User == nil {
		return nil
	}
	for _, h := range c.AllowedSlackHosts {
		if (scheme == "https" || scheme == "http") && (strings.EqualFold(u.Host, h) || strings.EqualFold(u.Hostname(), h)) {
			return nil
		}
	}
	return fmt.Errorf("secret %s key %s holds a URL for %s://%s: a Slack webhook URL must point at https://%s",
		ref.Name, ref.Key, scheme, u.Host, slackHost)
}

// eventOf renders a task transition for owners' tools.
func eventOf(t *cxv1.ImprovementTask, ev loop.Event) notify.Event {
	e := notify.Event{Kind: notify.Kind(ev), Namespace: t.Namespace, Task: t.Name, TaskUID: string(t.UID),
		Metric: t.Spec.Metric, Scorecard: t.Spec.Scorecard, Segment: t.Spec.Segment, Team: t.CurrentTeam(), PreviousTeam: t.Status.PreviousTeam,
		Phase:   string(t.Status.Phase),
		Attempt: t.Status.Attempt, Direction: string(t.Spec.Objective.Direction), Target: t.Spec.Objective.Target,
		Shift: t.Spec.Objective.MinShift, Playbook: t.Spec.Playbook, EscalatedTo: t.Status.EscalatedTo}
	if t.Spec.Evidence != nil {
		e.Baseline = t.Spec.Evidence.ObservedValue
	}
	for _, d := range t.Spec.Drivers {
		e.Drivers = append(e.Drivers, notify.Driver{Metric: d.Metric, Spearman: d.Spearman, Segments: d.Segments, Segment: d.Segment,
			Value: d.Value, Target: d.Target, MissesTarget: d.MissesTarget})
	}
	if n := len(t.Status.Measurements); n > 0 {
		e.Current = t.Status.Measurements[n-1].Value
	}
	if t.Spec.DueDate != nil {
		e.DueDate = t.Spec.DueDate.UTC().Format(time.RFC3339)
	}
	if v := t.Status.Verification; v != nil {
		e.Improvement = &notify.Interval{Value: v.Improvement, Lower: v.Lower, Upper: v.Upper}
	}
	switch ev {
	case loop.EventVerified, loop.EventReopened, loop.EventEscalated:
		if r := t.Spec.Resolution; r != nil {
			e.Resolution, e.ResolvedAttempt = r.Note, r.Attempt
		}
	case loop.EventDismissed:
		e.DismissReason = t.Spec.DismissReason
	}
	e.Summary = fmt.Sprintf("%s: %s (%s)", ev, t.Status.Message, t.Origin())
	if ev == loop.EventReassigned {
		e.Summary = fmt.Sprintf("Reassigned: moved from team %s to team %s, the owner of %s now",
			t.Status.PreviousTeam, t.CurrentTeam(), t.Origin())
	}
	return e
}

// maxMessage is the longest delivery message a record keeps.
const maxMessage = 512
