package controllers

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// reconciles is how many reconciles the named controller has run in this
// process, read from controller-runtime's own counter.
func reconciles(t *testing.T, controller string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// quiet asserts that a Metric waiting for its user is left alone: its
// status is not rewritten and it is not retried over two seconds (a retry
// on error, backing off from 5ms, runs the reconciler six times or more in
// that time).
func quiet(t *testing.T, m *cxv1.Metric) {
	t.Helper()
	ctx := context.Background()
	var before, after cxv1.Metric
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(m), &before); err != nil {
		t.Fatal(err)
	}
	runs := reconciles(t, "metric")
	time.Sleep(2 * time.Second)
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(m), &after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("the Metric was rewritten while it waits for its user: resourceVersion %s -> %s", before.ResourceVersion, after.ResourceVersion)
	}
	if n := reconciles(t, "metric") - runs; n > 2 {
		t.Fatalf("the Metric controller ran %.0f reconciles in two seconds while nothing changed: a retry storm", n)
	}
}

// condition is the condition typ of conds, or nil.
func condition(conds []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conds, typ)
}

// renameTable renames a table of a SQLite file under testDataRoot, as a
// migration in the warehouse would.
func renameTable(t *testing.T, db, from, to string) {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(testDataRoot, db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(fmt.Sprintf(`ALTER TABLE %s RENAME TO %s`, from, to)); err != nil {
		t.Fatal(err)
	}
}

// A spec the CRD accepts but the engine cannot evaluate (a time zone that
// is not an IANA zone, a definition rule, a CEL expression that does not
// type-check) stalls the Metric with the engine's own message, naming the
// field; nothing is retried or rewritten until the user edits the spec,
// and the edit makes the Metric Ready.
func TestRejectedSpecStallsUntilTheUserFixesIt(t *testing.T) {
	ctx := context.Background()
	writeRevenue(t, "conditions-spec.db", 8, func(int) float64 { return 1.0 })
	for _, c := range []struct {
		name string
		// metric builds the rejected Metric; what it needs besides is
		// created in the namespace.
		metric func(t *testing.T, ns string) *cxv1.Metric
		// engine is the engine's own error for the Metric as stored.
		engine func(m *cxv1.Metric) error
		field  string
		fix    func(m *cxv1.Metric)
	}{
		{"time zone", func(t *testing.T, ns string) *cxv1.Metric {
			m := nrrSpec(ns, "240h")
			m.Spec.TimeZone = "Mars/Olympus"
			return m
		}, func(m *cxv1.Metric) error {
			_, err := metricspec.Translate(m)
			return err
		}, "spec.timeZone", func(m *cxv1.Metric) { m.Spec.TimeZone = "Europe/Berlin" }},

		{"definition", func(t *testing.T, ns string) *cxv1.Metric {
			target := 1000.0
			m := nrrSpec(ns, "240h")
			m.Spec.Formula, m.Spec.Unrated = cxv1.FormulaMean, "CountAsNegative"
			m.Spec.Query.Columns = &cxv1.QueryColumns{Time: "period_end", Value: "retained"}
			m.Spec.Objective.Target = &target
			return m
		}, func(m *cxv1.Metric) error { return metricspec.Definition(m).Validate() },
			"unrated", func(m *cxv1.Metric) { m.Spec.Unrated = "Exclude" }},

		{"expression", func(t *testing.T, ns string) *cxv1.Metric {
			input := nrrSpec(ns, "240h")
			input.Name = "nrr-input"
			if err := k8sClient.Create(ctx, input); err != nil {
				t.Fatal(err)
			}
			target := 100.0
			return &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "nrr-percent", Namespace: ns}, Spec: cxv1.MetricSpec{
				Owner: cxv1.MetricOwner{Team: "customer-success"}, Formula: cxv1.FormulaDerived,
				Expression: "nrr * 100", Inputs: []cxv1.DerivedInput{{Name: "nrr", Metric: "nrr-input"}},
				Objective: cxv1.Objective{Target: &target}}}
		}, func(m *cxv1.Metric) error {
			_, err := measure.CompileDerived(m.Spec.Expression, []string{"nrr"})
			return err
		}, "expression", func(m *cxv1.Metric) { m.Spec.Expression = "nrr * 100.0" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := newNamespace(t)
			testClock.Set(revenueDay(5))
			if err := k8sClient.Create(ctx, revenueSource(ns, "conditions-spec.db")); err != nil {
				t.Fatal(err)
			}
			m := c.metric(t, ns)
			if err := k8sClient.Create(ctx, m); err != nil {
				t.Fatalf("the CRD refused a spec only the engine can judge: %v", err)
			}
			got := metricAt(t, m, "stalled", func(m *cxv1.Metric) bool {
				return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionStalled) && m.Status.ObservedGeneration == m.Generation
			})
			want := c.engine(got)
			if want == nil {
				t.Fatal("the engine accepts the spec the test means to be rejected")
			}
			stalled := condition(got.Status.Conditions, cxv1.ConditionStalled)
			ready := condition(got.Status.Conditions, cxv1.ConditionReady)
			if stalled.Reason != "InvalidSpec" || !strings.Contains(stalled.Message, want.Error()) || !strings.Contains(stalled.Message, c.field) {
				t.Fatalf("Stalled %s: %q, want InvalidSpec with the engine's message %q naming %s", stalled.Reason, stalled.Message, want, c.field)
			}
			if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != "InvalidSpec" || ready.Message != stalled.Message {
				t.Fatalf("Ready %+v, want False with the Stalled reason and message", ready)
			}
			if r := condition(got.Status.Conditions, cxv1.ConditionReconciling); r != nil {
				t.Fatalf("a stalled Metric says it is reconciling: %+v", r)
			}
			quiet(t, m)

			patch := client.MergeFrom(got.DeepCopy())
			c.fix(got)
			if err := k8sClient.Patch(ctx, got, patch); err != nil {
				t.Fatal(err)
			}
			fixed := metricAt(t, m, "ready after the fix", func(m *cxv1.Metric) bool {
				return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady) && m.Status.ObservedGeneration == m.Generation
			})
			if s := condition(fixed.Status.Conditions, cxv1.ConditionStalled); s != nil {
				t.Fatalf("Stalled stays after the fix: %+v", s)
			}
		})
	}
}

