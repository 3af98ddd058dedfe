package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub answers the REST endpoints cxloop uses, as GitHub documents
// them, and checks each request's headers.
type fakeGitHub struct {
	mu       sync.Mutex
	t        *testing.T
	issues   []map[string]any
	comments map[int][]string
	down     int // answer 502 to the next down requests
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer gh-token" || r.Header.Get("Accept") != "application/vnd.github+json" ||
		r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" || r.Header.Get("User-Agent") == "" {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	if f.down > 0 {
		f.down--
		http.Error(w, `{"message":"Server Error"}`, http.StatusBadGateway)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/repos/example/support/issues"), "/")
	var body map[string]any
	if r.Body != nil {
		json.NewDecoder(r.Body).Decode(&body)
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/repos/example/support/issues":
		if r.URL.Query().Get("labels") != Label || r.URL.Query().Get("state") != "all" {
			f.t.Errorf("list query %s", r.URL.RawQuery)
		}
		json.NewEncoder(w).Encode(f.issues)
	case r.Method == http.MethodPost && r.URL.Path == "/repos/example/support/issues":
		labels, _ := body["labels"].([]any)
		if body["title"] == nil || body["body"] == nil || len(labels) == 0 || labels[0] != Label {
			http.Error(w, `{"message":"Validation Failed"}`, http.StatusUnprocessableEntity)
			return
		}
		n := len(f.issues) + 1
		issue := map[string]any{"number": n, "html_url": fmt.Sprintf("https://github.com/example/support/issues/%d", n),
			"body": body["body"], "state": "open", "title": body["title"]}
		f.issues = append(f.issues, issue)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(issue)
	case len(parts) == 3 && parts[2] == "comments":
		n, _ := strconv.Atoi(parts[1])
		if r.Method == http.MethodPost {
			f.comments[n] = append(f.comments[n], body["body"].(string))
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{}`))
			return
		}
		list := []map[string]string{}
		for _, c := range f.comments[n] {
			list = append(list, map[string]string{"body": c})
		}
		json.NewEncoder(w).Encode(list)
	case len(parts) == 2 && r.Method == http.MethodPatch:
		n, _ := strconv.Atoi(parts[1])
		f.issues[n-1]["state"] = body["state"]
		if body["state"] == "closed" && body["state_reason"] != "completed" && body["state_reason"] != "not_planned" {
			f.t.Errorf("state_reason %v", body["state_reason"])
		}
		json.NewEncoder(w).Encode(f.issues[n-1])
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

func TestGitHubFilesOneIssuePerTaskWhateverTheRetries(t *testing.T) {
	f := &fakeGitHub{t: t, comments: map[int][]string{}, down: 1}
	srv := httptest.NewServer(f)
	defer srv.Close()
	g := GitHub{APIURL: srv.URL, Repository: "example/support", Labels: []string{"cx"}, Token: "gh-token", Client: loopbackClient()}
	ctx := context.Background()
	if out := g.Deliver(ctx, event(Opened, 1)); out.Succeeded || !out.Retryable {
		t.Fatalf("GitHub down: %+v", out)
	}
	first := g.Deliver(ctx, event(Opened, 1))
	// A crash before the outcome was recorded: the event is delivered again.
	again := g.Deliver(ctx, event(Opened, 1))
	if !first.Succeeded || !again.Succeeded || len(f.issues) != 1 || first.ExternalRef != again.ExternalRef {
		t.Fatalf("issues %d, outcomes %+v %+v", len(f.issues), first, again)
	}
	if !strings.Contains(f.issues[0]["body"].(string), "<!-- cxloop-task: cx/support-csat-1a2b3c4d5e uid=uid-1 -->") {
		t.Fatalf("body lacks the marker: %s", f.issues[0]["body"])
	}
	reopened := event(Reopened, 2)
	reopened.Resolution, reopened.ResolvedAttempt = "rewrote the refund macro", 1
	for i := 0; i < 2; i++ {
		if out := g.Deliver(ctx, reopened); !out.Succeeded {
			t.Fatal(out)
		}
	}
	if len(f.comments[1]) != 1 {
		t.Fatalf("reopen comments: %d, want 1", len(f.comments[1]))
	}
	if !strings.Contains(f.comments[1][0], "Fix reported for attempt 1: rewrote the refund macro") {
		t.Fatalf("the reopening does not say which fix did not work: %s", f.comments[1][0])
	}
	if out := g.Deliver(ctx, event(Verified, 2)); !out.Succeeded || f.issues[0]["state"] != "closed" || len(f.comments[1]) != 2 {
		t.Fatalf("verify: %+v state %v comments %d", out, f.issues[0]["state"], len(f.comments[1]))
	}
	bad := GitHub{APIURL: srv.URL, Repository: "example/support", Token: "wrong", Client: loopbackClient()}.Deliver(ctx, event(Opened, 1))
	if bad.Succeeded || bad.Retryable || strings.Contains(bad.Message, "wrong") {
		t.Fatalf("bad credentials: %+v", bad)
	}
}

// fakeJira answers Jira Cloud's REST API v3 endpoints cxloop uses.
type fakeJira struct {
	mu       sync.Mutex
	t        *testing.T
	issues   map[string]map[string]any // key -> fields
	comments map[string][]string
	status   map[string]string
}

func (f *fakeJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("bot@example.com:jira-token"))
	if r.Header.Get("Authorization") != want {
		http.Error(w, `{"errorMessages":["Unauthorized"]}`, http.StatusUnauthorized)
		return
	}
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/rest/api/3/search/jql":
		jql := r.URL.Query().Get("jql")
		var found []map[string]string
		for key, fields := range f.issues {
			for _, l := range fields["labels"].([]any) {
				if strings.Contains(jql, fmt.Sprintf("labels = %q", l)) && l != Label {
					found = append(found, map[string]string{"key": key})
				}
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"issues": found})
	case r.Method == http.MethodPost && p == "/rest/api/3/issue":
		fields := body["fields"].(map[string]any)
		desc, _ := fields["description"].(map[string]any)
		if fields["project"].(map[string]any)["key"] != "CX" || fields["summary"] == nil || desc["type"] != "doc" ||
			fields["issuetype"].(map[string]any)["name"] != "Task" {
			http.Error(w, `{"errors":{"project":"invalid"}}`, http.StatusBadRequest)
			return
		}
		key := fmt.Sprintf("CX-%d", len(f.issues)+1)
		f.issues[key] = fields
		f.status[key] = "To Do"
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"key": key, "id": "1000"})
	case strings.HasSuffix(p, "/comment"):
		key := strings.Split(p, "/")[5]
		if r.Method == http.MethodPost {
			raw, _ := json.Marshal(body["body"])
			f.comments[key] = append(f.comments[key], string(raw))
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{}`))
			return
		}
		list := []map[string]any{}
		for _, c := range f.comments[key] {
			var doc any
			json.Unmarshal([]byte(c), &doc)
			list = append(list, map[string]any{"body": doc})
		}
		json.NewEncoder(w).Encode(map[string]any{"comments": list})
	case strings.HasSuffix(p, "/transitions"):
		key := strings.Split(p, "/")[5]
		if r.Method == http.MethodGet {
			json.NewEncoder(w).Encode(map[string]any{"transitions": []map[string]string{{"id": "11", "name": "In Progress"}, {"id": "31", "name": "Done"}}})
			return
		}
		if body["transition"].(map[string]any)["id"] != "31" {
			f.t.Errorf("transition %v", body)
		}
		f.status[key] = "Done"
		w.WriteHeader(http.StatusNoContent)
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

func TestJiraFilesOneIssuePerTaskAndTransitionsItDone(t *testing.T) {
	f := &fakeJira{t: t, issues: map[string]map[string]any{}, comments: map[string][]string{}, status: map[string]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	j := Jira{URL: srv.URL, Project: "CX", User: "bot@example.com", Token: "jira-token", Client: loopbackClient()}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if out := j.Deliver(ctx, event(Opened, 1)); !out.Succeeded || !strings.HasSuffix(out.ExternalRef, "/browse/CX-1") {
			t.Fatalf("open #%d: %+v", i, out)
		}
	}
	if len(f.issues) != 1 {
		t.Fatalf("issues %d, want 1", len(f.issues))
	}
	for i := 0; i < 2; i++ {
		if out := j.Deliver(ctx, event(Recovered, 1)); !out.Succeeded {
			t.Fatalf("recover: %+v", out)
		}
	}
	if len(f.comments["CX-1"]) != 1 || f.status["CX-1"] != "Done" {
		t.Fatalf("comments %d, status %s", len(f.comments["CX-1"]), f.status["CX-1"])
	}
}
