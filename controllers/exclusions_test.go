package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/source"
)

// exclusionDays runs the support CSAT Metric with the exclusions given
// over the demo warehouse (CSAT drops at T0+5d, restored at T0+12d) for
// days days, and returns the namespace and the Metric's status at the end
// of each day.
func exclusionDays(t *testing.T, days int, exclusions ...cxv1.MetricExclusion) (string, []*cxv1.Metric) {
	t.Helper()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	t0 := demodata.DefaultT0
	testClock.Set(t0)
	m := csatMetric(ns)
	m.Spec.Exclusions = exclusions
	if err := k8sClient.Create(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	metricAt(t, m, "measured", func(m *cxv1.Metric) bool { return m.Status.LastEvaluation != nil })
	var seen []*cxv1.Metric
	for day := 1; day <= days; day++ {
		now := t0.Add(time.Duration(day) * 24 * time.Hour)
		evaluateAt(t, m, now)
		seen = append(seen, metricAt(t, m, "read", func(*cxv1.Metric) bool { return true }))
	}
	return ns, seen
}

func tasksIn(t *testing.T, ns string) []cxv1.ImprovementTask {
	t.Helper()
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(context.Background(), &tasks, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return tasks.Items
}

// The drop inside an excluded period opens no task; the same drop with
// an exclusion elsewhere opens one. While the excluded days are
// evaluated, status.exclusion names the occurrence, and an
// ExclusionStarted event marks it once.
func TestExclusionKeepsAKnownEventFromOpeningATask(t *testing.T) {
	sc := demodata.DefaultScript()
	drop, restore := sc.At(sc.SupportCSAT.Start), sc.At(sc.SupportCSAT.Restore)
	at := func(t time.Time) metav1.Time { return metav1.NewTime(t) }

	// Elsewhere: a day long before the drop.
	elsewhere := cxv1.MetricExclusion{Name: "migration", Start: at(drop.Add(-40 * 24 * time.Hour)), End: at(drop.Add(-39 * 24 * time.Hour))}
	ns, _ := exclusionDays(t, 12, elsewhere)
	if n := len(tasksIn(t, ns)); n != 1 {
		t.Fatalf("the drop outside the exclusion opened %d tasks, want 1", n)
	}

	outage := cxv1.MetricExclusion{Name: "ticketing-outage", Start: at(drop), End: at(restore), Reason: "ticketing system down"}
	ns, seen := exclusionDays(t, 14, outage)
	if tasks := tasksIn(t, ns); len(tasks) != 0 {
		t.Fatalf("the excluded drop opened %d tasks: %s", len(tasks), tasks[0].Name)
	}
	for day, m := range seen {
		end := m.Status.LastEvaluation.WindowEnd.Time
		inside := end.After(drop) && !end.After(restore)
		x := m.Status.Exclusion
		switch {
		case inside && (x == nil || x.Name != "ticketing-outage" || !x.End.Time.Equal(restore) || x.Reason != "ticketing system down"):
			t.Errorf("day %d (window end %s) is excluded, status.exclusion %+v", day+1, end, x)
		case !inside && x != nil:
			t.Errorf("day %d (window end %s) is not excluded, status.exclusion %+v", day+1, end, x)
		}
	}
	// The window's value leaves the excluded days out: it is the value of
	// the included parts of the window, read independently.
	src, err := source.OpenSQLite(source.SQLiteConfig{Path: "warehouse.db", Roots: []string{testDataRoot}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, m := range []*cxv1.Metric{seen[7], seen[13]} {
		def, q := metricspec.Definition(m), metricspec.Query(m)
		from, to := m.Status.LastEvaluation.WindowStart.Time, m.Status.LastEvaluation.WindowEnd.Time
		included := &measure.Stats{}
		for _, part := range [][2]time.Time{{from, drop}, {restore, to}} {
			if !part[1].After(part[0]) {
				continue
			}
			r, err := src.Query(context.Background(), def, q, part[0], part[1])
			if err != nil {
				t.Fatal(err)
			}
			included.Merge(r.Overall)
		}
		est, err := measure.Compute(def, included, 0.95, 50)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status.Value == nil || *m.Status.Value != est.Value || m.Status.Samples != int64(est.NEff) {
			t.Fatalf("window ending %s: status %v (%d samples), want %v (%d samples) without the excluded days",
				to, m.Status.Value, m.Status.Samples, est.Value, int64(est.NEff))
		}
	}
	eventually(t, 10*time.Second, "one ExclusionStarted event", func() (bool, string) {
		var evs eventsv1.EventList
		if err := k8sClient.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var notes []string
		for _, e := range evs.Items {
			if e.Reason == "ExclusionStarted" {
				count := int32(1)
				if e.Series != nil {
					count = e.Series.Count
				}
				notes = append(notes, fmt.Sprintf("%d× %s", count, e.Note))
			}
		}
		return len(notes) == 1 && strings.HasPrefix(notes[0], "1× exclusion ticketing-outage") &&
			strings.Contains(notes[0], "ticketing system down"), strings.Join(notes, "; ")
	})
}

// An exclusion added after the owner resolved a task keeps the task (the
// definition is the same) and keeps its data out of the verification:
// no fresh sample is counted while the exclusion lasts, so the fix is
// neither verified nor rejected on it.
func TestExclusionKeepsItsDataOutOfVerification(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	t0 := demodata.DefaultT0
	testClock.Set(t0)
	m := csatMetric(ns)
	if err := k8sClient.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	metricAt(t, m, "measured", func(m *cxv1.Metric) bool { return m.Status.LastEvaluation != nil })
	var task *cxv1.ImprovementTask
	for day := 1; day <= 12 && task == nil; day++ {
		evaluateAt(t, m, t0.Add(time.Duration(day)*24*time.Hour))
		if tasks := tasksIn(t, ns); len(tasks) > 0 {
			task = &tasks[0]
		}
	}
	if task == nil {
		t.Fatal("the drop opened no task by day 12")
	}
	open := taskPhase(t, task, cxv1.PhaseOpen)
	resolveAt := t0.Add(12 * 24 * time.Hour)
	testClock.Set(resolveAt)
	patch := client.MergeFrom(open.DeepCopy())
	open.Spec.State = cxv1.TaskResolved
	open.Spec.Resolution = &cxv1.Resolution{Note: "reworked the slow-response macro", Attempt: 1}
	if err := k8sClient.Patch(ctx, open, patch); err != nil {
		t.Fatal(err)
	}
	taskPhase(t, task, cxv1.PhaseVerifying)

	var live cxv1.Metric
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(m), &live); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(live.DeepCopy())
	live.Spec.Exclusions = []cxv1.MetricExclusion{{Name: "freeze", Start: metav1.NewTime(resolveAt),
		End: metav1.NewTime(resolveAt.Add(30 * 24 * time.Hour)), Reason: "survey tool migration"}}
	if err := k8sClient.Patch(ctx, &live, patch); err != nil {
		t.Fatal(err)
	}
	for day := 13; day <= 18; day++ {
		evaluateAt(t, m, t0.Add(time.Duration(day)*24*time.Hour))
	}
	time.Sleep(500 * time.Millisecond)
	var cur cxv1.ImprovementTask
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &cur); err != nil {
		t.Fatal(err)
	}
	if cur.Status.Phase != cxv1.PhaseVerifying {
		t.Fatalf("task %s (%s), want it still Verifying: the fresh data is excluded", cur.Status.Phase, cur.Status.Message)
	}
	for _, ms := range cur.Status.Measurements {
		if ms.Samples != 0 {
			t.Fatalf("a look at %s counted %d fresh samples inside the exclusion", ms.Time, ms.Samples)
		}
	}
}
