package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// fakeGitHub answers the REST endpoints the GitHub channel uses, with the
// request shapes GitHub documents (docs.github.com/rest/issues): list a
// repository's issues filtered by state and labels, create an issue,
// list and create an issue's comments, update an issue's state. Issues
// live in memory so the test can count them. It can be told to act on a
// request and then drop the connection without answering, as a tracker
// does when the network fails after it committed.
type fakeGitHub struct {
	token string

	mu     sync.Mutex
	repos  map[string]*fakeRepo
	drops  map[string]int // request kind -> requests still to act on and drop
	served map[string]int // request kind -> requests acted on
	// dropped counts requests acted on whose answer was dropped.
	dropped map[string]int
	// violations are requests that break GitHub's documented shape.
	violations []string
}

type fakeRepo struct {
	issues []*fakeIssue
}

type fakeIssue struct {
	Number      int
	Title       string
	Body        string
	Labels      []string
	State       string
	StateReason string
	Comments    []string
}

// The request kinds that change a repository.
const (
	createIssue   = "create issue"
	createComment = "create comment"
	updateIssue   = "update issue"
)

func newFakeGitHub(token string) *fakeGitHub {
	return &fakeGitHub{token: token, repos: map[string]*fakeRepo{}, drops: map[string]int{},
		served: map[string]int{}, dropped: map[string]int{}}
}

// dropAfterActing makes the next n requests of kind take effect and then
// lose their answer.
func (f *fakeGitHub) dropAfterActing(kind string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drops[kind] += n
}

var (
	issuesPath   = regexp.MustCompile(`^/repos/([^/]+/[^/]+)/issues$`)
	issuePath    = regexp.MustCompile(`^/repos/([^/]+/[^/]+)/issues/([0-9]+)$`)
	commentsPath = regexp.MustCompile(`^/repos/([^/]+/[^/]+)/issues/([0-9]+)/comments$`)
)

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		f.violation(r, "Authorization %q", r.Header.Get("Authorization"))
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" || r.Header.Get("User-Agent") == "" {
		f.violation(r, "headers Accept=%q X-GitHub-Api-Version=%q User-Agent=%q", r.Header.Get("Accept"),
			r.Header.Get("X-GitHub-Api-Version"), r.Header.Get("User-Agent"))
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "unexpected headers"})
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			f.violation(r, "Content-Type %q", ct)
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			f.violation(r, "body: %v", err)
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
			return
		}
	}
	p := r.URL.Path
	switch {
	case issuesPath.MatchString(p) && r.Method == http.MethodGet:
		f.listIssues(w, r, f.repo(issuesPath.FindStringSubmatch(p)[1]))
	case issuesPath.MatchString(p) && r.Method == http.MethodPost:
		f.createIssue(w, r, f.repo(issuesPath.FindStringSubmatch(p)[1]), body)
	case commentsPath.MatchString(p):
		m := commentsPath.FindStringSubmatch(p)
		issue := f.issue(m[1], m[2])
		if issue == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		switch r.Method {
		case http.MethodGet:
			f.listComments(w, r, issue)
		case http.MethodPost:
			f.createComment(w, r, issue, body)
		default:
			f.violation(r, "method")
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	case issuePath.MatchString(p) && r.Method == http.MethodPatch:
		m := issuePath.FindStringSubmatch(p)
		issue := f.issue(m[1], m[2])
		if issue == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		f.updateIssue(w, r, m[1], issue, body)
	default:
		f.violation(r, "no such endpoint")
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	}
}

func (f *fakeGitHub) violation(r *http.Request, format string, args ...any) {
	f.violations = append(f.violations, fmt.Sprintf("%s %s: %s", r.Method, r.URL.RequestURI(), fmt.Sprintf(format, args...)))
}

func (f *fakeGitHub) repo(name string) *fakeRepo {
	if f.repos[name] == nil {
		f.repos[name] = &fakeRepo{}
	}
	return f.repos[name]
}

func (f *fakeGitHub) issue(repo, number string) *fakeIssue {
	n, _ := strconv.Atoi(number)
	rp := f.repo(repo)
	if n < 1 || n > len(rp.issues) {
		return nil
	}
	return rp.issues[n-1]
}

// answer writes v, or drops the connection unanswered when a drop of the
// request's kind is pending; the change has been made either way.
func (f *fakeGitHub) answer(w http.ResponseWriter, r *http.Request, kind string, code int, v any) {
	f.served[kind]++
	if f.drops[kind] > 0 {
		f.drops[kind]--
		f.dropped[kind]++
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, code, v)
}

