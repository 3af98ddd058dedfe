package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/notify"
)

// The scenario plays two of the demo warehouse's scripted episodes:
// support CSAT drops at T0+5d and is fixed at T0+12d, when its owner
// resolves the task (Open, InProgress, Verifying, Verified); integration
// effort rises at T0+5d and stays high whatever its owner does (Open,
// InProgress, Verifying, Reopened, Verifying, Reopened and escalated).
const (
	csatName = "support-csat"
	cesName  = "journey-ces"
	// csatFixedDay is when the script restores support CSAT; its owner
	// resolves the task that day.
	csatFixedDay = 12
	// maxDays bounds the scenario.
	maxDays = 45
)

const githubToken = "ghp-e2e-token"

// play is one run of the scenario in its own namespace, with its own
// clock and fleet of managers, filing issues in its own repositories of
// the shared GitHub.
type play struct {
	name  string
	ns    string
	clock *clock.Manual
	fleet *fleet
	gh    *fakeGitHub
	repo  string
	// reference, when set, is the run without kills that every step
	// must reproduce.
	reference *play
	steps     []snapshot
	pokes     int
}

// snapshot is what a step leaves behind: what each Metric measured, each
// task's state and deliveries, and the issues filed.
type snapshot struct {
	Step    string
	Metrics []metricView
	Tasks   []taskView
	Issues  []issueView
}

type metricView struct {
	Name     string
	State    cxv1.WindowState
	Value    *float64
	Samples  int64
	FedUntil string
	Episodes []string
}

type taskView struct {
	Metric, Segment string
	EpisodeStart    string
	OwnerState      cxv1.TaskState
	Phase           cxv1.TaskPhase
	Attempt         int32
	Escalated       bool
	EscalatedTo     string
	ResolvedAt      string
	Reason          string
	Verification    *cxv1.Verification
	Measurements    []string
	// Delivered lists the events each channel accepted, in order.
	Delivered []string
}

type issueView struct {
	Repo, Title, State, StateReason string
	Labels                          []string
	// Events are the comments' event markers, without the task's UID.
	Events []string
}

func newPlay(t *testing.T, name string, gh *fakeGitHub, server *httptest.Server, every []int) *play {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-"}}
	if err := k8sClient.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	p := &play{name: name, ns: ns.Name, clock: clock.NewManual(demodata.DefaultT0), gh: gh, repo: "example/" + name}
	p.fleet = newFleet(p.ns, p.clock, every)
	channel := func(repo string) []cxv1.DeliveryChannel {
		return []cxv1.DeliveryChannel{{Name: "issues", Type: cxv1.ChannelGitHub, GitHub: &cxv1.GitHubChannel{
			Repository: repo, APIURL: server.URL, Labels: []string{"customer-experience"},
			Token: cxv1.SecretKeyReference{Name: "github", Key: "token"}}}}
	}
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: p.ns, Labels: map[string]string{cxv1.SecretLabel: "true"}}, Data: map[string][]byte{"token": []byte(githubToken)}},
		&cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: p.ns},
			Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "warehouse.db"}}},
		&cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "support-operations", Namespace: p.ns},
			Spec: cxv1.TeamSpec{Channels: channel(p.repo)}},
		&cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "enablement", Namespace: p.ns},
			Spec: cxv1.TeamSpec{EscalationTeam: "cx-leadership", Channels: channel(p.repo)}},
		&cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "cx-leadership", Namespace: p.ns},
			Spec: cxv1.TeamSpec{Channels: channel(p.repo + "-leadership")}},
		csatMetric(p.ns), cesMetric(p.ns),
	}
	for _, o := range objs {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func csatMetric(ns string) *cxv1.Metric {
	target, warning := 80.0, 85.0
	return &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: csatName, Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "support-operations"}, Source: &cxv1.LocalObjectReference{Name: "warehouse"},
		Formula: cxv1.FormulaCSAT,
		Query: &cxv1.MetricQuery{Table: "survey_responses",
			Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at", InteractionTime: "interaction_at"},
			Filters: []cxv1.QueryFilter{{Column: "survey", Operator: "Equals", Values: []string{"csat"}}}},
		Objective:   cxv1.Objective{Target: &target, WarningAt: &warning, MinSamples: 50},
		Improvement: &cxv1.ImprovementPolicy{MinFreshSamples: 50, VerifyWindow: "336h"},
	}}
}

