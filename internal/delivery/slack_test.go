package delivery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/loop"
)

// slackTeam is a team with one Slack channel whose URL is in the Secret
// hooks, key url.
func slackTeam() *cxv1.Team {
	return &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "support", Namespace: "cx"},
		Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{{Name: "chat", Type: cxv1.ChannelSlack,
			Slack: &cxv1.SlackChannel{WebhookURL: cxv1.SecretKeyReference{Name: "hooks", Key: "url"}}}}}}
}

func slackChannels(hook string, allowed ...string) *Channels {
	return &Channels{Clock: clock.NewManual(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), AllowedSlackHosts: allowed,
		Network: loopbackAllowed,
		Secrets: func(_ context.Context, ns, name string) (map[string][]byte, string, error) {
			if ns != "cx" || name != "hooks" {
				return nil, "", fmt.Errorf("secret %s/%s not found", ns, name)
			}
			return map[string][]byte{"url": []byte(hook)}, "1", nil
		}}
}

func slackTask() *cxv1.ImprovementTask {
	return &cxv1.ImprovementTask{ObjectMeta: metav1.ObjectMeta{Name: "csat-1", Namespace: "cx", UID: "u1"},
		Spec:   cxv1.ImprovementTaskSpec{Metric: "csat", Team: "support"},
		Status: cxv1.ImprovementTaskStatus{Phase: cxv1.PhaseOpen, Attempt: 1}}
}

// The webhook URL is a credential: a Slack that answers with an error
// echoing it, whole, percent-encoded and as the path it received, leaves
// no part of it in the delivery record, although the Secret's value ends
// in a newline and spells the scheme in capitals.
func TestSlackErrorEchoingTheURLLeavesNoPartOfItInTheRecord(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		full := "http://" + r.Host + r.URL.RequestURI()
		http.Error(w, fmt.Sprintf("no_service: %s (%s) token=%s path %s", full, url.QueryEscape(full),
			strings.TrimPrefix(r.URL.Path, "/services/T0A1B2C3/"), r.URL.Path), http.StatusNotFound)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	hook := "HTTP://" + host + "/services/T0A1B2C3/B4D5E6F7/Zx9Yw8Vu7Ts6Rq5P"
	c := slackChannels(hook+"\n", host)

	rec, ok := c.Retry(context.Background(), slackTeam(), "support/chat", slackTask(), loop.EventOpened, 1)
	if !ok {
		t.Fatal("the channel was not found")
	}
	if posts.Load() != 1 || rec.Succeeded || rec.Retryable || !strings.Contains(rec.Message, "404") {
		t.Fatalf("posts %d, record %+v: want one post answered 404, not retryable", posts.Load(), rec)
	}
	for _, part := range []string{"T0A1B2C3", "B4D5E6F7", "Zx9Yw8Vu7Ts6Rq5P", "services", "%2F"} {
		if strings.Contains(strings.ToLower(rec.Message), strings.ToLower(part)) {
			t.Fatalf("the record shows %q of the webhook URL: %q", part, rec.Message)
		}
	}
	if !strings.Contains(rec.Message, host) {
		t.Fatalf("the record no longer says which host failed: %q", rec.Message)
	}
}

// A Secret pointing the Slack channel anywhere but https://hooks.slack.com
// is refused before anything is sent, with an error that names the host
// and not the rest of the URL.
func TestSlackURLElsewhereIsRefused(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posts.Add(1) }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, c := range []struct {
		hook, names string
	}{
		{srv.URL + "/services/T/B/s3cretpath", "http://" + host},
		{"http://hooks.slack.com/services/T/B/s3cretpath", "http://hooks.slack.com"},
		{"https://hooks.slack.com.attacker.example/services/T/B/s3cretpath", "https://hooks.slack.com.attacker.example"},
		{"https://user:pw@hooks.slack.com/services/T/B/s3cretpath", "https://hooks.slack.com"},
		{"xoxb-s3cretpath", "does not hold a Slack webhook URL"},
	} {
		rec, _ := slackChannels(c.hook).Retry(context.Background(), slackTeam(), "support/chat", slackTask(), loop.EventOpened, 1)
		if rec.Succeeded || !strings.Contains(rec.Message, c.names) || strings.Contains(rec.Message, "s3cretpath") ||
			strings.Contains(rec.Message, "pw@") {
			t.Errorf("%s: record %+v", c.hook, rec)
		}
		if !strings.Contains(rec.Message, "must point at https://hooks.slack.com") && !strings.Contains(rec.Message, "which points at https://hooks.slack.com") {
			t.Errorf("%s: the refusal does not say what is expected: %q", c.hook, rec.Message)
		}
	}
	if posts.Load() != 0 {
		t.Fatalf("a refused URL was posted to %d times", posts.Load())
	}
	for _, ok := range []string{"https://hooks.slack.com/services/T/B/X", "HTTPS://HOOKS.SLACK.COM/services/T/B/X", "https://hooks.slack.com:443/services/T/B/X"} {
		if err := slackChannels(ok).checkSlackURL(ok, cxv1.SecretKeyReference{Name: "hooks", Key: "url"}); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}
