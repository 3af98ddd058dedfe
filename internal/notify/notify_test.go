package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/source"
)

// loopbackClient reaches the tests' servers on 127.0.0.1, an address the
// egress policy refuses unless the manager allows its network, as here.
func loopbackClient() *http.Client {
	allowed := source.NetworkPolicy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	return NewClient(allowed.Transport(5*time.Second, 4))
}

// A channel reaches only the addresses its client's egress policy allows:
// without an allowance, a webhook to a loopback server or to the cloud
// metadata address is refused before any request, and a channel given no
// client sends nothing at all.
func TestChannelsSendOnlyThroughTheEgressPolicy(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	strict := NewClient(source.NetworkPolicy{}.Transport(2*time.Second, 1))
	for _, c := range []struct {
		name string
		d    Deliverer
		want string
	}{
		{"loopback webhook", Webhook{URL: srv.URL + "/hook", Client: strict}, "127.0.0.1 is a loopback, link-local or private address"},
		{"metadata webhook", Webhook{URL: "http://169.254.169.254/latest/meta-data/", Client: strict}, "169.254.169.254 is a loopback, link-local or private address"},
		{"loopback slack", Slack{WebhookURL: srv.URL + "/services/T/B/X", Client: strict}, "--allow-egress-network"},
		{"github without a client", GitHub{APIURL: srv.URL, Repository: "acme/cx", Token: "ghp-unused-token"}, "nothing was sent"},
		{"jira without a client", Jira{URL: srv.URL, Project: "CX"}, "nothing was sent"},
	} {
		out := c.d.Deliver(context.Background(), event(Opened, 1))
		if out.Succeeded || !strings.Contains(out.Message, c.want) {
			t.Errorf("%s: outcome %+v, want a refusal saying %q", c.name, out, c.want)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("refused channels reached the server %d times", hits.Load())
	}
	if out := (Webhook{URL: srv.URL + "/hook", Client: loopbackClient()}).Deliver(context.Background(), event(Opened, 1)); !out.Succeeded || hits.Load() != 1 {
		t.Fatalf("with 127.0.0.1 allowed: outcome %+v, %d requests", out, hits.Load())
	}
}

func event(kind Kind, attempt int32) Event {
	b := 72.5
	return Event{Kind: kind, Namespace: "cx", Task: "support-csat-1a2b3c4d5e", TaskUID: "uid-1", Metric: "support-csat",
		Team: "support-operations", Phase: "Open", Attempt: attempt, Direction: "AtLeast", Target: 80, Shift: 5, Baseline: &b,
		Summary: "CSAT after support dropped to 72.5 (target 80)", Playbook: "Fix the macro"}
}

// sink is a webhook receiver that is down for its first failures requests
// and drops duplicates by idempotency key, as a receiver should.
type sink struct {
	mu       sync.Mutex
	failures int
	tries    int
	accepted map[string]int
	key      []byte
	t        *testing.T
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		s.t.Errorf("request %s %s", r.Method, r.Header.Get("Content-Type"))
	}
	if err := VerifyWebhookSignature(r.Header.Get("X-Cxloop-Signature"), body, s.key, time.Now(), SignatureTolerance); err != nil {
		s.t.Errorf("signature %q: %v", r.Header.Get("X-Cxloop-Signature"), err)
	}
	var p WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil || p.APIVersion != WebhookPayloadVersion || p.Event.Task == "" {
		s.t.Errorf("payload %s: %v", body, err)
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" || key != p.IdempotencyKey {
		s.t.Errorf("idempotency key %q / %q", key, p.IdempotencyKey)
	}
	if s.tries <= s.failures {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	s.accepted[key]++
	w.WriteHeader(http.StatusAccepted)
}

func TestWebhookDownForAWhileReceivesEachEventOnce(t *testing.T) {
	s := &sink{failures: 3, accepted: map[string]int{}, key: []byte("hmac-secret"), t: t}
	srv := httptest.NewServer(s)
	defer srv.Close()
	w := Webhook{URL: srv.URL, SigningKey: []byte("hmac-secret"), Client: loopbackClient()}
	var outcomes []Outcome
	for _, e := range []Event{event(Opened, 1), event(Reopened, 2)} {
		for try := 0; try < MaxTries; try++ {
			out := w.Deliver(context.Background(), e)
			outcomes = append(outcomes, out)
			if out.Succeeded {
				// An at-least-once sender may repeat after a crash before recording.
				if try == 0 {
					w.Deliver(context.Background(), e)
				}
				break
			}
			if !out.Retryable {
				t.Fatalf("a 503 must be retryable: %+v", out)
			}
		}
	}
	if len(s.accepted) != 2 {
		t.Fatalf("distinct events accepted: %d, want 2", len(s.accepted))
	}
	failed := 0
	for _, o := range outcomes {
		if !o.Succeeded {
			failed++
		}
	}
	if failed != 3 || len(outcomes) != 5 {
		t.Fatalf("attempts: %d failed of %d, want 3 of 5", failed, len(outcomes))
	}
	if RetryAfter(0) < 10e9 || RetryAfter(3) <= RetryAfter(0) || RetryAfter(30) > 36*60e9 {
		t.Fatalf("backoff: %v %v %v", RetryAfter(0), RetryAfter(3), RetryAfter(30))
	}
}

func TestWebhookPermanentFailureIsNotRetried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no such hook", 404) }))
	defer srv.Close()
	out := Webhook{URL: srv.URL, Client: loopbackClient()}.Deliver(context.Background(), event(Opened, 1))
	if out.Succeeded || out.Retryable || !strings.Contains(out.Message, "404") {
		t.Fatalf("outcome %+v", out)
	}
}

func TestSlackIncomingWebhookShape(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/services/T000/B000/XXXX" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, "invalid_payload", 400)
			return
		}
		if got["text"] == "" || got["text"] == nil {
			http.Error(w, "no_text", 400)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	out := Slack{WebhookURL: srv.URL + "/services/T000/B000/XXXX", Client: loopbackClient()}.Deliver(context.Background(), event(Escalated, 3))
	if !out.Succeeded {
		t.Fatalf("outcome %+v", out)
	}
	blocks, _ := got["blocks"].([]any)
	if len(blocks) != 2 || !strings.Contains(got["text"].(string), "support-csat") {
		t.Fatalf("message %v", got)
	}
	// An error never shows the webhook URL, which is a credential.
	bad := Slack{WebhookURL: "http://127.0.0.1:1/services/T000/B000/SECRET", Client: loopbackClient()}.Deliver(context.Background(), event(Opened, 1))
	if bad.Succeeded || !bad.Retryable || strings.Contains(bad.Message, "SECRET") {
		t.Fatalf("unreachable Slack: %+v", bad)
	}
}