func pageOf(r *http.Request) (page, perPage int, ok bool) {
	q := r.URL.Query()
	page, perPage = 1, 30
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, 0, false
		}
		page = n
	}
	if s := q.Get("per_page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return 0, 0, false
		}
		perPage = n
	}
	return page, perPage, true
}

func paginate[T any](items []T, page, perPage int) []T {
	from := min((page-1)*perPage, len(items))
	return items[from:min(from+perPage, len(items))]
}

func (f *fakeGitHub) listIssues(w http.ResponseWriter, r *http.Request, rp *fakeRepo) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	page, perPage, ok := pageOf(r)
	if !ok || (state != "open" && state != "closed" && state != "all") {
		f.violation(r, "query")
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
		return
	}
	var want []string
	if s := q.Get("labels"); s != "" {
		want = strings.Split(s, ",")
	}
	var found []map[string]any
	for _, is := range rp.issues {
		if state != "all" && is.State != state {
			continue
		}
		all := true
		for _, l := range want {
			all = all && slices.Contains(is.Labels, l)
		}
		if all {
			found = append(found, f.issueJSON(r, is))
		}
	}
	// GitHub lists the newest first.
	slices.Reverse(found)
	writeJSON(w, http.StatusOK, nonNil(paginate(found, page, perPage)))
}

func (f *fakeGitHub) createIssue(w http.ResponseWriter, r *http.Request, rp *fakeRepo, body map[string]any) {
	title, _ := body["title"].(string)
	text, _ := body["body"].(string)
	if title == "" {
		f.violation(r, "issue without a title")
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
		return
	}
	is := &fakeIssue{Number: len(rp.issues) + 1, Title: title, Body: text, State: "open"}
	if raw, ok := body["labels"].([]any); ok {
		for _, l := range raw {
			if s, ok := l.(string); ok {
				is.Labels = append(is.Labels, s)
			}
		}
	}
	rp.issues = append(rp.issues, is)
	f.answer(w, r, createIssue, http.StatusCreated, f.issueJSON(r, is))
}

func (f *fakeGitHub) listComments(w http.ResponseWriter, r *http.Request, is *fakeIssue) {
	page, perPage, ok := pageOf(r)
	if !ok {
		f.violation(r, "query")
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
		return
	}
	var list []map[string]any
	for i, c := range is.Comments {
		list = append(list, map[string]any{"id": is.Number*1000 + i + 1, "body": c})
	}
	writeJSON(w, http.StatusOK, nonNil(paginate(list, page, perPage)))
}

func (f *fakeGitHub) createComment(w http.ResponseWriter, r *http.Request, is *fakeIssue, body map[string]any) {
	text, _ := body["body"].(string)
	if text == "" {
		f.violation(r, "comment without a body")
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
		return
	}
	is.Comments = append(is.Comments, text)
	f.answer(w, r, createComment, http.StatusCreated, map[string]any{"id": is.Number*1000 + len(is.Comments), "body": text})
}

func (f *fakeGitHub) updateIssue(w http.ResponseWriter, r *http.Request, repo string, is *fakeIssue, body map[string]any) {
	if s, ok := body["state"]; ok {
		state, _ := s.(string)
		if state != "open" && state != "closed" {
			f.violation(r, "state %v", s)
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
			return
		}
		is.State, is.StateReason = state, ""
		if reason, ok := body["state_reason"].(string); ok {
			if reason != "completed" && reason != "not_planned" && reason != "reopened" {
				f.violation(r, "state_reason %q", reason)
			}
			is.StateReason = reason
		}
	}
	f.answer(w, r, updateIssue, http.StatusOK, f.issueJSON(r, is))
}

func (f *fakeGitHub) issueJSON(r *http.Request, is *fakeIssue) map[string]any {
	repo := strings.TrimPrefix(strings.SplitN(r.URL.Path, "/issues", 2)[0], "/repos/")
	labels := []map[string]string{}
	for _, l := range is.Labels {
		labels = append(labels, map[string]string{"name": l})
	}
	return map[string]any{"id": is.Number, "number": is.Number, "title": is.Title, "body": is.Body, "state": is.State,
		"state_reason": is.StateReason, "labels": labels, "comments": len(is.Comments),
		"url":      fmt.Sprintf("http://%s/repos/%s/issues/%d", r.Host, repo, is.Number),
		"html_url": fmt.Sprintf("https://github.example/%s/issues/%d", repo, is.Number)}
}

// snapshot copies a repository's issues.
func (f *fakeGitHub) snapshot(repo string) []fakeIssue {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeIssue
	for _, is := range f.repo(repo).issues {
		c := *is
		c.Comments = slices.Clone(is.Comments)
		c.Labels = slices.Clone(is.Labels)
		out = append(out, c)
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
