package controllers

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// revenueAccounts is how many accounts report a period each day: enough
// that a three-day window's NRR has a standard error of about 0.003.
const revenueAccounts = 250

// revenueStart is the first day of revenue data: a boundary of the 72h
// tumbling windows the NRR metrics below use.
var revenueStart = engine.Align(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 72*time.Hour, nil)

// revenueDay is midnight of day d of the revenue data.
func revenueDay(d int) time.Time { return revenueStart.Add(time.Duration(d) * 24 * time.Hour) }

// writeRevenue creates the SQLite file db under testDataRoot with one row
// per account and day: the account's starting recurring revenue (500 to
// 1,500) and what it retained, whose ratio is level(day) with per-account
// noise of 0.08 (expansions and contractions), from a fixed seed.
func writeRevenue(t *testing.T, db string, days int, level func(day int) float64) {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(testDataRoot, db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(`CREATE TABLE periods (period_end TIMESTAMP, account TEXT, retained REAL, starting REAL)`); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin()
	if err != nil {
		t.Fatal(err)
	}
	insert, err := tx.Prepare(`INSERT INTO periods VALUES (?, ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, uint64(len(db))))
	for d := 0; d < days; d++ {
		at := revenueDay(d).Add(12 * time.Hour).Format("2006-01-02 15:04:05")
		for a := 0; a < revenueAccounts; a++ {
			starting := 500 + 1000*rng.Float64()
			retained := starting * (level(d) + 0.08*rng.NormFloat64())
			if _, err := insert.Exec(at, fmt.Sprintf("acct-%03d", a), retained, starting); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// revenueSource is the SQLite DataSource "revenue" over db.
func revenueSource(ns, db string) *cxv1.DataSource {
	return &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "revenue", Namespace: ns},
		Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: db}}}
}

// nrrSpec is net revenue retention over the DataSource "revenue" with
// target 1.0 and δ 0.05: tasks open from 72h tumbling windows whose NRR
// lies significantly below 0.975.
func nrrSpec(ns, verifyWindow string) *cxv1.Metric {
	target, shift := 1.0, 0.05
	return &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "nrr", Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "customer-success"}, Source: &cxv1.LocalObjectReference{Name: "revenue"},
		Formula: cxv1.FormulaRatio, Window: "72h", Interval: "24h",
		Query:       &cxv1.MetricQuery{Table: "periods", Columns: &cxv1.QueryColumns{Time: "period_end", Numerator: "retained", Denominator: "starting"}},
		Objective:   cxv1.Objective{Target: &target, MinShift: &shift, MinSamples: 30},
		Improvement: &cxv1.ImprovementPolicy{MinFreshSamples: 100, VerifyWindow: verifyWindow}}}
}

// nrrMetric creates the DataSource over db, the owning Team and the NRR
// metric on it.
func nrrMetric(t *testing.T, ns, db string, verifyWindow string) *cxv1.Metric {
	t.Helper()
	m := nrrSpec(ns, verifyWindow)
	team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: m.Spec.Owner.Team, Namespace: ns}}
	for _, o := range []client.Object{revenueSource(ns, db), team, m} {
		if err := k8sClient.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// nrrTaskOpens evaluates day by day from day 3 (the first closed window)
// to day last and returns the metric's one task once it exists.
func nrrTaskOpens(t *testing.T, m *cxv1.Metric, last int) (*cxv1.ImprovementTask, int) {
	t.Helper()
	for day := 3; day <= last; day++ {
		evaluateAt(t, m, revenueDay(day))
		time.Sleep(100 * time.Millisecond)
		var tasks cxv1.ImprovementTaskList
		if err := k8sClient.List(context.Background(), &tasks, client.InNamespace(m.Namespace)); err != nil {
			t.Fatal(err)
		}
		if len(tasks.Items) > 1 {
			t.Fatalf("day %d: %d tasks for one episode", day, len(tasks.Items))
		}
		if len(tasks.Items) == 1 {
			return &tasks.Items[0], day
		}
	}
	t.Fatalf("no task by day %d", last)
	return nil, 0
}

// resolveTask plays the owner: it marks attempt 1 resolved at the
// operator's current time and waits for verification to start.
func resolveTask(t *testing.T, task *cxv1.ImprovementTask, note string) *cxv1.ImprovementTask {
	t.Helper()
	open := taskPhase(t, task, cxv1.PhaseOpen)
	patch := client.MergeFrom(open.DeepCopy())
	open.Spec.State = cxv1.TaskResolved
	open.Spec.Resolution = &cxv1.Resolution{Note: note, Attempt: 1}
	if err := k8sClient.Patch(context.Background(), open, patch); err != nil {
		t.Fatal(err)
	}
	return taskPhase(t, task, cxv1.PhaseVerifying)
}

// taskNow reads the task as it is.
func taskNow(t *testing.T, task *cxv1.ImprovementTask) *cxv1.ImprovementTask {
	t.Helper()
	var cur cxv1.ImprovementTask
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(task), &cur); err != nil {
		t.Fatal(err)
	}
	return &cur
}

// untilClosed evaluates day by day from first to last and returns the
// task once it leaves the phases in waiting; any other phase fails.
func untilClosed(t *testing.T, m *cxv1.Metric, task *cxv1.ImprovementTask, first, last int, waiting ...cxv1.TaskPhase) (*cxv1.ImprovementTask, int) {
	t.Helper()
	return untilClosedBy(t, func(day int) { evaluateAt(t, m, revenueDay(day)) }, task, first, last, waiting...)
}

// untilClosedBy runs step for each day from first to last and returns
// the task once it leaves the phases in waiting.
func untilClosedBy(t *testing.T, step func(day int), task *cxv1.ImprovementTask, first, last int, waiting ...cxv1.TaskPhase) (*cxv1.ImprovementTask, int) {
	t.Helper()
	for day := first; day <= last; day++ {
		step(day)
		time.Sleep(300 * time.Millisecond)
		cur := taskNow(t, task)
		still := false
		for _, p := range waiting {
			still = still || cur.Status.Phase == p
		}
		if !still {
			return cur, day
		}
	}
	cur := taskNow(t, task)
	t.Fatalf("by day %d the task is still %s (%s)", last, cur.Status.Phase, cur.Status.Message)
	return nil, 0
}

// NRR falls from 1.0 to 0.90 on day 6; the tumbling window [6, 9) opens a
// task on day 9, the owner resolves it that day and the accounts' NRR is
// back at 1.0 afterwards: the task is verified on the fresh estimate, with
// the improvement over the level before the episode (1.0) recorded: about
// zero (an interval around it), not the 0.10 over the window that opened
// the task.
func TestTumblingTaskIsVerifiedAfterAFix(t *testing.T) {
	ns := newNamespace(t)
	writeRevenue(t, "nrr-fixed.db", 20, func(d int) float64 {
		if d >= 6 && d < 9 {
			return 0.90
		}
		return 1.0
	})
	m := nrrMetric(t, ns, "nrr-fixed.db", "240h")
	task, opened := nrrTaskOpens(t, m, 12)
	if opened != 9 || !task.Spec.EpisodeStart.Time.Equal(revenueDay(6)) {
		t.Fatalf("task opened on day %d for the episode from %s, want day 9 for the window from %s", opened, task.Spec.EpisodeStart, revenueDay(6))
	}
	if ev := task.Spec.Evidence; ev == nil || ev.ObservedValue == nil || *ev.ObservedValue > 0.92 {
		t.Fatalf("evidence %+v, want the window's NRR of about 0.90", task.Spec.Evidence)
	}
	resolveTask(t, task, "renewal playbook for the contracting accounts")

	done, day := untilClosed(t, m, task, 10, 19, cxv1.PhaseVerifying)
	v := done.Status.Verification
	if done.Status.Phase != cxv1.PhaseVerified {
		t.Fatalf("day %d: task %s (%s), want Verified", day, done.Status.Phase, done.Status.Message)
	}
	if v == nil || !(v.Lower < 0 && v.Upper > 0) || !(v.Lower < v.Improvement && v.Improvement < v.Upper) || v.Samples < 100 {
		t.Fatalf("verification record %+v, want an improvement of about zero over the level before the episode", v)
	}
	if len(done.Status.Measurements) == 0 {
		t.Fatal("no measurement of the fresh data was recorded")
	}
}

// NRR falls from 1.0 to 0.958 on day 6, a drop past the detector's
// reference (0.975) but short of target − δ (0.95), and stays there after
// the owner's resolution: a fix that changed nothing is reopened, never
// verified, however shallow the drop that opened it.
func TestTumblingTaskFixThatChangesNothingIsReopened(t *testing.T) {
	ns := newNamespace(t)
	writeRevenue(t, "nrr-unchanged.db", 20, func(d int) float64 {
		if d >= 6 {
			return 0.958
		}
		return 1.0
	})
	m := nrrMetric(t, ns, "nrr-unchanged.db", "96h")
	task, opened := nrrTaskOpens(t, m, 12)
	if opened != 9 {
		t.Fatalf("task opened on day %d, want day 9 when the window [6, 9) closes", opened)
	}
	resolveTask(t, task, "sent the churn survey")

	done, day := untilClosed(t, m, task, 10, 15, cxv1.PhaseVerifying)
	if done.Status.Phase != cxv1.PhaseReopened || done.Status.Attempt != 2 {
		t.Fatalf("day %d: task %s attempt %d (%s), want Reopened for attempt 2", day, done.Status.Phase, done.Status.Attempt, done.Status.Message)
	}
}

// NRR falls to 0.90 on day 6 and comes back to 1.0 on day 12 with nobody
// resolving anything: the window [12, 15) ends the episode, and fresh data
// after that closes the task as Recovered, not Verified, with the
// improvement over the level before the episode (about zero) recorded.
func TestTumblingTaskRecoversWithoutAction(t *testing.T) {
	ns := newNamespace(t)
	writeRevenue(t, "nrr-recovered.db", 24, func(d int) float64 {
		if d >= 6 && d < 12 {
			return 0.90
		}
		return 1.0
	})
	m := nrrMetric(t, ns, "nrr-recovered.db", "240h")
	task, opened := nrrTaskOpens(t, m, 12)
	if opened != 9 {
		t.Fatalf("task opened on day %d, want day 9", opened)
	}
	done, day := untilClosed(t, m, task, opened+1, 23, cxv1.PhaseOpen)
	if done.Status.Phase != cxv1.PhaseRecovered {
		t.Fatalf("day %d: task %s (%s), want Recovered", day, done.Status.Phase, done.Status.Message)
	}
	if day < 15 {
		t.Fatalf("recovered on day %d, before the window [12, 15) that ended the episode closed", day)
	}
	if v := done.Status.Verification; v == nil || !(v.Lower < 0 && v.Upper > 0) || !(v.Lower < v.Improvement && v.Improvement < v.Upper) {
		t.Fatalf("verification record %+v, want an improvement of about zero over the level before the episode", v)
	}
}
