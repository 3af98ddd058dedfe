package controllers

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/testutil"
)

// healthStart is the first day of the account data: a boundary of the
// 72h windows the scorecard below is judged on.
var healthStart = engine.Align(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 72*time.Hour, nil)

func healthDay(d int) time.Time { return healthStart.Add(time.Duration(d) * 24 * time.Hour) }

// writeHealth creates the account-health warehouse db under testDataRoot
// (testutil.WriteHealth): 70 is a healthy score, the objective is 60.
func writeHealth(t *testing.T, db string, days int, score func(account, day int) float64) {
	testutil.WriteHealth(t, filepath.Join(testDataRoot, db), healthStart, days, score)
}

// healthScorecard creates, over db, the DataSource, the owning Team, the
// two member Metrics (suspended: only the scorecard decides here) and the
// account-health Scorecard: NPS from −100 to 30 and first-contact
// resolution from 0 to 80 %, objective 60 on 72h windows, with on-time
// shipment as a driver.
func healthScorecard(t *testing.T, ns, db string) *cxv1.Scorecard {
	t.Helper()
	npsTarget, fcrTarget := 30.0, 80.0
	member := func(name string, f cxv1.Formula, target float64, q cxv1.MetricQuery) *cxv1.Metric {
		return &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: cxv1.MetricSpec{
			Owner: cxv1.MetricOwner{Team: "customer-success"}, Source: &cxv1.LocalObjectReference{Name: "accounts"},
			Formula: f, Window: "72h", Interval: "24h", Query: &q, Suspend: true,
			Objective: cxv1.Objective{Target: &target, MinSamples: 30}}}
	}
	sc := &cxv1.Scorecard{ObjectMeta: metav1.ObjectMeta{Name: "account-health", Namespace: ns}, Spec: cxv1.ScorecardSpec{
		Owner: cxv1.ScorecardOwner{Team: "customer-success"}, Key: "account",
		Members: []cxv1.ScorecardMember{{Name: "nps", Metric: "account-nps", KeyColumn: "account"},
			{Name: "fcr", Metric: "first-contact-resolution", KeyColumn: "account"}},
		Drivers:     []cxv1.DriverMetric{{Metric: "on-time-shipment", KeyColumn: "account"}},
		Objective:   cxv1.ScorecardObjective{Target: 60, Window: "72h"},
		Interval:    "24h",
		Improvement: &cxv1.ImprovementPolicy{VerifyWindow: "240h", MinFreshSamples: 30}}}
	objects := []client.Object{
		&cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "accounts", Namespace: ns},
			Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: db}}},
		&cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "customer-success", Namespace: ns}},
		member("account-nps", cxv1.FormulaNPS, npsTarget, cxv1.MetricQuery{Table: "responses",
			Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at"}}),
		member("first-contact-resolution", cxv1.FormulaRate, fcrTarget, cxv1.MetricQuery{Table: "tickets",
			Columns: &cxv1.QueryColumns{Value: "first_contact", Time: "resolved_at"}}),
		member("on-time-shipment", cxv1.FormulaRate, 70, cxv1.MetricQuery{Table: "deliveries",
			Columns: &cxv1.QueryColumns{Value: "on_time", Time: "shipped_at"}}),
	}
	for _, o := range objects {
		if err := k8sClient.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	return sc
}

// scoreAt moves the clock to now and waits until the Scorecard has been
// scored there.
func scoreAt(t *testing.T, sc *cxv1.Scorecard, now time.Time) *cxv1.Scorecard {
	t.Helper()
	testClock.Set(now)
	stamp := now.Format(time.RFC3339)
	obj := &cxv1.Scorecard{ObjectMeta: metav1.ObjectMeta{Name: sc.Name, Namespace: sc.Namespace,
		Annotations: map[string]string{cxv1.ReconcileRequestAnnotation: stamp}}}
	if err := k8sClient.Patch(context.Background(), obj, client.MergeFrom(&cxv1.Scorecard{})); err != nil {
		t.Fatal(err)
	}
	var got cxv1.Scorecard
	eventually(t, 20*time.Second, "scored at "+stamp, func() (bool, string) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(sc), &got); err != nil {
			return false, err.Error()
		}
		return got.Status.LastHandledReconcileAt == stamp, fmt.Sprintf("conditions=%v", got.Status.Conditions)
	})
	return &got
}