// A Metric naming a DataSource that does not exist waits for it, Stalled
// with what to do; creating the DataSource measures it without anyone
// asking again.
func TestMissingDataSourceStallsUntilItIsCreated(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	writeRevenue(t, "conditions-missing.db", 8, func(int) float64 { return 1.0 })
	testClock.Set(revenueDay(5))
	m := nrrSpec(ns, "240h")
	if err := k8sClient.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := metricAt(t, m, "stalled", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionStalled)
	})
	stalled := condition(got.Status.Conditions, cxv1.ConditionStalled)
	ready := condition(got.Status.Conditions, cxv1.ConditionReady)
	if stalled.Reason != "DataSourceNotFound" || !strings.Contains(stalled.Message, "DataSource revenue not found") ||
		!strings.Contains(stalled.Message, "spec.source.name") {
		t.Fatalf("Stalled %s: %q, want DataSourceNotFound saying what to create or fix", stalled.Reason, stalled.Message)
	}
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != "DataSourceNotFound" {
		t.Fatalf("Ready %+v, want False DataSourceNotFound", ready)
	}
	quiet(t, m)

	if err := k8sClient.Create(ctx, revenueSource(ns, "conditions-missing.db")); err != nil {
		t.Fatal(err)
	}
	measured := metricAt(t, m, "measured once the DataSource exists", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady) && m.Status.Value != nil
	})
	if s := condition(measured.Status.Conditions, cxv1.ConditionStalled); s != nil {
		t.Fatalf("Stalled stays once the DataSource exists: %+v", s)
	}
}