func cesMetric(ns string) *cxv1.Metric {
	shift := 0.3
	return &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: cesName, Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "enablement"}, Source: &cxv1.LocalObjectReference{Name: "warehouse"},
		Formula: cxv1.FormulaCES, Scale: &cxv1.ResponseScale{Min: 1, Max: 7}, SegmentBy: []string{"stage"},
		Query: &cxv1.MetricQuery{Table: "survey_responses",
			Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at", InteractionTime: "interaction_at"},
			Filters: []cxv1.QueryFilter{{Column: "survey", Operator: "Equals", Values: []string{"ces"}}}},
		Objective:   cxv1.Objective{Relative: &cxv1.RelativeObjective{BaselineWindow: "720h", MaxChange: 0.3}, MinShift: &shift, MinSamples: 30},
		Improvement: &cxv1.ImprovementPolicy{MinFreshSamples: 30, VerifyWindow: "240h", MaxAttempts: 2},
	}}
}

// day plays one day: the Metrics are evaluated at midnight, and at noon
// the owners act on their tasks. It reports whether the story is over.
func (p *play) day(t *testing.T, d int) bool {
	t.Helper()
	midnight := demodata.DefaultT0.Add(time.Duration(d) * demodata.Day)
	p.step(t, fmt.Sprintf("day %d: evaluate", d), func() {
		p.clock.Set(midnight)
		stamp := midnight.Format(time.RFC3339)
		for _, name := range []string{csatName, cesName} {
			obj := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.ns,
				Annotations: map[string]string{cxv1.ReconcileRequestAnnotation: stamp}}}
			if err := k8sClient.Patch(context.Background(), obj, client.MergeFrom(&cxv1.Metric{})); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 30*time.Second, p.name+": metrics evaluated at "+stamp, func() (bool, string) {
			for _, name := range []string{csatName, cesName} {
				var m cxv1.Metric
				if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: p.ns, Name: name}, &m); err != nil {
					return false, err.Error()
				}
				if m.Status.LastHandledReconcileAt != stamp {
					return false, name + " handled " + m.Status.LastHandledReconcileAt
				}
			}
			return true, ""
		})
	})
	over := true
	p.step(t, fmt.Sprintf("day %d: owners act", d), func() {
		p.clock.Set(midnight.Add(12 * time.Hour))
		over = p.ownersAct(t, d)
	})
	return over
}

// ownersAct plays the owners: a new task is taken InProgress the next
// noon; the CSAT fix is reported on the day the script restores CSAT, the
// effort fixes as soon as work started or the task was reopened. It
// reports whether both stories are over: CSAT's task closed and effort's
// escalated or closed.
func (p *play) ownersAct(t *testing.T, d int) bool {
	t.Helper()
	ctx := context.Background()
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(ctx, &tasks, client.InNamespace(p.ns)); err != nil {
		t.Fatal(err)
	}
	done := map[string]bool{}
	for i := range tasks.Items {
		task := &tasks.Items[i]
		st := task.Status
		escalated := meta.IsStatusConditionTrue(st.Conditions, cxv1.ConditionEscalated)
		done[task.Spec.Metric] = final(st.Phase) || escalated
		patch := client.MergeFrom(task.DeepCopy())
		switch {
		case st.Phase == cxv1.PhaseOpen && task.Spec.State != cxv1.TaskInProgress:
			task.Spec.State = cxv1.TaskInProgress
		case (st.Phase == cxv1.PhaseInProgress && (task.Spec.Metric != csatName || d >= csatFixedDay)) ||
			(st.Phase == cxv1.PhaseReopened && !escalated):
			task.Spec.State = cxv1.TaskResolved
			task.Spec.Resolution = &cxv1.Resolution{Attempt: st.Attempt,
				Note: fmt.Sprintf("%s: fix number %d is in", task.Spec.Team, st.Attempt)}
		default:
			continue
		}
		if err := k8sClient.Patch(ctx, task, patch); err != nil {
			t.Fatal(err)
		}
	}
	return done[csatName] && done[cesName]
}

// step performs an action, waits until the managers have settled, and
// keeps (reference) or compares (crash run) the snapshot it left.
func (p *play) step(t *testing.T, name string, action func()) {
	t.Helper()
	action()
	var want *snapshot
	if p.reference != nil {
		i := len(p.steps)
		if i >= len(p.reference.steps) {
			t.Fatalf("%s: step %q has no reference", p.name, name)
		}
		want = &p.reference.steps[i]
		if want.Step != name {
			t.Fatalf("%s: step %q where the reference took %q", p.name, name, want.Step)
		}
	}
	got := p.settle(t, name, want)
	p.steps = append(p.steps, got)
}

