// Package notify delivers improvement-task events to the tools owners
// already use: a signed generic webhook, a Slack incoming webhook, GitHub
// issues and Jira issues. Delivery is at least once: the caller retries a
// failed delivery on a later reconcile, and every channel makes a repeat
// harmless (an idempotency key for webhooks; a marker looked up before
// creating for GitHub and Jira, which have no idempotency key).
//
// Credentials arrive resolved in the channel settings and never appear in
// an Outcome or an error. The package must not import Kubernetes packages.
package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/redact"
)

// Kind is what happened to a task.
type Kind string

// The event kinds.
const (
	Opened    Kind = "Opened"
	Reopened  Kind = "Reopened"
	Escalated Kind = "Escalated"
	Verified  Kind = "Verified"
	Recovered Kind = "Recovered"
	Dismissed Kind = "Dismissed"
	Cancelled Kind = "Cancelled"
	// Reassigned goes to the team an open task moved to when its Metric
	// changed owner; the task stays open.
	Reassigned Kind = "Reassigned"
)

// Closes reports whether the event ends the task.
func (k Kind) Closes() bool {
	switch k {
	case Verified, Recovered, Dismissed, Cancelled:
		return true
	}
	return false
}

// Event is a task transition as owners' tools receive it.
type Event struct {
	Kind      Kind   `json:"kind"`
	Namespace string `json:"namespace"`
	Task      string `json:"task"`
	TaskUID   string `json:"taskUID"`
	// Metric names the Metric that opened the task; Scorecard instead
	// names the Scorecard whose account did.
	Metric    string `json:"metric,omitempty"`
	Scorecard string `json:"scorecard,omitempty"`
	Segment   string `json:"segment"`
	Team      string `json:"team"`
	// PreviousTeam is the team a reassigned task moved away from.
	PreviousTeam string `json:"previousTeam,omitempty"`
	Phase        string `json:"phase"`
	Attempt      int32  `json:"attempt"`
	// Direction, Target and Shift state what the task must restore.
	Direction string  `json:"direction"`
	Target    float64 `json:"target"`
	Shift     float64 `json:"shift"`
	// Baseline is the value the episode was opened on; Current the latest.
	Baseline *float64 `json:"baseline,omitempty"`
	Current  *float64 `json:"current,omitempty"`
	DueDate  string   `json:"dueDate,omitempty"`
	Playbook string   `json:"playbook,omitempty"`
	// Drivers are the operational metrics that move with this one across
	// segments, strongest first: where to look, not a proven cause.
	Drivers []Driver `json:"drivers,omitempty"`
	// Improvement is the proven change with its interval, when verified.
	Improvement *Interval `json:"improvement,omitempty"`
	// EscalatedTo names the escalation team.
	EscalatedTo string `json:"escalatedTo,omitempty"`
	// Resolution is the owner's note on the fix that the event judges
	// (verified, or reopened because the data did not move), and
	// ResolvedAttempt the attempt it answered.
	Resolution      string `json:"resolution,omitempty"`
	ResolvedAttempt int32  `json:"resolvedAttempt,omitempty"`
	// DismissReason is the owner's reason for calling the task a false
	// alarm.
	DismissReason string `json:"dismissReason,omitempty"`
	// Summary is one human-readable line.
	Summary string `json:"summary"`
}

// Driver is one driver of a task's metric, as it stood when the task
// opened.
type Driver struct {
	Metric string `json:"metric"`
	// Spearman is its rank correlation with the metric over Segments
	// segments.
	Spearman float64 `json:"spearman"`
	Segments int32   `json:"segments"`
	// Value in the task's segment (Segment, or the whole population when
	// empty), and Target of the driver's own objective, when known.
	Segment      string   `json:"segment,omitempty"`
	Value        *float64 `json:"value,omitempty"`
	Target       *float64 `json:"target,omitempty"`
	MissesTarget bool     `json:"missesTarget,omitempty"`
}

