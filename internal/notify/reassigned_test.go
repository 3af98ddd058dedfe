package notify

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

func reassigned(from, to string) Event {
	e := event(Reassigned, 1)
	e.Team, e.PreviousTeam = to, from
	return e
}

// A reassignment says where the task came from and who owns it now, and a
// second move within one attempt is a new event, not a repeat of the first.
func TestReassignedEventNamesBothTeams(t *testing.T) {
	text := describe(reassigned("support-operations", "customer-success"))
	for _, want := range []string{"owned by customer-success", "moved from support-operations to customer-success"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the description lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(describe(reassigned("", "customer-success")), "moved from its previous owner to customer-success") {
		t.Fatal("a reassignment without its previous team is not described")
	}
	if strings.Contains(describe(event(Opened, 1)), "Reassigned") {
		t.Fatal("an opening is described as a reassignment")
	}
	first, second := reassigned("a", "b"), reassigned("b", "c")
	if first.Key() == second.Key() {
		t.Fatal("two moves within one attempt share an idempotency key")
	}
	if first.Key() != reassigned("x", "b").Key() {
		t.Fatal("the key of a move depends on more than the task, attempt and new team")
	}
	if k := event(Opened, 1).Key(); k != (Event{Kind: Opened, TaskUID: "uid-1", Attempt: 1, Team: "other"}).Key() {
		t.Fatalf("an opening's key depends on its team: %s", k)
	}
	if first.taskKey() != event(Verified, 3).taskKey() {
		t.Fatal("a reassignment finds another Jira issue than the task's")
	}
}

// On GitHub a reassignment comments on the task's issue and leaves it open;
// delivered twice it comments once.
func TestGitHubNotesAReassignmentAndKeepsTheIssueOpen(t *testing.T) {
	f := &fakeGitHub{t: t, comments: map[int][]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	g := GitHub{APIURL: srv.URL, Repository: "example/support", Token: "gh-token", Client: loopbackClient()}
	ctx := context.Background()
	if out := g.Deliver(ctx, event(Opened, 1)); !out.Succeeded {
		t.Fatal(out)
	}
	for i := 0; i < 2; i++ {
		if out := g.Deliver(ctx, reassigned("support-operations", "customer-success")); !out.Succeeded {
			t.Fatal(out)
		}
	}
	if len(f.issues) != 1 || f.issues[0]["state"] != "open" || len(f.comments[1]) != 1 {
		t.Fatalf("issues %v, comments %v", f.issues, f.comments)
	}
	if !strings.Contains(f.comments[1][0], "moved from support-operations to customer-success") {
		t.Fatalf("the comment does not say where the task went: %s", f.comments[1][0])
	}
}
