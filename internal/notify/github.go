package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// GitHub files one issue per task: created on Opened, commented on
// Reopened and Escalated (and reopened if closed), commented and closed on
// Verified, Recovered, Dismissed and Cancelled. Before creating, it lists
// the repository's issues carrying the cxloop label and looks for the
// task's marker in their bodies, so a retry after a crash never files a
// second issue; each comment carries an event marker looked up the same
// way before posting.
type GitHub struct {
	// APIURL is https://api.github.com unless set.
	APIURL     string
	Repository string
	Labels     []string
	Token      string
	// Client sends the calls (see NewClient); nil sends nothing.
	Client *http.Client
}

// Label is always added to cxloop's issues; the marker lookup lists by it.
const Label = "cxloop"

type ghIssue struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
	Body    string `json:"body"`
	State   string `json:"state"`
}

type ghComment struct {
	Body string `json:"body"`
}

func (g GitHub) base() string {
	if g.APIURL == "" {
		return "https://api.github.com"
	}
	return strings.TrimRight(g.APIURL, "/")
}

func (g GitHub) header() http.Header {
	return http.Header{
		"Authorization":        {"Bearer " + g.Token},
		"Accept":               {"application/vnd.github+json"},
		"X-Github-Api-Version": {"2022-11-28"},
		"User-Agent":           {"cxloop"},
	}
}

func (g GitHub) call(ctx context.Context, method, path string, body any, into any) Outcome {
	_, data, out := send(ctx, g.Client, method, g.base()+path, body, g.header(), g.Token)
	if out.Succeeded && into != nil {
		if err := json.Unmarshal(data, into); err != nil {
			return clean(Outcome{Message: "decode GitHub answer: " + err.Error()}, g.Token)
		}
	}
	return out
}

// find returns the task's issue, if one was filed.
func (g GitHub) find(ctx context.Context, e Event) (*ghIssue, Outcome) {
	mark := marker(e)
	for page := 1; page <= 10; page++ {
		var issues []ghIssue
		out := g.call(ctx, http.MethodGet, fmt.Sprintf("/repos/%s/issues?state=all&labels=%s&per_page=100&page=%d", g.Repository, Label, page), nil, &issues)
		if !out.Succeeded {
			return nil, out
		}
		for i := range issues {
			if strings.Contains(issues[i].Body, mark) {
				return &issues[i], out
			}
		}
		if len(issues) < 100 {
			break
		}
	}
	return nil, Outcome{Succeeded: true}
}

// Deliver implements Deliverer.
func (g GitHub) Deliver(ctx context.Context, e Event) Outcome {
	issue, out := g.find(ctx, e)
	if !out.Succeeded {
		return out
	}
	if issue == nil {
		labels := append([]string{Label}, g.Labels...)
		body := describe(e) + "\n<!-- " + marker(e) + " -->\n"
		var created ghIssue
		out := g.call(ctx, http.MethodPost, "/repos/"+g.Repository+"/issues",
			map[string]any{"title": e.Title(), "body": body, "labels": labels}, &created)
		if !out.Succeeded {
			return out
		}
		issue = &created
		if e.Kind == Opened {
			out.ExternalRef = created.HTMLURL
			return out
		}
	} else if e.Kind == Opened {
		return Outcome{Succeeded: true, Message: "issue already filed", ExternalRef: issue.HTMLURL}
	}
	if out := g.comment(ctx, e, issue.Number); !out.Succeeded {
		return out
	}
	state := ""
	switch {
	case e.Kind.Closes() && issue.State != "closed":
		state = "closed"
	case !e.Kind.Closes() && issue.State == "closed":
		state = "open"
	}
	if state != "" {
		patch := map[string]any{"state": state}
		if state == "closed" {
			reason := "completed"
			if e.Kind == Dismissed || e.Kind == Cancelled {
				reason = "not_planned"
			}
			patch["state_reason"] = reason
		}
		if out := g.call(ctx, http.MethodPatch, fmt.Sprintf("/repos/%s/issues/%d", g.Repository, issue.Number), patch, nil); !out.Succeeded {
			return out
		}
	}
	return Outcome{Succeeded: true, Message: string(e.Kind) + " noted", ExternalRef: issue.HTMLURL}
}

// comment posts the event's comment unless it is there already.
func (g GitHub) comment(ctx context.Context, e Event, number int) Outcome {
	mark := eventMarker(e)
	var comments []ghComment
	if out := g.call(ctx, http.MethodGet, fmt.Sprintf("/repos/%s/issues/%d/comments?per_page=100", g.Repository, number), nil, &comments); !out.Succeeded {
		return out
	}
	for _, c := range comments {
		if strings.Contains(c.Body, mark) {
			return Outcome{Succeeded: true}
		}
	}
	body := describe(e) + "\n<!-- " + mark + " -->\n"
	return g.call(ctx, http.MethodPost, fmt.Sprintf("/repos/%s/issues/%d/comments", g.Repository, number), map[string]any{"body": body}, nil)
}