// A source that stops answering (its table renamed away) makes the Metric
// unready and retrying, with the last good value kept; once the table is
// back the next evaluation clears all of it.
func TestFailingSourceKeepsTheLastValueUntilItAnswers(t *testing.T) {
	ns := newNamespace(t)
	writeRevenue(t, "conditions-outage.db", 10, func(int) float64 { return 1.0 })
	m := nrrMetric(t, ns, "conditions-outage.db", "240h")
	evaluateAt(t, m, revenueDay(5))
	good := metricAt(t, m, "measured", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady) && m.Status.Value != nil
	})

	renameTable(t, "conditions-outage.db", "periods", "periods_moved")
	evaluateAt(t, m, revenueDay(6))
	failed := metricAt(t, m, "source unavailable", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionSourceUnavailable)
	})
	ready := condition(failed.Status.Conditions, cxv1.ConditionReady)
	reconciling := condition(failed.Status.Conditions, cxv1.ConditionReconciling)
	unavailable := condition(failed.Status.Conditions, cxv1.ConditionSourceUnavailable)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != "SourceUnavailable" ||
		!strings.Contains(ready.Message, "periods") || !strings.Contains(ready.Message, "check DataSource revenue") {
		t.Fatalf("Ready %+v, want False SourceUnavailable naming the failure and the DataSource", ready)
	}
	if reconciling == nil || reconciling.Status != metav1.ConditionTrue || !strings.Contains(unavailable.Message, "periods") {
		t.Fatalf("Reconciling %+v, SourceUnavailable %+v: want a retry and the query's error", reconciling, unavailable)
	}
	if s := condition(failed.Status.Conditions, cxv1.ConditionStalled); s != nil {
		t.Fatalf("a source failure is retried, not Stalled: %+v", s)
	}
	if failed.Status.Value == nil || *failed.Status.Value != *good.Status.Value || failed.Status.Samples != good.Status.Samples ||
		!failed.Status.LastEvaluation.WindowEnd.Equal(&good.Status.LastEvaluation.WindowEnd) || failed.Status.ConsecutiveSourceErrors != 1 {
		t.Fatalf("after the failure value %v (%d samples, window %s, %d errors), want the last good %v (%d samples, window %s)",
			failed.Status.Value, failed.Status.Samples, failed.Status.LastEvaluation.WindowEnd, failed.Status.ConsecutiveSourceErrors,
			*good.Status.Value, good.Status.Samples, good.Status.LastEvaluation.WindowEnd)
	}

	renameTable(t, "conditions-outage.db", "periods_moved", "periods")
	evaluateAt(t, m, revenueDay(7))
	back := metricAt(t, m, "ready again", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady)
	})
	for _, typ := range []string{cxv1.ConditionSourceUnavailable, cxv1.ConditionReconciling, cxv1.ConditionStalled} {
		if c := condition(back.Status.Conditions, typ); c != nil {
			t.Errorf("%s stays after the source is back: %+v", typ, c)
		}
	}
	if back.Status.ConsecutiveSourceErrors != 0 || !back.Status.LastEvaluation.WindowEnd.Time.Equal(revenueDay(7)) {
		t.Fatalf("after the source is back: %d errors, last window %s, want 0 and %s",
			back.Status.ConsecutiveSourceErrors, back.Status.LastEvaluation.WindowEnd, revenueDay(7))
	}
}