// scorecardTasks lists the tasks a Scorecard opened.
func scorecardTasks(t *testing.T, sc *cxv1.Scorecard) []cxv1.ImprovementTask {
	t.Helper()
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(context.Background(), &tasks, client.InNamespace(sc.Namespace),
		client.MatchingLabels{metricspec.LabelScorecard: sc.Name}); err != nil {
		t.Fatal(err)
	}
	return tasks.Items
}

// untilScorecardTaskCloses scores day by day from first to last and
// returns the task once it leaves Verifying.
func untilScorecardTaskCloses(t *testing.T, sc *cxv1.Scorecard, task *cxv1.ImprovementTask, first, last int) (*cxv1.ImprovementTask, int) {
	t.Helper()
	return untilClosedBy(t, func(day int) { scoreAt(t, sc, healthDay(day)) }, task, first, last, cxv1.PhaseVerifying)
}

// Healthy accounts score 62 to 81; two fall to 15 on day 9, and the
// window [9, 12) closes on day 12. acct-01 gets a task naming the
// Scorecard as its origin, for the Scorecard's team, with the window's
// score as its evidence and on-time shipment, the driver planted in the
// data, with acct-01's own value beside its target.
// acct-02 has a task open on its NPS member already, so the Scorecard
// holds its own back (MemberTaskOpen): the member's owner acts first.
// The owner of acct-01's task resolves it on day 12 and the account is
// back at 70 afterwards: the task is verified on the account's fresh
// scores.
func TestScorecardOpensATaskForAnAccountAndVerifiesTheFix(t *testing.T) {
	ns := newNamespace(t)
	writeHealth(t, "health-fixed.db", 24, func(a, d int) float64 {
		if (a == 1 && d >= 9 && d < 12) || (a == 2 && d >= 9) {
			return 15
		}
		return float64(62 + a)
	})
	sc := healthScorecard(t, ns, "health-fixed.db")
	testClock.Set(healthDay(3))
	if err := k8sClient.Create(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	var nps cxv1.Metric
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "account-nps"}, &nps); err != nil {
		t.Fatal(err)
	}
	busy := validTask(ns)
	busy.Name, busy.Spec.Metric, busy.Spec.Segment = "nps-acct-02", nps.Name, "account=acct-02"
	busy.Spec.SegmentValues = map[string]string{"account": "acct-02"}
	busy.Spec.DefinitionHash = metricspec.Definition(&nps).Hash()
	if err := k8sClient.Create(context.Background(), busy); err != nil {
		t.Fatal(err)
	}
	for day := 3; day < 12; day++ {
		if got := scoreAt(t, sc, healthDay(day)); len(scorecardTasks(t, sc)) != 0 {
			t.Fatalf("day %d: a task before any account dropped (episodes %+v)", day, got.Status.Detector)
		}
	}
	got := scoreAt(t, sc, healthDay(12))
	var tasks []cxv1.ImprovementTask
	eventually(t, 10*time.Second, "the scorecard's task", func() (bool, string) {
		tasks = scorecardTasks(t, sc)
		return len(tasks) == 1, fmt.Sprintf("%d tasks, status %+v", len(tasks), got.Status.Detector)
	})
	task := &tasks[0]
	if task.Spec.Scorecard != sc.Name || task.Spec.Metric != "" || task.Spec.SegmentValues["account"] != "acct-01" ||
		task.Spec.Team != "customer-success" || !task.Spec.EpisodeStart.Time.Equal(healthDay(9)) {
		t.Fatalf("task %+v, want the scorecard's, for acct-01's episode from %s", task.Spec, healthDay(9))
	}
	if ev := task.Spec.Evidence; ev == nil || ev.ObservedValue == nil || *ev.ObservedValue > 30 || task.Spec.Baseline == nil {
		t.Fatalf("evidence %+v, want the window's score of about 15 with its interval", task.Spec.Evidence)
	}
	if p := taskNow(t, busy).Status.Phase; loop.Phase(p).Final() {
		t.Fatalf("the member's task is %s: the test needs it open", p)
	}
	if h := got.Status.HeldBack; len(h) != 1 || h[0].Segment != "account=acct-02" || h[0].Reason != string(loop.HoldMemberTaskOpen) {
		t.Fatalf("held back %+v, want acct-02 for its member's open task", h)
	}
	if ds := task.Spec.Drivers; len(ds) != 1 || ds[0].Metric != "on-time-shipment" || ds[0].Segment != "account=acct-01" ||
		ds[0].Value == nil || *ds[0].Value > 55 || !ds[0].MissesTarget || ds[0].Spearman <= 0 {
		t.Fatalf("task drivers %+v, want on-time shipment at acct-01's own low value", ds)
	}
	if d := got.Status.Drivers; d == nil || len(d.Associations) != 1 || !d.Associations[0].Supported || d.Associations[0].Segments != 20 {
		t.Fatalf("scorecard drivers %+v, want on-time shipment supported across the 20 accounts", d)
	}
	resolveTask(t, task, "executive sponsor call and a support plan")
	done, day := untilScorecardTaskCloses(t, sc, task, 13, 22)
	if done.Status.Phase != cxv1.PhaseVerified {
		t.Fatalf("day %d: task %s (%s), want Verified", day, done.Status.Phase, done.Status.Message)
	}
	if v := done.Status.Verification; v == nil || v.Improvement < 30 || v.Samples < 30 || len(done.Status.Measurements) == 0 {
		t.Fatalf("verification %+v, want an improvement of about 55 points over the score that opened the task", v)
	}
}