// settle waits until no delivery is outstanding, the running manager has
// been quiet for a while and, in a crash run, the snapshot equals the
// reference's. A delivery whose try failed is due again after its
// backoff: the clock moves on to it (seconds to minutes, never across a
// day's boundary, so no window changes) and the task is poked.
func (p *play) settle(t *testing.T, step string, want *snapshot) snapshot {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last snapshot
	for {
		outstanding := p.advanceDeliveries(t)
		last = p.snapshot(t, step)
		if !outstanding && p.caughtUp(t) && p.fleet.quiet(400*time.Millisecond) && (want == nil || reflect.DeepEqual(&last, want)) {
			p.checkInvariants(t, step)
			return last
		}
		if time.Now().After(deadline) {
			p.fleet.mu.Lock()
			state := fmt.Sprintf("deliveries outstanding %v, a manager ready %v, %d managers, failures %v, last kills %v, writes %v, latest writes %v",
				outstanding, !p.fleet.ready.IsZero(), p.fleet.incarnations, p.fleet.failures, p.fleet.kills[max(0, len(p.fleet.kills)-5):], p.fleet.seen, p.fleet.recent)
			p.fleet.mu.Unlock()
			if want != nil {
				t.Fatalf("%s, %s: never reached the reference (%s):\n%s", p.name, step, state, diff(want, &last))
			}
			t.Fatalf("%s, %s: never settled (%s): %+v", p.name, step, state, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// caughtUp reports whether the operator has observed everything the
// scenario did: every task's latest spec (an owner's action) and every
// Metric's latest spec and evaluation request. Quiet alone is not enough:
// a reconcile may not have started yet when no write has come for a while.
func (p *play) caughtUp(t *testing.T) bool {
	t.Helper()
	ctx := context.Background()
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(ctx, &tasks, client.InNamespace(p.ns)); err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks.Items {
		if task.Status.ObservedGeneration != task.Generation {
			return false
		}
	}
	var metrics cxv1.MetricList
	if err := k8sClient.List(ctx, &metrics, client.InNamespace(p.ns)); err != nil {
		t.Fatal(err)
	}
	for _, m := range metrics.Items {
		if m.Status.ObservedGeneration != m.Generation ||
			m.Status.LastHandledReconcileAt != m.Annotations[cxv1.ReconcileRequestAnnotation] {
			return false
		}
	}
	return true
}

// advanceDeliveries moves the clock to the next due retry of a failed or
// interrupted delivery and pokes its task; it reports whether any
// delivery is still outstanding.
func (p *play) advanceDeliveries(t *testing.T) bool {
	t.Helper()
	ctx := context.Background()
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(ctx, &tasks, client.InNamespace(p.ns)); err != nil {
		t.Fatal(err)
	}
	outstanding := false
	for i := range tasks.Items {
		task := &tasks.Items[i]
		for _, d := range latestDeliveries(task) {
			if d.Succeeded || !d.Retryable || d.Tries >= notify.MaxTries {
				continue
			}
			outstanding = true
			if d.Tries > 0 {
				// RetryAfter's jitter adds at most a fifth.
				due := d.Time.Add(retryBound(int(d.Tries)-1) + time.Second)
				if p.clock.Now().Before(due) {
					p.clock.Set(due)
				}
			}
			if p.fleet.quiet(300 * time.Millisecond) {
				p.poke(t, task)
			}
		}
	}
	return outstanding
}

// retryBound is the longest notify.RetryAfter(failures) can be.
func retryBound(failures int) time.Duration {
	d := 10 * time.Second << min(failures, 20)
	d = min(d, 30*time.Minute)
	return d + d/5
}

func (p *play) poke(t *testing.T, task *cxv1.ImprovementTask) {
	t.Helper()
	p.pokes++
	obj := &cxv1.ImprovementTask{ObjectMeta: metav1.ObjectMeta{Name: task.Name, Namespace: task.Namespace,
		Annotations: map[string]string{"e2e.cxloop.dev/poke": fmt.Sprint(p.pokes)}}}
	if err := k8sClient.Patch(context.Background(), obj, client.MergeFrom(&cxv1.ImprovementTask{})); err != nil {
		t.Fatal(err)
	}
}
