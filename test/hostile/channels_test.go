package hostile

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// A channel case gives a Team one hostile channel beside a good webhook;
// a task opened for the Team must record the hostile channel's failure
// while the good one receives the event.
type channelCase struct {
	name string
	// channel creates what the hostile channel needs in ns (Secrets, a
	// server) and returns it, with a counter of the requests the server
	// received when it must receive none.
	channel func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32)
	// want is part of the failed delivery's message.
	want string
}

// echoing starts a server answering status and echoing the whole request.
func echoing(t *testing.T, status int) (url string, hits *atomic.Int32) {
	t.Helper()
	hits = &atomic.Int32{}
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":"refused %s %s","headers":%q,"body":%q}`, r.Method, r.URL, fmt.Sprint(r.Header), body)
	})
	return srv.URL, hits
}

func TestHostileChannels(t *testing.T) {
	cases := []channelCase{
		{name: "webhook-500-echoes-the-signed-request", want: "500", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			key := canary(t)
			secret(t, ns, "hooks", map[string]string{"hmac": key + "\n"})
			url, _ := echoing(t, http.StatusInternalServerError)
			return cxv1.DeliveryChannel{Name: "hostile", Type: cxv1.ChannelWebhook,
				Webhook: &cxv1.WebhookChannel{URL: url, SigningKey: &cxv1.SecretKeyReference{Name: "hooks", Key: "hmac"}}}, nil
		}},
		{name: "webhook-redirect-to-metadata-address", want: "307", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			key := canary(t)
			secret(t, ns, "hooks", map[string]string{"hmac": key})
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusTemporaryRedirect)
			})
			return cxv1.DeliveryChannel{Name: "hostile", Type: cxv1.ChannelWebhook,
				Webhook: &cxv1.WebhookChannel{URL: srv.URL, SigningKey: &cxv1.SecretKeyReference{Name: "hooks", Key: "hmac"}}}, nil
		}},
		{name: "slack-url-with-trailing-newline-to-another-host", want: "hooks.slack.com", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			url, _ := echoing(t, http.StatusInternalServerError)
			return slack(t, ns, url+"/services/"+canary(t)+"\n"), nil
		}},
		{name: "slack-url-upper-case-scheme-to-another-host", want: "hooks.slack.com", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			url, _ := echoing(t, http.StatusForbidden)
			return slack(t, ns, "HTTP"+strings.TrimPrefix(url, "http")+"/services/"+strings.ToUpper(canary(t))), nil
		}},
		{name: "slack-url-outside-the-allowance", want: "hooks.slack.com", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			url, hits := refusedListener(t)
			return slack(t, ns, url+"/services/"+canary(t)), hits
		}},
		{name: "slack-secret-key-absent", want: "no key url", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			secret(t, ns, "slack", map[string]string{"other": canary(t)})
			return cxv1.DeliveryChannel{Name: "hostile", Type: cxv1.ChannelSlack,
				Slack: &cxv1.SlackChannel{WebhookURL: cxv1.SecretKeyReference{Name: "slack", Key: "url"}}}, nil
		}},
		{name: "github-401-echoes-the-token", want: "401", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			url, _ := echoing(t, http.StatusUnauthorized)
			return github(t, ns, url, canary(t)+"\n"), nil
		}},
		{name: "github-upper-case-token-echoed-by-a-422", want: "422", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			url, _ := echoing(t, http.StatusUnprocessableEntity)
			return github(t, ns, url, strings.ToUpper(canary(t))), nil
		}},
		{name: "github-api-url-on-an-attacker-host", want: "not allowed", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			return github(t, ns, "https://attacker.example.com/api/v3", canary(t)), nil
		}},
		{name: "jira-401-echoes-basic-auth", want: "401", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			url, _ := echoing(t, http.StatusUnauthorized)
			user, token := canary(t)+"@example.com", canary(t)
			remember(user + ":" + token)
			secret(t, ns, "jira", map[string]string{"user": user + "\n", "token": token + "\n"})
			return cxv1.DeliveryChannel{Name: "hostile", Type: cxv1.ChannelJira, Jira: &cxv1.JiraChannel{URL: url, Project: "CX",
				User: cxv1.SecretKeyReference{Name: "jira", Key: "user"}, Token: cxv1.SecretKeyReference{Name: "jira", Key: "token"}}}, nil
		}},
		{name: "jira-on-a-host-not-allowed", want: "not allowed", channel: func(t *testing.T, ns string) (cxv1.DeliveryChannel, *atomic.Int32) {
			user, token := canary(t), canary(t)
			remember(user + ":" + token)
			secret(t, ns, "jira", map[string]string{"user": user, "token": token})
			return cxv1.DeliveryChannel{Name: "hostile", Type: cxv1.ChannelJira, Jira: &cxv1.JiraChannel{URL: "https://attacker.example.com", Project: "CX",
				User: cxv1.SecretKeyReference{Name: "jira", Key: "user"}, Token: cxv1.SecretKeyReference{Name: "jira", Key: "token"}}}, nil
		}},
	}
	good := sentinel(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			hostile, hits := tc.channel(t, ns)
			received := &atomic.Int32{}
			sink := serve(t, func(w http.ResponseWriter, r *http.Request) {
				received.Add(1)
				w.WriteHeader(http.StatusOK)
			})
			team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "customer-success", Namespace: ns},
				Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{hostile,
					{Name: "good", Type: cxv1.ChannelWebhook, Webhook: &cxv1.WebhookChannel{URL: sink.URL}}}}}
			create(t, team)
			task := openTask(t, ns)
			failed := deliveryFailed(t, task, "hostile")
			if !strings.Contains(failed.Message, tc.want) {
				t.Errorf("the failed delivery says %q, want it to say %q", failed.Message, tc.want)
			}
			eventually(t, 20*time.Second, "the good channel received the event", func() (bool, string) {
				return received.Load() > 0, "nothing received"
			})
			if hits != nil && hits.Load() != 0 {
				t.Errorf("the refused address was contacted %d times", hits.Load())
			}
			intact(t, good)
			noLeak(t)
		})
	}
}

