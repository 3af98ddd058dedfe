package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cxloop/cxloop/internal/notify"
)

// receiver stands in for the owners' tools, on a local port: a webhook
// endpoint that checks each delivery's signature, a Slack incoming
// webhook, and the part of the GitHub issues API the GitHub channel uses,
// keeping its issues in memory. What it receives becomes lines of the
// story, printed at the end of each day in a fixed order.
type receiver struct {
	ln         net.Listener
	signingKey []byte

	mu     sync.Mutex
	lines  []string
	issues map[string][]*fakeIssue // repository -> issues
}

type fakeIssue struct {
	Number   int      `json:"number"`
	Title    string   `json:"title"`
	Body     string   `json:"body"`
	State    string   `json:"state"`
	HTMLURL  string   `json:"html_url"`
	Labels   []label  `json:"labels"`
	comments []string // bodies
}

type label struct {
	Name string `json:"name"`
}

func startReceiver(signingKey []byte) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the owners' receiver: %w", err)
	}
	r := &receiver{ln: ln, signingKey: signingKey, issues: map[string][]*fakeIssue{}}
	go func() { _ = http.Serve(ln, r) }()
	return r, nil
}

func (r *receiver) url() string { return "http://" + r.ln.Addr().String() }

func (r *receiver) close() { _ = r.ln.Close() }

// drain returns what arrived since the last call, sorted: deliveries of
// one day may arrive in any order. (An issue's comment sorts before its
// state change, the order the GitHub channel sends them in.)
func (r *receiver) drain() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lines
	r.lines = nil
	sort.Strings(out)
	return out
}

func (r *receiver) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case strings.HasPrefix(req.URL.Path, "/hooks/"):
		r.webhook(w, req, body)
	case strings.HasPrefix(req.URL.Path, "/slack/"):
		var msg struct {
			Text string `json:"text"`
		}
		_ = json.Unmarshal(body, &msg)
		r.note("  Slack %s: %s", strings.TrimPrefix(req.URL.Path, "/slack/"), firstLine(msg.Text))
		_, _ = io.WriteString(w, "ok")
	case strings.HasPrefix(req.URL.Path, "/github/repos/"):
		r.github(w, req, strings.TrimPrefix(req.URL.Path, "/github/repos/"), body)
	default:
		http.NotFound(w, req)
	}
}

// webhook checks the signature the way a receiver should, against its own
// wall clock (deliveries are signed when they are sent, whatever the
// demo's clock says), and shows the event it carries.
func (r *receiver) webhook(w http.ResponseWriter, req *http.Request, body []byte) {
	err := notify.VerifyWebhookSignature(req.Header.Get(notify.SignatureHeader), body, r.signingKey, time.Now(), notify.SignatureTolerance)
	var p notify.WebhookPayload
	if jerr := json.Unmarshal(body, &p); jerr != nil || err != nil {
		r.note("  webhook %s: REFUSED (%v %v)", req.URL.Path, err, jerr)
		http.Error(w, "bad signature or body", http.StatusUnauthorized)
		return
	}
	e := p.Event
	r.note("  webhook for %s, signature verified: %s %s %s attempt %d (%s)", e.Team, e.Kind, e.Metric, segmentLabel(e.Segment), e.Attempt, e.Phase)
	w.WriteHeader(http.StatusNoContent)
}

// github answers the issues API calls of the GitHub channel: list by
// label, create, comment, list comments, and change state.
func (r *receiver) github(w http.ResponseWriter, req *http.Request, path string, body []byte) {
	parts := strings.Split(path, "/") // owner, repo, "issues", [number, ["comments"]]
	if len(parts) < 3 || parts[2] != "issues" {
		http.NotFound(w, req)
		return
	}
	repo := parts[0] + "/" + parts[1]
	r.mu.Lock()
	defer r.mu.Unlock()
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	if len(parts) == 3 {
		switch req.Method {
		case http.MethodGet:
			if req.URL.Query().Get("page") != "1" && req.URL.Query().Get("page") != "" {
				reply(http.StatusOK, []*fakeIssue{})
				return
			}
			reply(http.StatusOK, r.issues[repo])
		case http.MethodPost:
			var in struct {
				Title  string   `json:"title"`
				Body   string   `json:"body"`
				Labels []string `json:"labels"`
			}
			if err := json.Unmarshal(body, &in); err != nil {
				reply(http.StatusUnprocessableEntity, map[string]string{"message": err.Error()})
				return
			}
			n := len(r.issues[repo]) + 1
			is := &fakeIssue{Number: n, Title: in.Title, Body: in.Body, State: "open",
				HTMLURL: fmt.Sprintf("https://github.com/%s/issues/%d", repo, n)}
			for _, l := range in.Labels {
				is.Labels = append(is.Labels, label{Name: l})
			}
			r.issues[repo] = append(r.issues[repo], is)
			r.lines = append(r.lines, fmt.Sprintf("  GitHub %s#%d opened: %s", repo, n, in.Title))
			reply(http.StatusCreated, is)
		default:
			reply(http.StatusMethodNotAllowed, map[string]string{"message": "method not allowed"})
		}
		return
	}
	n, err := strconv.Atoi(parts[3])
	if err != nil || n < 1 || n > len(r.issues[repo]) {
		reply(http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	is := r.issues[repo][n-1]
	switch {
	case len(parts) == 5 && parts[4] == "comments" && req.Method == http.MethodGet:
		out := []map[string]any{}
		for i, c := range is.comments {
			out = append(out, map[string]any{"id": i + 1, "body": c})
		}
		reply(http.StatusOK, out)
	case len(parts) == 5 && parts[4] == "comments" && req.Method == http.MethodPost:
		var in struct {
			Body string `json:"body"`
		}
		_ = json.Unmarshal(body, &in)
		is.comments = append(is.comments, in.Body)
		r.lines = append(r.lines, fmt.Sprintf("  GitHub %s#%d comment: %s", repo, n, firstLine(in.Body)))
		reply(http.StatusCreated, map[string]any{"id": len(is.comments), "body": in.Body})
	case len(parts) == 4 && req.Method == http.MethodPatch:
		var in struct {
			State string `json:"state"`
		}
		_ = json.Unmarshal(body, &in)
		if in.State != "" && in.State != is.State {
			is.State = in.State
			r.lines = append(r.lines, fmt.Sprintf("  GitHub %s#%d state: %s", repo, n, in.State))
		}
		reply(http.StatusOK, is)
	default:
		reply(http.StatusNotFound, map[string]string{"message": "Not Found"})
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 140 {
		s = s[:140] + "…"
	}
	return s
}
