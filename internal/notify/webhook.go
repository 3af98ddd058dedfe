package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
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

// SignatureHeader carries a signed delivery's signature.
const SignatureHeader = "X-Cxloop-Signature"

// SignatureTolerance is how far a signature's timestamp may sit from the
// receiver's clock, either way, before the delivery is refused as a replay
// (or a clock too far off). Receivers should apply it; within it, they drop
// repeats by Idempotency-Key.
const SignatureTolerance = 5 * time.Minute

// Errors VerifyWebhookSignature returns; test with errors.Is.
var (
	// ErrSignatureMissing: the delivery carries no signature.
	ErrSignatureMissing = errors.New("webhook signature missing")
	// ErrSignatureMalformed: the header is not t=<unix seconds>,v1=<hex>.
	ErrSignatureMalformed = errors.New("webhook signature malformed")
	// ErrSignatureMismatch: no v1 signature matches the body under the key.
	ErrSignatureMismatch = errors.New("webhook signature does not match")
	// ErrSignatureStale: the signature matches, but its timestamp is
	// outside the tolerance: a replayed (or badly delayed) delivery.
	ErrSignatureStale = errors.New("webhook signature timestamp outside the tolerance")
)

// Webhook posts each event as JSON. With a signing key each attempt is
// signed at the time it is sent:
//
//	X-Cxloop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
//
// so a captured delivery cannot be replayed once SignatureTolerance has
// passed; VerifyWebhookSignature checks it. Every attempt at the same event
// carries the same Idempotency-Key. Without a signing key deliveries are
// unsigned, and the receiver cannot tell them from anyone else's POST.
type Webhook struct {
	URL        string
	SigningKey []byte
	// Now is the clock signatures are stamped with; time.Now when nil.
	Now func() time.Time
	// Client sends the deliveries (see NewClient); nil sends nothing.
	Client *http.Client
}

// Sign returns the signature header value of a body sent at the given time:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
func Sign(key, body []byte, at time.Time) string {
	t := strconv.FormatInt(at.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(signature(key, t, body))
}

func signature(key []byte, t string, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(t))
	mac.Write([]byte("."))
	mac.Write(body)
	return mac.Sum(nil)
}

// VerifyWebhookSignature checks a delivery's X-Cxloop-Signature header
// against its raw body (as received, before any JSON decoding) and the
// shared key: one of its v1 signatures must match (several are allowed, so
// a sender can sign with an old and a new key while rotating), and its
// timestamp must be within tolerance of now (SignatureTolerance when
// tolerance is not positive). Unknown schemes in the header are ignored.
func VerifyWebhookSignature(header string, body, key []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = SignatureTolerance
	}
	if strings.TrimSpace(header) == "" {
		return ErrSignatureMissing
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %q is not key=value", ErrSignatureMalformed, part)
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: two timestamps", ErrSignatureMalformed)
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return fmt.Errorf("%w: v1 is not a hex SHA-256 HMAC", ErrSignatureMalformed)
			}
			sigs = append(sigs, sig)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrSignatureMalformed, ts)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrSignatureMalformed)
	}
	want := signature(key, ts, body)
	matched := false
	for _, sig := range sigs {
		matched = hmac.Equal(sig, want) || matched
	}
	if !matched {
		return ErrSignatureMismatch
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed at %s, now %s, tolerance %s", ErrSignatureStale,
			time.Unix(sec, 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), tolerance)
	}
	return nil
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
		now := time.Now
		if w.Now != nil {
			now = w.Now
		}
		req.Header.Set(SignatureHeader, Sign(w.SigningKey, body, now()))
	}
	resp, err := clientOr(w.Client).Do(req)
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
	// Client sends the deliveries (see NewClient); nil sends nothing.
	Client *http.Client
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
	_, _, out := send(ctx, s.Client, http.MethodPost, s.WebhookURL, msg, http.Header{"User-Agent": {"cxloop"}}, s.WebhookURL)
	return out
}
