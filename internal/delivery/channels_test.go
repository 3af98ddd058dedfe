package delivery

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
)

// The event owners receive names the fix it judges, or the reason a task
// was dismissed.
func TestEventsCarryTheOwnersWords(t *testing.T) {
	task := &cxv1.ImprovementTask{ObjectMeta: metav1.ObjectMeta{Name: "csat-1", Namespace: "cx", UID: "u1"},
		Spec: cxv1.ImprovementTaskSpec{Metric: "csat", Team: "support",
			Resolution: &cxv1.Resolution{Note: "new refund macro", Attempt: 2}, DismissReason: ""},
		Status: cxv1.ImprovementTaskStatus{Phase: cxv1.PhaseReopened, Attempt: 3}}
	for _, ev := range []loop.Event{loop.EventReopened, loop.EventVerified, loop.EventEscalated} {
		e := eventOf(task, ev)
		if e.Resolution != "new refund macro" || e.ResolvedAttempt != 2 {
			t.Fatalf("%s: resolution %q for attempt %d", ev, e.Resolution, e.ResolvedAttempt)
		}
	}
	if e := eventOf(task, loop.EventOpened); e.Resolution != "" {
		t.Fatalf("an opening carries a resolution: %q", e.Resolution)
	}
	task.Spec.State, task.Spec.DismissReason = cxv1.TaskDismissed, "seasonal dip, not a problem"
	if e := eventOf(task, loop.EventDismissed); e.DismissReason != "seasonal dip, not a problem" {
		t.Fatalf("dismissal reason %q", e.DismissReason)
	}
}

// A reassigned task's event names the team it moved to and the one it
// left, so the new team's tools say who owns the work now.
func TestReassignedEventsNameBothTeams(t *testing.T) {
	task := &cxv1.ImprovementTask{ObjectMeta: metav1.ObjectMeta{Name: "nps-1", Namespace: "cx", UID: "u1"},
		Spec:   cxv1.ImprovementTaskSpec{Metric: "account-nps", Team: "support-operations"},
		Status: cxv1.ImprovementTaskStatus{Phase: cxv1.PhaseOpen, Attempt: 1, Team: "customer-success", PreviousTeam: "support-operations"}}
	e := eventOf(task, loop.EventReassigned)
	if e.Team != "customer-success" || e.PreviousTeam != "support-operations" {
		t.Fatalf("event team %q, previous %q", e.Team, e.PreviousTeam)
	}
	if want := "Reassigned: moved from team support-operations to team customer-success, the owner of metric account-nps now"; e.Summary != want {
		t.Fatalf("summary %q", e.Summary)
	}
	card := task.DeepCopy()
	card.Spec.Metric, card.Spec.Scorecard = "", "account-health"
	if e := eventOf(card, loop.EventReassigned); e.Scorecard != "account-health" || e.Metric != "" ||
		!strings.HasSuffix(e.Summary, "the owner of scorecard account-health now") || !strings.Contains(e.Title(), "scorecard account-health") {
		t.Fatalf("a scorecard's task: %+v, title %q", e, e.Title())
	}
	if e := eventOf(task, loop.EventOpened); e.Team != "customer-success" {
		t.Fatalf("an opened event after the move names team %q", e.Team)
	}
}
