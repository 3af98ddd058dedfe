package controllers

import (
	"context"
	"database/sql"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// An NPS segmented by account, held to no worse than each account's own
// baseline: one account has always sat at 60, well below the population's
// 70, one drops from 80 to 70 and one rises from 70 to 80, so the
// population does not move. Status keeps each account's frozen baseline
// with the window it came from, and only the account that dropped gets a
// task, recording its own baseline and reference.
func TestEachAccountIsJudgedAgainstItsOwnBaseline(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	// Enough history before the first evaluation for the detector's
	// calibration to be settled (180 days).
	start := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	first := start.Add(200 * 24 * time.Hour)
	drop := first.Add(10 * 24 * time.Hour)
	// Promoter and detractor shares before and after the drop.
	levels := map[string][2][2]float64{
		"steady":  {{0.70, 0.10}, {0.70, 0.10}},
		"falling": {{0.85, 0.05}, {0.75, 0.05}},
		"rising":  {{0.75, 0.05}, {0.85, 0.05}},
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(testDataRoot, "accounts.db"))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`CREATE TABLE answers (answered_at TIMESTAMP, score REAL, account TEXT);
		CREATE INDEX answers_at ON answers (answered_at)`); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 11))
	for h := 0; h < 260*24; h++ {
		at := start.Add(time.Duration(h) * time.Hour)
		for _, account := range []string{"steady", "falling", "rising"} {
			shares := levels[account][0]
			if !at.Before(drop) {
				shares = levels[account][1]
			}
			for i := 0; i < 6; i++ {
				score := 8
				switch u := r.Float64(); {
				case u < shares[0]:
					score = 10
				case u < shares[0]+shares[1]:
					score = 3
				}
				if _, err := tx.Exec(`INSERT INTO answers VALUES (?, ?, ?)`, at.Add(time.Duration(i)*time.Minute).Format("2006-01-02 15:04:05"),
					score, account); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "accounts", Namespace: ns},
		Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "accounts.db"}}}
	team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "success", Namespace: ns}}
	shift := 5.0
	m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "account-nps", Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "success"}, Source: &cxv1.LocalObjectReference{Name: "accounts"},
		Formula: cxv1.FormulaNPS, SegmentBy: []string{"account"},
		Query:     &cxv1.MetricQuery{Table: "answers", Columns: &cxv1.QueryColumns{Value: "score", Time: "answered_at"}},
		Objective: cxv1.Objective{Relative: &cxv1.RelativeObjective{MaxChange: 0}, MinShift: &shift, MinSamples: 30}}}
	testClock.Set(first)
	for _, o := range []client.Object{ds, team, m} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	evaluateAt(t, m, first)
	got := metricAt(t, m, "segment baselines frozen", func(m *cxv1.Metric) bool {
		return len(m.Status.SegmentBaselines) == 3 && m.Status.LastEvaluation != nil
	})
	// Each baseline came from the window before the first evaluation's.
	firstWindow := got.Status.LastEvaluation.WindowStart.Time
	want := map[string]float64{"account=falling": 80, "account=rising": 70, "account=steady": 60}
	for _, b := range got.Status.SegmentBaselines {
		if math.Abs(b.Value-want[b.Segment]) > 3 || !b.WindowEnd.Time.Equal(firstWindow) ||
			!b.WindowStart.Time.Equal(firstWindow.Add(-720*time.Hour)) || b.Samples < 4000 {
			t.Fatalf("segment baseline %+v, want about %v over the 720h before %s", b, want[b.Segment], firstWindow)
		}
	}
	if b := got.Status.Baseline; b == nil || math.Abs(b.Value-70) > 3 {
		t.Fatalf("population baseline %+v, want about 70", got.Status.Baseline)
	}
	frozen := got.Status.SegmentBaselines

	var task *cxv1.ImprovementTask
	for day := 1; day <= 50 && task == nil; day++ {
		now := first.Add(time.Duration(day) * 24 * time.Hour)
		evaluateAt(t, m, now)
		for _, tk := range tasksIn(t, ns) {
			if tk.Spec.Segment != "account=falling" || now.Before(drop) {
				t.Fatalf("day %d: a task for %q (episode %s); only the account that dropped at %s may get one",
					day, tk.Spec.Segment, tk.Spec.EpisodeStart, drop)
			}
			task = &tk
		}
	}
	if task == nil {
		got = metricAt(t, m, "read", func(*cxv1.Metric) bool { return true })
		t.Fatalf("the account that dropped from 80 to 70 got no task within 40 days of its drop: detector %+v, calibration %+v, held back %+v",
			got.Status.Detector, got.Status.Detector.Calibration, got.Status.HeldBackTasks)
	}
	var falling cxv1.SegmentBaseline
	for _, b := range frozen {
		if b.Segment == "account=falling" {
			falling = b
		}
	}
	if b := task.Spec.Baseline; b == nil || b.Value != falling.Value || !b.WindowEnd.Equal(&falling.WindowEnd) ||
		task.Spec.Objective.Target != falling.Value {
		t.Fatalf("task baseline %+v and target %v, want the account's own baseline %+v", task.Spec.Baseline,
			task.Spec.Objective.Target, falling)
	}
	// The baselines stay frozen.
	got = metricAt(t, m, "baselines kept", func(m *cxv1.Metric) bool { return len(m.Status.SegmentBaselines) == 3 })
	for i, b := range got.Status.SegmentBaselines {
		if b != frozen[i] {
			t.Fatalf("baseline moved: %+v, was %+v", b, frozen[i])
		}
	}
}
