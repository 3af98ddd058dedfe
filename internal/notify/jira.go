package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Jira files one issue per task through Jira Cloud's REST API v3: created
// on Opened, commented on every later event, and moved through the done
// transition on Verified, Recovered, Dismissed and Cancelled. Each issue
// carries the label cxloop-<task key>; before creating, a JQL search on
// that label finds an issue filed by an attempt that crashed before it
// was recorded, so a retry never files a second one. Comments carry an
// event marker looked up before posting.
type Jira struct {
	URL            string
	Project        string
	IssueType      string
	DoneTransition string
	User, Token    string
	// Client sends the calls (see NewClient); nil sends nothing.
	Client *http.Client
}

func (j Jira) header() http.Header {
	return http.Header{"Authorization": {"Basic " + j.basic()}, "Accept": {"application/json"}, "User-Agent": {"cxloop"}}
}

func (j Jira) basic() string {
	return base64.StdEncoding.EncodeToString([]byte(j.User + ":" + j.Token))
}

// secrets are what an outcome must not show, the encoded header included,
// which a server may echo.
func (j Jira) secrets() []string { return []string{j.User, j.Token, j.basic()} }

func (j Jira) call(ctx context.Context, method, path string, body, into any) Outcome {
	_, data, out := send(ctx, j.Client, method, strings.TrimRight(j.URL, "/")+path, body, j.header(), j.secrets()...)
	if out.Succeeded && into != nil && len(data) > 0 {
		if err := json.Unmarshal(data, into); err != nil {
			return clean(Outcome{Message: "decode Jira answer: " + err.Error()}, j.secrets()...)
		}
	}
	return out
}

// taskLabel is the label that finds a task's issue.
func taskLabel(e Event) string {
	return "cxloop-" + e.taskKey()
}

// taskKey identifies the task across its events: the key of its first
// event, whatever the event at hand.
func (e Event) taskKey() string {
	first := e
	first.Kind, first.Attempt = Opened, 1
	return first.Key()[:20]
}

// adf wraps text in Atlassian Document Format, one paragraph per line.
func adf(text string) map[string]any {
	var content []any
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		p := map[string]any{"type": "paragraph"}
		if line != "" {
			p["content"] = []any{map[string]any{"type": "text", "text": line}}
		}
		content = append(content, p)
	}
	return map[string]any{"type": "doc", "version": 1, "content": content}
}

// Deliver implements Deliverer.
func (j Jira) Deliver(ctx context.Context, e Event) Outcome {
	var found struct {
		Issues []struct {
			Key string `json:"key"`
		} `json:"issues"`
	}
	jql := fmt.Sprintf(`project = %q AND labels = %q`, j.Project, taskLabel(e))
	if out := j.call(ctx, http.MethodGet, "/rest/api/3/search/jql?fields=summary&jql="+url.QueryEscape(jql), nil, &found); !out.Succeeded {
		return out
	}
	key := ""
	if len(found.Issues) > 0 {
		key = found.Issues[0].Key
	}
	browse := func(k string) string { return strings.TrimRight(j.URL, "/") + "/browse/" + k }
	if key == "" {
		issueType := j.IssueType
		if issueType == "" {
			issueType = "Task"
		}
		var created struct {
			Key string `json:"key"`
		}
		out := j.call(ctx, http.MethodPost, "/rest/api/3/issue", map[string]any{"fields": map[string]any{
			"project":     map[string]any{"key": j.Project},
			"summary":     e.Title(),
			"issuetype":   map[string]any{"name": issueType},
			"labels":      []string{Label, taskLabel(e)},
			"description": adf(describe(e)),
		}}, &created)
		if !out.Succeeded {
			return out
		}
		key = created.Key
		if e.Kind == Opened {
			out.ExternalRef = browse(key)
			return out
		}
	} else if e.Kind == Opened {
		return Outcome{Succeeded: true, Message: "issue already filed", ExternalRef: browse(key)}
	}
	if out := j.comment(ctx, e, key); !out.Succeeded {
		return out
	}
	if e.Kind.Closes() {
		if out := j.transition(ctx, key); !out.Succeeded {
			return out
		}
	}
	return Outcome{Succeeded: true, Message: string(e.Kind) + " noted", ExternalRef: browse(key)}
}

func (j Jira) comment(ctx context.Context, e Event, key string) Outcome {
	mark := eventMarker(e)
	var existing struct {
		Comments []struct {
			Body any `json:"body"`
		} `json:"comments"`
	}
	if out := j.call(ctx, http.MethodGet, "/rest/api/3/issue/"+key+"/comment?maxResults=100", nil, &existing); !out.Succeeded {
		return out
	}
	for _, c := range existing.Comments {
		if strings.Contains(fmt.Sprint(c.Body), mark) {
			return Outcome{Succeeded: true}
		}
	}
	return j.call(ctx, http.MethodPost, "/rest/api/3/issue/"+key+"/comment", map[string]any{"body": adf(describe(e) + "\n" + mark)}, nil)
}

func (j Jira) transition(ctx context.Context, key string) Outcome {
	var ts struct {
		Transitions []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"transitions"`
	}
	if out := j.call(ctx, http.MethodGet, "/rest/api/3/issue/"+key+"/transitions", nil, &ts); !out.Succeeded {
		return out
	}
	done := j.DoneTransition
	if done == "" {
		done = "Done"
	}
	for _, t := range ts.Transitions {
		if strings.EqualFold(t.Name, done) {
			return j.call(ctx, http.MethodPost, "/rest/api/3/issue/"+key+"/transitions", map[string]any{"transition": map[string]any{"id": t.ID}}, nil)
		}
	}
	// Already done: the issue offers no transition of that name.
	return Outcome{Succeeded: true, Message: "no " + done + " transition offered; issue left as it is"}
}
