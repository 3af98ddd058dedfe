package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/notify"
)

func TestReassignFollowsTheOwnerWhileOpen(t *testing.T) {
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name              string
		team, owner       string
		open              bool
		wantTeam, wantOld string
		wantMoved         bool
	}{
		{"first look records the team it was opened for", "", "a", true, "a", "", false},
		{"an open task follows a new owner", "", "b", true, "b", "a", true},
		{"a moved task follows the next owner", "b", "c", true, "c", "b", true},
		{"an owner that did not change moves nothing", "b", "b", true, "b", "", false},
		{"a closed task stays with its team", "", "b", false, "a", "", false},
		{"a gone Metric names no owner", "b", "", true, "b", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := cxv1.ImprovementTaskStatus{Team: c.team}
			from, moved := reassign(&st, "a", c.owner, c.open, now)
			if st.Team != c.wantTeam || moved != c.wantMoved || from != c.wantOld || st.PreviousTeam != c.wantOld {
				t.Fatalf("team %q previous %q, moved %v from %q; want team %q, moved %v from %q",
					st.Team, st.PreviousTeam, moved, from, c.wantTeam, c.wantMoved, c.wantOld)
			}
			if moved != (st.ReassignedAt != nil) {
				t.Fatalf("reassignedAt %v for moved=%v", st.ReassignedAt, moved)
			}
		})
	}
}

// webhookSink records the events each team's webhook receives.
type webhookSink struct {
	mu       sync.Mutex
	received map[string][]notify.WebhookPayload // by request path: the team
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p notify.WebhookPayload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.received[strings.TrimPrefix(r.URL.Path, "/")] = append(s.received[strings.TrimPrefix(r.URL.Path, "/")], p)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// kinds lists the event kinds a team received for a task.
func (s *webhookSink) kinds(team, task string) []notify.Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []notify.Kind
	for _, p := range s.received[team] {
		if p.Event.Task == task {
			out = append(out, p.Event.Kind)
		}
	}
	return out
}

