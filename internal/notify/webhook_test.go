package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signatureShape is the header's exact form.
var signatureShape = regexp.MustCompile(`^t=([0-9]+),v1=([0-9a-f]{64})$`)

// A signed delivery is a JSON POST whose signature covers the time it was
// sent and the exact body bytes, computed here independently of Sign.
func TestWebhookSignsTimestampAndBody(t *testing.T) {
	key := []byte("whsec-test")
	sent := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	type request struct {
		method, path, contentType, userAgent, idempotency, signature string
		body                                                         []byte
	}
	got := make(chan request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"),
			r.Header.Get("Idempotency-Key"), r.Header.Get(SignatureHeader), body}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	e := event(Opened, 1)
	out := Webhook{URL: srv.URL + "/hooks/cx", SigningKey: key, Now: func() time.Time { return sent }, Client: loopbackClient()}.Deliver(context.Background(), e)
	if !out.Succeeded {
		t.Fatalf("outcome %+v", out)
	}
	r := <-got
	if r.method != http.MethodPost || r.path != "/hooks/cx" || r.contentType != "application/json" || r.userAgent != "cxloop" || r.idempotency != e.Key() {
		t.Fatalf("request %+v", r)
	}
	m := signatureShape.FindStringSubmatch(r.signature)
	if m == nil {
		t.Fatalf("%s %q is not t=<unix seconds>,v1=<hex>", SignatureHeader, r.signature)
	}
	if m[1] != strconv.FormatInt(sent.Unix(), 10) {
		t.Fatalf("timestamp %s, want %d", m[1], sent.Unix())
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(m[1] + "." + string(r.body)))
	if want := hex.EncodeToString(mac.Sum(nil)); m[2] != want {
		t.Fatalf("v1 %s, want HMAC-SHA256 of \"<t>.<body>\" %s", m[2], want)
	}
	var p WebhookPayload
	if err := json.Unmarshal(r.body, &p); err != nil || p.IdempotencyKey != e.Key() || p.Type != "ImprovementTaskOpened" {
		t.Fatalf("payload %s: %v", r.body, err)
	}
	if err := VerifyWebhookSignature(r.signature, r.body, key, sent.Add(time.Minute), SignatureTolerance); err != nil {
		t.Fatalf("the receiver's check refuses a fresh delivery: %v", err)
	}
}

// Without a signing key nothing claims to be signed.
func TestUnsignedWebhookSendsNoSignature(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(SignatureHeader)
	}))
	defer srv.Close()
	if out := (Webhook{URL: srv.URL, Client: loopbackClient()}).Deliver(context.Background(), event(Opened, 1)); !out.Succeeded {
		t.Fatalf("outcome %+v", out)
	}
	if sig := <-got; sig != "" {
		t.Fatalf("unsigned delivery carries %s %q", SignatureHeader, sig)
	}
}

func TestVerifyWebhookSignature(t *testing.T) {
	key := []byte("whsec-test")
	body := []byte(`{"apiVersion":"cxloop.dev/v1alpha1","type":"ImprovementTaskOpened"}`)
	sent := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	signed := Sign(key, body, sent)
	_, v1, _ := cutV1(signed)
	cases := []struct {
		name   string
		header string
		body   []byte
		key    []byte
		now    time.Time
		want   error
	}{
		{"valid", signed, body, key, sent.Add(30 * time.Second), nil},
		{"valid with a clock slightly behind", signed, body, key, sent.Add(-time.Minute), nil},
		{"valid beside an old key's signature", signed + ",v1=" + hex.EncodeToString(make([]byte, 32)), body, key, sent, nil},
		{"tampered body", signed, []byte(strings.Replace(string(body), "Opened", "Closed", 1)), key, sent, ErrSignatureMismatch},
		{"wrong key", signed, body, []byte("whsec-other"), sent, ErrSignatureMismatch},
		{"timestamp moved forward", "t=" + strconv.FormatInt(sent.Unix()+600, 10) + ",v1=" + v1, body, key, sent.Add(600 * time.Second), ErrSignatureMismatch},
		{"stale: replayed after the tolerance", signed, body, key, sent.Add(SignatureTolerance + time.Second), ErrSignatureStale},
		{"from the future beyond the tolerance", signed, body, key, sent.Add(-SignatureTolerance - time.Second), ErrSignatureStale},
		{"missing", "", body, key, sent, ErrSignatureMissing},
		{"the old unstamped form", "sha256=" + v1, body, key, sent, ErrSignatureMalformed},
		{"no timestamp", "v1=" + v1, body, key, sent, ErrSignatureMalformed},
		{"no v1", "t=" + strconv.FormatInt(sent.Unix(), 10), body, key, sent, ErrSignatureMalformed},
		{"v1 not hex", "t=" + strconv.FormatInt(sent.Unix(), 10) + ",v1=zz", body, key, sent, ErrSignatureMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyWebhookSignature(c.header, c.body, c.key, c.now, SignatureTolerance)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("VerifyWebhookSignature = %v, want %v", err, c.want)
			}
		})
	}
	// A tolerance that is not positive means the documented default, never
	// "any age".
	if err := VerifyWebhookSignature(signed, body, key, sent.Add(time.Hour), 0); !errors.Is(err, ErrSignatureStale) {
		t.Fatalf("zero tolerance accepted an hour-old delivery: %v", err)
	}
}

// cutV1 splits a header into its timestamp and v1 parts.
func cutV1(header string) (ts, v1 string, ok bool) {
	m := signatureShape.FindStringSubmatch(header)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
