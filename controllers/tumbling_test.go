package controllers

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// A ratio of sums (net revenue retention) has no per-unit contributions:
// it opens a task from non-overlapping windows, once a closed window's
// value lies significantly below the target, and never before the drop.
func TestRatioMetricOpensFromTumblingWindows(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(testDataRoot, "revenue.db"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	drop := start.Add(40 * 24 * time.Hour)
	if _, err := db.Exec(`CREATE TABLE periods (period_end TIMESTAMP, retained REAL, starting REAL)`); err != nil {
		t.Fatal(err)
	}
	for h := 0; h < 80*24; h++ {
		at := start.Add(time.Duration(h) * time.Hour)
		retained := 1000.0 + float64(h%7) // NRR about 1.003, steady
		if !at.Before(drop) {
			retained = 900 + float64(h%7) // NRR about 0.903
		}
		if _, err := db.Exec(`INSERT INTO periods VALUES (?, ?, 1000)`, at.Format("2006-01-02 15:04:05"), retained); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "revenue", Namespace: ns},
		Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "revenue.db"}}}
	target, shift := 1.0, 0.05
	m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "nrr", Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "customer-success"}, Source: &cxv1.LocalObjectReference{Name: "revenue"},
		Formula: cxv1.FormulaRatio, Window: "240h", Interval: "24h",
		Query:     &cxv1.MetricQuery{Table: "periods", Columns: &cxv1.QueryColumns{Time: "period_end", Numerator: "retained", Denominator: "starting"}},
		Objective: cxv1.Objective{Target: &target, MinShift: &shift, MinSamples: 30}}}
	team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "customer-success", Namespace: ns}}
	for _, o := range []client.Object{ds, team, m} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	var opened time.Time
	for day := 11; day <= 70 && opened.IsZero(); day++ {
		now := start.Add(time.Duration(day) * 24 * time.Hour)
		evaluateAt(t, m, now)
		time.Sleep(100 * time.Millisecond)
		var tasks cxv1.ImprovementTaskList
		if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if len(tasks.Items) > 0 {
			if now.Before(drop) || tasks.Items[0].Spec.EpisodeStart.Time.Before(drop.Add(-10*24*time.Hour)) {
				t.Fatalf("a task opened on %s (episode %s), before the drop at %s", now, tasks.Items[0].Spec.EpisodeStart, drop)
			}
			opened = now
		}
	}
	if opened.IsZero() || opened.After(drop.Add(21*24*time.Hour)) {
		t.Fatalf("the drop at %s opened a task at %v, want within two windows", drop, opened)
	}
}