// A Metric handed to another team takes its open task along: the task
// records its new team and the one it left, its label follows, an event
// says so, the new team's webhook hears of it, and the counts move from
// one team to the other. A closed task stays with the team that had it.
// A team that does not exist yet still gets the task and counts it once
// it is created.
func TestOpenTasksMoveWithTheirMetricsOwner(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	sink := &webhookSink{received: map[string][]notify.WebhookPayload{}}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	team := func(name string) *cxv1.Team {
		return &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{{Name: "hook", Type: cxv1.ChannelWebhook,
				Webhook: &cxv1.WebhookChannel{URL: srv.URL + "/" + name}}}}}
	}
	support, success := team("support-operations"), team("customer-success")
	metric := validMetric(ns, "account-nps")
	metric.Spec.Owner.Team = support.Name
	for _, o := range []client.Object{support, success, metric} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	newTask := func(name string) *cxv1.ImprovementTask {
		task := validTask(ns)
		task.Name, task.Spec.Team = name, support.Name
		task.Labels = map[string]string{labelTeam: support.Name, "cxloop.dev/metric": metric.Name}
		task.Spec.DefinitionHash = metricspec.Definition(metric).Hash()
		if err := k8sClient.Create(ctx, task); err != nil {
			t.Fatal(err)
		}
		return task
	}
	open, closed := newTask("account-nps-open"), newTask("account-nps-closed")
	taskPhase(t, open, cxv1.PhaseOpen)
	got := taskPhase(t, closed, cxv1.PhaseOpen)
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.State, got.Spec.DismissReason = cxv1.TaskDismissed, "a holiday week, not a problem"
	if err := k8sClient.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	taskPhase(t, closed, cxv1.PhaseDismissed)
	counts(t, support, 1, 1)
	eventually(t, 10*time.Second, "the opening delivered to the first owner", func() (bool, string) {
		k := sink.kinds(support.Name, open.Name)
		return len(k) == 1 && k[0] == notify.Opened, fmt.Sprint(k)
	})

	setOwner(t, metric, success.Name)
	moved := taskTeam(t, open, success.Name)
	if moved.Spec.Team != support.Name || moved.Status.PreviousTeam != support.Name || moved.Status.ReassignedAt == nil ||
		moved.Status.Phase != cxv1.PhaseOpen {
		t.Fatalf("moved task: spec.team %s, status %+v", moved.Spec.Team, moved.Status)
	}
	eventually(t, 10*time.Second, "the label follows the team", func() (bool, string) {
		var list cxv1.ImprovementTaskList
		if err := k8sClient.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{labelTeam: success.Name}); err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 1 && list.Items[0].Name == open.Name, fmt.Sprint(len(list.Items))
	})
	eventually(t, 10*time.Second, "a Reassigned event", func() (bool, string) {
		var evs eventsv1.EventList
		if err := k8sClient.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range evs.Items {
			if e.Regarding.Name == open.Name && e.Reason == "Reassigned" {
				return strings.Contains(e.Note, "from team support-operations to team customer-success"), e.Note
			}
			seen = append(seen, e.Regarding.Name+":"+e.Reason)
		}
		return false, strings.Join(seen, ", ")
	})
	eventually(t, 10*time.Second, "the reassignment delivered to the new team's webhook", func() (bool, string) {
		var cur cxv1.ImprovementTask
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(open), &cur); err != nil {
			return false, err.Error()
		}
		var rec *cxv1.DeliveryRecord
		for i, d := range cur.Status.Deliveries {
			if d.Event == "Reassigned" {
				if d.Channel != "customer-success/hook" {
					t.Fatalf("the reassignment was delivered to %s", d.Channel)
				}
				rec = &cur.Status.Deliveries[i]
			}
		}
		k := sink.kinds(success.Name, open.Name)
		return rec != nil && rec.Succeeded && len(k) == 1 && k[0] == notify.Reassigned,
			fmt.Sprintf("records %+v, new team received %v", cur.Status.Deliveries, k)
	})
	if k := sink.kinds(support.Name, open.Name); len(k) != 1 {
		t.Fatalf("the team the task left received %v", k)
	}
	counts(t, success, 1, 0)
	counts(t, support, 0, 1)
	var indexed cxv1.ImprovementTaskList
	if err := mgrClient.List(ctx, &indexed, client.InNamespace(ns), client.MatchingFields{indexTaskTeam: success.Name}); err != nil ||
		len(indexed.Items) != 1 || indexed.Items[0].Name != open.Name {
		t.Fatalf("the team index lists %d tasks for the new team (%v)", len(indexed.Items), err)
	}

	var kept cxv1.ImprovementTask
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(closed), &kept); err != nil {
		t.Fatal(err)
	}
	if kept.CurrentTeam() != support.Name || kept.Labels[labelTeam] != support.Name || kept.Status.ReassignedAt != nil {
		t.Fatalf("the closed task moved: team %s, label %s, status %+v", kept.CurrentTeam(), kept.Labels[labelTeam], kept.Status)
	}
	for _, d := range kept.Status.Deliveries {
		if d.Event == "Reassigned" {
			t.Fatalf("the closed task was announced as reassigned: %+v", d)
		}
	}

	// A team named before it exists gets the task; nothing is delivered
	// until the team exists, and it counts the task once it does.
	setOwner(t, metric, "billing-operations")
	moved = taskTeam(t, open, "billing-operations")
	if moved.Status.PreviousTeam != success.Name {
		t.Fatalf("previous team %s, want %s", moved.Status.PreviousTeam, success.Name)
	}
	counts(t, success, 0, 0)
	billing := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "billing-operations", Namespace: ns}}
	if err := k8sClient.Create(ctx, billing); err != nil {
		t.Fatal(err)
	}
	counts(t, billing, 1, 0)
	var last cxv1.ImprovementTask
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(open), &last); err != nil {
		t.Fatal(err)
	}
	if last.Labels[labelTeam] != "billing-operations" {
		t.Fatalf("label %s after the second move", last.Labels[labelTeam])
	}
	for _, d := range last.Status.Deliveries {
		if strings.HasPrefix(d.Channel, "billing-operations/") {
			t.Fatalf("a delivery to a team without channels: %+v", d)
		}
	}
}

func setOwner(t *testing.T, m *cxv1.Metric, team string) {
	t.Helper()
	patch := client.MergeFrom(m.DeepCopy())
	m.Spec.Owner.Team = team
	if err := k8sClient.Patch(context.Background(), m, patch); err != nil {
		t.Fatal(err)
	}
}

// taskTeam waits until the task's current team is team and returns it.
func taskTeam(t *testing.T, task *cxv1.ImprovementTask, team string) *cxv1.ImprovementTask {
	t.Helper()
	var got cxv1.ImprovementTask
	eventually(t, 10*time.Second, "task moved to "+team, func() (bool, string) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(task), &got); err != nil {
			return false, err.Error()
		}
		return got.Status.Team == team, fmt.Sprintf("status.team %q", got.Status.Team)
	})
	return &got
}

// counts waits until the team's status counts open and dismissed tasks.
func counts(t *testing.T, team *cxv1.Team, open, dismissed int32) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("team %s counts %d open, %d dismissed", team.Name, open, dismissed), func() (bool, string) {
		var got cxv1.Team
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(team), &got); err != nil {
			return false, err.Error()
		}
		return got.Status.OpenTasks == open && got.Status.DismissedTasks == dismissed, fmt.Sprintf("%+v", got.Status)
	})
}