func slack(t *testing.T, ns, url string) cxv1.DeliveryChannel {
	t.Helper()
	remember(strings.TrimSpace(url))
	secret(t, ns, "slack", map[string]string{"url": url})
	return cxv1.DeliveryChannel{Name: "hostile", Type: cxv1.ChannelSlack,
		Slack: &cxv1.SlackChannel{WebhookURL: cxv1.SecretKeyReference{Name: "slack", Key: "url"}}}
}

func github(t *testing.T, ns, apiURL, token string) cxv1.DeliveryChannel {
	t.Helper()
	secret(t, ns, "github", map[string]string{"token": token})
	return cxv1.DeliveryChannel{Name: "hostile", Type: cxv1.ChannelGitHub, GitHub: &cxv1.GitHubChannel{Repository: "acme/cx",
		APIURL: apiURL, Token: cxv1.SecretKeyReference{Name: "github", Key: "token"}}}
}

// openTask creates a Metric and a task for it owned by customer-success,
// as the operator would open one.
func openTask(t *testing.T, ns string) *cxv1.ImprovementTask {
	t.Helper()
	m := csatMetric(ns, "account-csat", "absent")
	m.Spec.Owner.Team = "customer-success"
	create(t, m)
	task := &cxv1.ImprovementTask{
		ObjectMeta: metav1.ObjectMeta{Name: "account-csat-1a2b3c", Namespace: ns},
		Spec: cxv1.ImprovementTaskSpec{
			Metric:         m.Name,
			Segment:        "persona=admin",
			SegmentValues:  map[string]string{"persona": "admin"},
			Team:           "customer-success",
			EpisodeStart:   metav1.NewTime(day.Add(-72 * time.Hour)),
			DefinitionHash: metricspec.Definition(m).Hash(),
			Objective:      cxv1.TaskObjective{Direction: cxv1.AtLeast, Target: 60, MinShift: 5},
			Priority:       2,
		},
	}
	create(t, task)
	return task
}

// deliveryFailed waits for a failed attempt on channel and returns it.
func deliveryFailed(t *testing.T, task *cxv1.ImprovementTask, channel string) cxv1.DeliveryRecord {
	t.Helper()
	var found cxv1.DeliveryRecord
	eventually(t, 30*time.Second, "a failed delivery on "+channel, func() (bool, string) {
		var got cxv1.ImprovementTask
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(task), &got); err != nil {
			return false, err.Error()
		}
		for _, d := range got.Status.Deliveries {
			if d.Channel == task.Spec.Team+"/"+channel && !d.Succeeded && d.Tries > 0 && d.Message != "sending" && d.Message != "pending" {
				found = d
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", got.Status.Deliveries)
	})
	return found
}