// Interval is a value with its bounds.
type Interval struct {
	Value float64 `json:"value"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// Key identifies one delivery of one event: the same task, event and
// attempt always give the same key. A reassignment also names the team it
// moved the task to, so a task moved twice within one attempt is announced
// to each new team rather than dropped as a repeat.
func (e Event) Key() string {
	id := fmt.Sprintf("%s/%s/%d", e.TaskUID, e.Kind, e.Attempt)
	if e.Kind == Reassigned {
		id += "/" + e.Team
	}
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:16])
}

// Title is the issue or message title.
func (e Event) Title() string {
	seg := e.Segment
	if seg == "" {
		seg = "all customers"
	}
	return fmt.Sprintf("[cxloop] %s dropped for %s", e.origin(), seg)
}

// origin is the Metric's name, or the Scorecard's with its kind.
func (e Event) origin() string {
	if e.Scorecard != "" {
		return "scorecard " + e.Scorecard
	}
	return e.Metric
}

// Outcome is the result of one delivery attempt.
type Outcome struct {
	Succeeded bool
	// Retryable is true when a later attempt may succeed (network errors,
	// 5xx and 429 answers).
	Retryable bool
	Message   string
	// ExternalRef is the tool's identifier, such as an issue URL.
	ExternalRef string
}

// Deliverer delivers events to one channel.
type Deliverer interface {
	Deliver(ctx context.Context, e Event) Outcome
}

// RetryAfter is the delay before the next attempt after failures failed
// attempts: exponential from 10 seconds, capped at 30 minutes, with up to
// 20 % jitter so many tasks do not retry in step.
func RetryAfter(failures int) time.Duration {
	d := 10 * time.Second * time.Duration(math.Pow(2, float64(min(failures, 20))))
	d = min(d, 30*time.Minute)
	return d + time.Duration(rand.Float64()*0.2*float64(d))
}

// MaxTries bounds the attempts at one delivery; the record on the task
// shows the failures.
const MaxTries = 12

// CallTimeout bounds one HTTP call to a channel, from dialing to the last
// byte of the answer: deliveries run inside the task reconcile, so a
// channel that accepts and never answers must give the worker back soon.
// A call cut short is a retryable failure.
const CallTimeout = 10 * time.Second

// httpClient is the shape of every channel's client; redirects are not
// followed, so a channel cannot be bounced to another host with its
// credentials. Its own transport sends nothing: a channel reaches the
// network only through the transport given to NewClient, which carries
// the manager's egress policy.
var httpClient = &http.Client{
	Timeout:       CallTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     noEgress{},
}

// NewClient returns the client channels send with, connecting through
// transport (one whose dialer applies the egress policy), with the
// channels' timeout and without following redirects.
func NewClient(transport http.RoundTripper) *http.Client {
	c := *httpClient
	if transport != nil {
		c.Transport = transport
	}
	return &c
}

// clientOr is c, or the client that sends nothing when a channel was
// given none.
func clientOr(c *http.Client) *http.Client {
	if c == nil {
		return httpClient
	}
	return c
}

// noEgress refuses every request: a channel built without a client has
// no egress policy to obey.
type noEgress struct{}

func (noEgress) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return nil, errors.New("the channel has no HTTP client with an egress policy; nothing was sent")
}

// send performs a request and classifies the answer. body may be nil. The
// outcome's message has been through redact.HTTP with the secrets: an
// error names the request's URL, and an answer may echo it.
func send(ctx context.Context, client *http.Client, method, url string, body any, header http.Header, secrets ...string) (int, []byte, Outcome) {
	code, data, out := sendRaw(ctx, clientOr(client), method, url, body, header)
	return code, data, clean(out, secrets...)
}

func sendRaw(ctx context.Context, client *http.Client, method, url string, body any, header http.Header) (int, []byte, Outcome) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, Outcome{Message: "encode: " + err.Error()}
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, Outcome{Message: err.Error()}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, Outcome{Retryable: true, Message: err.Error()}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, classify(resp.StatusCode, data)
}

// clean removes the secrets, and every URL's userinfo, path and query,
// from an outcome's message; the external reference, an issue's address,
// is the tool's own and stays.
func clean(out Outcome, secrets ...string) Outcome {
	out.Message = redact.Cut(redact.HTTP(out.Message, secrets...), maxMessage)
	return out
}

// maxMessage bounds an outcome's message. The answer's body is cut only
// after redaction: a secret cut in two would no longer be recognised.
const maxMessage = 256

func classify(code int, body []byte) Outcome {
	switch {
	case code >= 200 && code < 300:
		return Outcome{Succeeded: true, Message: http.StatusText(code)}
	case code == http.StatusTooManyRequests || code >= 500:
		return Outcome{Retryable: true, Message: fmt.Sprintf("%d %s", code, snippet(body))}
	}
	return Outcome{Message: fmt.Sprintf("%d %s", code, snippet(body))}
}

// snippet is the start of an answer's body, long enough that clean sees
// a secret whole before it cuts the message.
func snippet(b []byte) string {
	return redact.Cut(strings.TrimSpace(string(b)), 4096)
}

// marker is the hidden text that identifies a task in a tool without an
// idempotency key.
func marker(e Event) string {
	return fmt.Sprintf("cxloop-task: %s/%s uid=%s", e.Namespace, e.Task, e.TaskUID)
}

// eventMarker identifies one event of a task in a comment.
func eventMarker(e Event) string {
	return fmt.Sprintf("cxloop-event: %s attempt=%d key=%s", e.Kind, e.Attempt, e.Key())
}

// describe is the body text shared by the channels.
func describe(e Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", e.Summary)
	if e.Scorecard != "" {
		fmt.Fprintf(&b, "- Scorecard: %s (account %q), owned by %s\n", e.Scorecard, e.Segment, e.Team)
	} else {
		fmt.Fprintf(&b, "- Metric: %s (segment %q), owned by %s\n", e.Metric, e.Segment, e.Team)
	}
	if e.Kind == Reassigned {
		from := e.PreviousTeam
		if from == "" {
			from = "its previous owner"
		}
		fmt.Fprintf(&b, "- Reassigned: the metric's owner changed, so this open task moved from %s to %s\n", from, e.Team)
	}
	fmt.Fprintf(&b, "- Objective: %s %g; a shift of %g counts\n", e.Direction, e.Target, e.Shift)
	if e.Baseline != nil {
		fmt.Fprintf(&b, "- Value when the task opened: %.4g\n", *e.Baseline)
	}
	if e.Improvement != nil {
		fmt.Fprintf(&b, "- Proven improvement: %+.3g (%+.3g to %+.3g)\n", e.Improvement.Value, e.Improvement.Lower, e.Improvement.Upper)
	}
	if e.Resolution != "" {
		fmt.Fprintf(&b, "- Fix reported for attempt %d: %s\n", e.ResolvedAttempt, e.Resolution)
	}
	if e.DismissReason != "" {
		fmt.Fprintf(&b, "- Dismissed as a false alarm: %s\n", e.DismissReason)
	}
	if e.DueDate != "" {
		fmt.Fprintf(&b, "- Due: %s\n", e.DueDate)
	}
	if e.EscalatedTo != "" {
		fmt.Fprintf(&b, "- Escalated to: %s\n", e.EscalatedTo)
	}
	if len(e.Drivers) > 0 {
		fmt.Fprintf(&b, "\nWhere to look: the metrics that move with this one across segments (an association, not a proven cause):\n")
		for _, d := range e.Drivers {
			fmt.Fprintf(&b, "- %s (Spearman %.2f over %d segments)", d.Metric, d.Spearman, d.Segments)
			if d.Value != nil {
				where := "overall"
				if d.Segment != "" {
					where = "for " + d.Segment
				}
				fmt.Fprintf(&b, ": %.4g %s", *d.Value, where)
				if d.Target != nil {
					verdict := "meets"
					if d.MissesTarget {
						verdict = "misses"
					}
					fmt.Fprintf(&b, ", %s its target %.4g", verdict, *d.Target)
				}
			}
			fmt.Fprintln(&b)
		}
	}
	if e.Playbook != "" {
		fmt.Fprintf(&b, "\nPlaybook: %s\n", e.Playbook)
	}
	fmt.Fprintf(&b, "\nResolve with `kubectl cx resolve %s -n %s --note \"what changed\"`; cxloop then verifies the fix on fresh data.\n", e.Task, e.Namespace)
	return b.String()
}
