package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
)

// WebhookPayloadVersion versions the webhook body.
const WebhookPayloadVersion = "cxloop.dev/v1alpha1"

// WebhookPayload is the JSON body a webhook receives.
type WebhookPayload struct {
	APIVersion string `json:"apiVersion"`
	Type       string `json:"type"`
	// IdempotencyKey repeats the Idempotency-Key header.
	IdempotencyKey string `json:"idempotencyKey"`
	Event          Event  `json:"event"`
}

// Webhook posts each event as JSON. With a signing key the body is signed:
// X-Cxloop-Signature: sha256=<hex HMAC-SHA256 of the body>. Every attempt
// at the same event carries the same Idempotency-Key.
type Webhook struct {
	URL        string
	SigningKey []byte
}

// Sign returns the signature header value of a body.
func Sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Deliver implements Deliverer.
func (w Webhook) Deliver(ctx context.Context, e Event) Outcome {
	body, err := json.Marshal(WebhookPayload{APIVersion: WebhookPayloadVersion, Type: "ImprovementTask" + string(e.Kind),
		IdempotencyKey: e.Key(), Event: e})
	if err != nil {
		return clean(Outcome{Message: err.Error()}, string(w.SigningKey))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return clean(Outcome{Message: err.Error()}, string(w.SigningKey))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", e.Key())
	req.Header.Set("User-Agent", "cxloop")
	if len(w.SigningKey) > 0 {
		req.Header.Set("X-Cxloop-Signature", Sign(w.SigningKey, body))
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return clean(Outcome{Retryable: true, Message: err.Error()}, string(w.SigningKey))
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(io.LimitReader(resp.Body, 1<<16))
	return clean(classify(resp.StatusCode, buf.Bytes()), string(w.SigningKey))
}

// Slack posts to a Slack incoming webhook, whose URL is itself a secret.
type Slack struct {
	WebhookURL string
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type string     `json:"type"`
	Text *slackText `json:"text,omitempty"`
}

// Deliver implements Deliverer: {"text": ..., "blocks": [...]} as Slack's
// incoming webhooks document; Slack answers "ok".
func (s Slack) Deliver(ctx context.Context, e Event) Outcome {
	msg := map[string]any{
		"text": e.Title() + ": " + e.Summary,
		"blocks": []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: e.Title()}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: describe(e)}},
		},
	}
	// send redacts the URL, in every form, from the outcome.
	_, _, out := send(ctx, http.MethodPost, s.WebhookURL, msg, http.Header{"User-Agent": {"cxloop"}}, s.WebhookURL)
	return out
}