// An account falls to 15 on day 9 and stays there after the owner's
// resolution: the fix changed nothing, and the task is reopened, never
// verified.
func TestScorecardTaskFixThatChangesNothingIsReopened(t *testing.T) {
	ns := newNamespace(t)
	writeHealth(t, "health-unchanged.db", 24, func(a, d int) float64 {
		if a == 1 && d >= 9 {
			return 15
		}
		return 70
	})
	sc := healthScorecard(t, ns, "health-unchanged.db")
	testClock.Set(healthDay(3))
	if err := k8sClient.Create(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	for day := 3; day <= 12; day++ {
		scoreAt(t, sc, healthDay(day))
	}
	var tasks []cxv1.ImprovementTask
	eventually(t, 10*time.Second, "the scorecard's task", func() (bool, string) {
		tasks = scorecardTasks(t, sc)
		return len(tasks) == 1, fmt.Sprintf("%d tasks", len(tasks))
	})
	resolveTask(t, &tasks[0], "sent a satisfaction survey")
	done, day := untilScorecardTaskCloses(t, sc, &tasks[0], 13, 22)
	if done.Status.Phase != cxv1.PhaseReopened || done.Status.Attempt != 2 {
		t.Fatalf("day %d: task %s attempt %d (%s), want Reopened for attempt 2", day, done.Status.Phase, done.Status.Attempt, done.Status.Message)
	}
}

// Over time as across accounts: every account's score swings with the
// season (±15 points over 36 days) and on-time shipment with it. At the
// first scoring the Scorecard calibrates on the twelve windows before, and
// the driver's association is measured over those windows too, by their
// median account score: a lagged correlation over at least ten windows,
// beside the Spearman across accounts.
func TestScorecardDriversAreMeasuredOverItsWindows(t *testing.T) {
	ns := newNamespace(t)
	writeHealth(t, "health-seasons.db", 42, func(a, d int) float64 {
		return float64(55+a) + 15*math.Sin(2*math.Pi*float64(d)/36)
	})
	sc := healthScorecard(t, ns, "health-seasons.db")
	testClock.Set(healthDay(39))
	if err := k8sClient.Create(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	got := scoreAt(t, sc, healthDay(39))
	if det := got.Status.Detector; det == nil || len(det.Medians) < 10 {
		t.Fatalf("detector %+v, want at least ten windows' medians", got.Status.Detector)
	}
	d := got.Status.Drivers
	if d == nil || len(d.Associations) != 1 {
		t.Fatalf("drivers %+v", d)
	}
	a := d.Associations[0]
	if a.LagIntervals < 10 || a.LagCorrelation == nil || *a.LagCorrelation < 0.5 || a.Lag != 0 || !a.Supported {
		t.Fatalf("on-time shipment: lag %d over %d windows, correlation %v, supported %v; want a strong correlation at lag 0 over at least ten windows",
			a.Lag, a.LagIntervals, deref(a.LagCorrelation), a.Supported)
	}
}

func deref(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}