// A task in Verifying whose fresh data cannot be read says so and waits:
// nothing verifies or reopens on missing data; once the data is readable
// again the condition goes and verification goes on.
func TestVerifyingTaskWaitsWhileItsDataIsUnavailable(t *testing.T) {
	ns := newNamespace(t)
	// After the resolution NRR sits at the detector's reference: neither
	// proven nor persisting on a few days of data.
	writeRevenue(t, "conditions-task.db", 16, func(d int) float64 {
		switch {
		case d < 6:
			return 1.0
		case d < 9:
			return 0.90
		}
		return 0.975
	})
	m := nrrMetric(t, ns, "conditions-task.db", "240h")
	task, _ := nrrTaskOpens(t, m, 12)
	resolveTask(t, task, "renewal playbook for the contracting accounts")

	renameTable(t, "conditions-task.db", "periods", "periods_moved")
	evaluateAt(t, m, revenueDay(10))
	var waiting cxv1.ImprovementTask
	eventually(t, 10*time.Second, "task condition DataUnavailable", func() (bool, string) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(task), &waiting); err != nil {
			return false, err.Error()
		}
		return meta.IsStatusConditionTrue(waiting.Status.Conditions, cxv1.ConditionDataUnavailable),
			fmt.Sprintf("%s %v", waiting.Status.Phase, waiting.Status.Conditions)
	})
	c := condition(waiting.Status.Conditions, cxv1.ConditionDataUnavailable)
	if !strings.Contains(c.Message, "periods") || !strings.Contains(c.Message, "waits") {
		t.Fatalf("DataUnavailable says %q, want the read error and that the task waits", c.Message)
	}
	time.Sleep(500 * time.Millisecond)
	if cur := taskNow(t, task); cur.Status.Phase != cxv1.PhaseVerifying || len(cur.Status.Measurements) != 0 {
		t.Fatalf("on unreadable data the task is %s with %d measurement(s), want Verifying with none", cur.Status.Phase, len(cur.Status.Measurements))
	}

	renameTable(t, "conditions-task.db", "periods_moved", "periods")
	evaluateAt(t, m, revenueDay(11))
	var resumed cxv1.ImprovementTask
	eventually(t, 10*time.Second, "DataUnavailable gone", func() (bool, string) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(task), &resumed); err != nil {
			return false, err.Error()
		}
		return condition(resumed.Status.Conditions, cxv1.ConditionDataUnavailable) == nil && len(resumed.Status.Measurements) > 0,
			fmt.Sprintf("%s %v, %d measurement(s)", resumed.Status.Phase, resumed.Status.Conditions, len(resumed.Status.Measurements))
	})
	if resumed.Status.Phase != cxv1.PhaseVerifying {
		t.Fatalf("with the data back at the reference the task is %s (%s), want still Verifying", resumed.Status.Phase, resumed.Status.Message)
	}
}

// A derived Metric has no DataSource: when an input Metric cannot be read
// its conditions name the input and where to fix it, and it measures once
// the input exists.
func TestDerivedMetricWithAMissingInputSaysWhichInput(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	writeRevenue(t, "conditions-derived.db", 8, func(int) float64 { return 1.0 })
	testClock.Set(revenueDay(5))
	target := 100.0
	derived := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "nrr-percent", Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "customer-success"}, Formula: cxv1.FormulaDerived,
		Expression: "nrr * 100.0", Inputs: []cxv1.DerivedInput{{Name: "nrr", Metric: "nrr"}},
		Objective: cxv1.Objective{Target: &target}}}
	if err := k8sClient.Create(ctx, derived); err != nil {
		t.Fatal(err)
	}
	got := metricAt(t, derived, "input unavailable", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionSourceUnavailable)
	})
	ready := condition(got.Status.Conditions, cxv1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != "SourceUnavailable" ||
		!strings.Contains(ready.Message, `"nrr" not found`) || !strings.Contains(ready.Message, "spec.inputs") ||
		strings.Contains(ready.Message, "DataSource") {
		t.Fatalf("Ready %+v, want False SourceUnavailable naming the input and spec.inputs", ready)
	}
	if !meta.IsStatusConditionTrue(got.Status.Conditions, cxv1.ConditionReconciling) {
		t.Fatalf("a missing input is retried: %v", got.Status.Conditions)
	}

	input := nrrMetric(t, ns, "conditions-derived.db", "240h")
	metricAt(t, input, "input measured", func(m *cxv1.Metric) bool { return m.Status.Value != nil })
	evaluateAt(t, derived, revenueDay(6))
	measured := metricAt(t, derived, "derived measured", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady) && m.Status.Value != nil
	})
	for _, typ := range []string{cxv1.ConditionSourceUnavailable, cxv1.ConditionReconciling} {
		if c := condition(measured.Status.Conditions, typ); c != nil {
			t.Errorf("%s stays once the input exists: %+v", typ, c)
		}
	}
}
