package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/credentials"
	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/source"
)

var (
	warehouseOnce sync.Once
	warehouseRoot string
	warehouseErr  error
)

// demoWarehouse generates the demo warehouse once, under testDataRoot.
func demoWarehouse(t *testing.T) {
	t.Helper()
	warehouseOnce.Do(func() {
		sc := demodata.DefaultScript()
		sc.Scale = 0.5
		_, warehouseErr = demodata.Generate(filepath.Join(testDataRoot, "warehouse.db"), sc)
	})
	if warehouseErr != nil {
		t.Fatal(warehouseErr)
	}
}

func csatMetric(ns string) *cxv1.Metric {
	target, warning := 80.0, 85.0
	return &cxv1.Metric{
		ObjectMeta: metav1.ObjectMeta{Name: "support-csat", Namespace: ns},
		Spec: cxv1.MetricSpec{
			Owner:   cxv1.MetricOwner{Team: "support-operations"},
			Source:  &cxv1.LocalObjectReference{Name: "warehouse"},
			Formula: cxv1.FormulaCSAT,
			Query: &cxv1.MetricQuery{Table: "survey_responses",
				Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at", InteractionTime: "interaction_at"},
				Filters: []cxv1.QueryFilter{{Column: "survey", Operator: "Equals", Values: []string{"csat"}}}},
			Objective:   cxv1.Objective{Target: &target, WarningAt: &warning, MinSamples: 50},
			Improvement: &cxv1.ImprovementPolicy{MinFreshSamples: 50, VerifyWindow: "336h"},
		},
	}
}

func createWarehouse(t *testing.T, ns string) {
	t.Helper()
	demoWarehouse(t)
	ctx := context.Background()
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns},
		Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "warehouse.db"}}}
	team := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "support-operations", Namespace: ns}}
	for _, o := range []client.Object{ds, team} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

// requestEvaluation asks for an evaluation at once, as a user would.
func requestEvaluation(t *testing.T, m *cxv1.Metric, at time.Time) {
	t.Helper()
	patch := client.MergeFrom(&cxv1.Metric{})
	obj := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace,
		Annotations: map[string]string{cxv1.ReconcileRequestAnnotation: at.Format(time.RFC3339)}}}
	if err := k8sClient.Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
}

// evaluateAt moves the clock to now and waits until the Metric has been
// evaluated there, as a day passing would.
func evaluateAt(t *testing.T, m *cxv1.Metric, now time.Time) {
	t.Helper()
	testClock.Set(now)
	requestEvaluation(t, m, now)
	metricAt(t, m, "evaluated at "+now.Format(time.RFC3339), func(m *cxv1.Metric) bool {
		return m.Status.LastHandledReconcileAt == now.Format(time.RFC3339)
	})
}

func metricAt(t *testing.T, m *cxv1.Metric, what string, cond func(*cxv1.Metric) bool) *cxv1.Metric {
	t.Helper()
	var got cxv1.Metric
	eventually(t, 20*time.Second, what, func() (bool, string) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
			return false, err.Error()
		}
		return cond(&got), fmt.Sprintf("state=%s value=%v samples=%d conditions=%v", got.Status.State, got.Status.Value, got.Status.Samples, got.Status.Conditions)
	})
	return &got
}

// The whole loop on the demo warehouse with a fixed seed: CSAT drops at
// T0+5d, the owner resolves at T0+12d and the data after it is back at
// target, so the task is verified with the improvement recorded.
func TestMetricMeasuresOpensATaskAndVerifiesTheFix(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	t0 := demodata.DefaultT0
	testClock.Set(t0)
	m := csatMetric(ns)
	if err := k8sClient.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := metricAt(t, m, "measured", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady) && m.Status.Value != nil
	})

	// The value matches an independent computation over the same window.
	src, err := source.OpenSQLite(source.SQLiteConfig{Path: "warehouse.db", Roots: []string{testDataRoot}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	def := metricspec.Definition(got)
	r, err := src.Query(ctx, def, metricspec.Query(got), t0.Add(-720*time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	est, err := measure.Compute(def, r.Overall, 0.95, 50)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Status.Value != est.Value || got.Status.Samples != int64(est.NEff) || got.Status.State != cxv1.StateWarning {
		t.Fatalf("status %v (%d samples, %s), want %v (%d samples, Warning: under warningAt 85)", *got.Status.Value, got.Status.Samples, got.Status.State, est.Value, int64(est.NEff))
	}
	if got.Status.LastEvaluation == nil || !got.Status.LastEvaluation.WindowEnd.Time.Equal(t0) || got.Status.DefinitionHash != def.Hash() {
		t.Fatalf("how the result was reached: %+v", got.Status.LastEvaluation)
	}
	if d := got.Status.Detector; d == nil || d.FedUntil == nil || d.Threshold <= 0 || d.DetectableShift == nil {
		t.Fatalf("detector status: %+v", got.Status.Detector)
	}

	// Stable history: no task before the drop.
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil || len(tasks.Items) != 0 {
		t.Fatalf("tasks on stable data: %d (%v)", len(tasks.Items), err)
	}

	// Days pass; the drop at T0+5d opens one task.
	var task *cxv1.ImprovementTask
	for day := 1; day <= 12 && task == nil; day++ {
		now := t0.Add(time.Duration(day) * 24 * time.Hour)
		evaluateAt(t, m, now)
		if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if len(tasks.Items) > 0 {
			task = &tasks.Items[0]
			if day < 5 {
				t.Fatalf("a task opened on day %d, before the drop", day)
			}
		}
	}
	if task == nil || len(tasks.Items) != 1 {
		t.Fatalf("want exactly one task by day 12, got %d", len(tasks.Items))
	}
	if task.Spec.Team != "support-operations" || task.Spec.Evidence == nil || task.Spec.Evidence.ObservedValue == nil ||
		!(*task.Spec.Evidence.ObservedValue < 80) || task.Spec.DefinitionHash != def.Hash() {
		t.Fatalf("task content: %+v", task.Spec)
	}
	// Replaying the same history through the backtest gives the same episode.
	sources := &metricspec.Sources{Secrets: credentials.ClusterSecrets(k8sClient), Roots: []string{testDataRoot}}
	var ds cxv1.DataSource
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "warehouse"}, &ds); err != nil {
		t.Fatal(err)
	}
	replaySource, err := sources.Get(ctx, &ds)
	if err != nil {
		t.Fatal(err)
	}
	var live cxv1.Metric
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(m), &live); err != nil {
		t.Fatal(err)
	}
	spec, err := metricspec.Translate(&live)
	if err != nil {
		t.Fatal(err)
	}
	replay, err := engine.Replay(ctx, replaySource, spec, t0, testClock.Now(), engine.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	events := replay.Events
	// The live task was opened at the evaluation its due date counts from
	// (the listing above may see it one step later than it was created).
	openedAt := task.Spec.DueDate.Add(-spec.DueAfter)
	if len(events) != 1 || events[0].Event != engine.EventTaskOpened || !events[0].EpisodeStart.Equal(task.Spec.EpisodeStart.Time) ||
		!events[0].At.Equal(openedAt) || events[0].Task != task.Name {
		t.Fatalf("backtest %+v, live episode from %s opened at %s as %s", events, task.Spec.EpisodeStart.Time, openedAt, task.Name)
	}
	episode := metricAt(t, m, "ChangeDetected", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionChangeDetected)
	})
	if !meta.IsStatusConditionTrue(episode.Status.Conditions, cxv1.ConditionReady) {
		t.Fatal("a customer-experience drop made the Metric unready")
	}

	// A restarted manager (a new reconciler with nothing in memory) keeps
	// the evidence from status: the same episode, no second task.
	restarted := &MetricReconciler{Client: mgrClient, Scheme: testScheme, Clock: testClock, Sources: sources}
	if _, err := restarted.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(m)}); err != nil {
		t.Fatal(err)
	}
	after := metricAt(t, m, "episode kept", func(m *cxv1.Metric) bool { return m.Status.Episode != nil })
	if !after.Status.Episode.Equal(&task.Spec.EpisodeStart) {
		t.Fatalf("episode after restart %v, want %v", after.Status.Episode, task.Spec.EpisodeStart)
	}
	if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil || len(tasks.Items) != 1 {
		t.Fatalf("tasks after restart: %d (%v)", len(tasks.Items), err)
	}

	// The task states what verifying its first attempt needs: the null at
	// the detector's reference (target − δ/2) and the fresh volume n*.
	open := taskPhase(t, task, cxv1.PhaseOpen)
	if p := open.Status.VerificationPlan; p == nil || p.Null != 77.5 || p.RequiredSamples == nil || *p.RequiredSamples < 50 ||
		p.ExpectedDuration == nil || !(p.Level > 0 && p.Level < 0.05) {
		t.Fatalf("verification plan %+v", p)
	}

	// The owner starts work, then resolves on day 12; fresh data after it
	// is back at target.
	patch := client.MergeFrom(open.DeepCopy())
	open.Spec.State = cxv1.TaskInProgress
	if err := k8sClient.Patch(ctx, open, patch); err != nil {
		t.Fatal(err)
	}
	open = taskPhase(t, task, cxv1.PhaseInProgress)
	resolveAt := t0.Add(12 * 24 * time.Hour)
	testClock.Set(resolveAt)
	patch = client.MergeFrom(open.DeepCopy())
	open.Spec.State = cxv1.TaskResolved
	open.Spec.Resolution = &cxv1.Resolution{Note: "reworked the slow-response macro", Attempt: 1}
	if err := k8sClient.Patch(ctx, open, patch); err != nil {
		t.Fatal(err)
	}
	taskPhase(t, task, cxv1.PhaseVerifying)
	var verified *cxv1.ImprovementTask
	for day := 13; day <= 26 && verified == nil; day++ {
		now := t0.Add(time.Duration(day) * 24 * time.Hour)
		evaluateAt(t, m, now)
		time.Sleep(300 * time.Millisecond)
		var cur cxv1.ImprovementTask
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &cur); err != nil {
			t.Fatal(err)
		}
		switch cur.Status.Phase {
		case cxv1.PhaseVerified:
			verified = &cur
		case cxv1.PhaseVerifying:
		default:
			t.Fatalf("day %d: task %s (%s)", day, cur.Status.Phase, cur.Status.Message)
		}
	}
	if verified == nil {
		t.Fatal("a fix that restored the target was not verified within 14 days")
	}
	// The improvement is measured from the level before the episode, which
	// the fix restored: an interval around zero, counting the fresh and the
	// baseline's errors.
	v := verified.Status.Verification
	if v == nil || !(v.Lower < 0 && v.Upper > 0) || !(v.Lower < v.Improvement && v.Improvement < v.Upper) || v.Samples < 50 ||
		verified.Status.ResolvedAt == nil ||
		!verified.Status.ResolvedAt.Time.Equal(resolveAt) {
		t.Fatalf("verification record: %+v resolvedAt %v", v, verified.Status.ResolvedAt)
	}
}

// countingClient counts the writes a reconciler makes.
type countingClient struct {
	client.Client
	mu     sync.Mutex
	writes int
}

func (c *countingClient) count() {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
}

func (c *countingClient) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.PatchOption) error {
	c.count()
	return c.Client.Patch(ctx, o, p, opts...)
}

func (c *countingClient) Update(ctx context.Context, o client.Object, opts ...client.UpdateOption) error {
	c.count()
	return c.Client.Update(ctx, o, opts...)
}

func (c *countingClient) Create(ctx context.Context, o client.Object, opts ...client.CreateOption) error {
	c.count()
	return c.Client.Create(ctx, o, opts...)
}

func (c *countingClient) Status() client.SubResourceWriter {
	return &countingStatus{SubResourceWriter: c.Client.Status(), c: c}
}

type countingStatus struct {
	client.SubResourceWriter
	c *countingClient
}

func (s *countingStatus) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	s.c.count()
	return s.SubResourceWriter.Patch(ctx, o, p, opts...)
}

func (s *countingStatus) Update(ctx context.Context, o client.Object, opts ...client.SubResourceUpdateOption) error {
	s.c.count()
	return s.SubResourceWriter.Update(ctx, o, opts...)
}

// An evaluation that finds nothing new writes nothing: a second manager
// (as after a restart) re-evaluates the same window with the same result
// and makes zero API writes; a new day of data makes exactly one.
func TestUnchangedEvaluationWritesNothing(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	t0 := demodata.DefaultT0.Add(-10 * 24 * time.Hour)
	testClock.Set(t0)
	m := csatMetric(ns)
	if err := k8sClient.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	metricAt(t, m, "measured", func(m *cxv1.Metric) bool { return m.Status.Value != nil && m.Status.ObservedGeneration == m.Generation })
	time.Sleep(500 * time.Millisecond) // let the running manager settle

	counting := &countingClient{Client: k8sClient}
	sources := &metricspec.Sources{Secrets: credentials.ClusterSecrets(k8sClient), Roots: []string{testDataRoot}}
	fresh := &MetricReconciler{Client: counting, Scheme: testScheme, Clock: clock.NewManual(t0), Sources: sources}
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(m)}
	if _, err := fresh.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if counting.writes != 0 {
		t.Fatalf("re-evaluating an unchanged window made %d writes, want 0", counting.writes)
	}

	fresh.Clock = clock.NewManual(t0.Add(24 * time.Hour))
	if _, err := fresh.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if counting.writes != 1 {
		t.Fatalf("a new day of data made %d writes, want 1", counting.writes)
	}
}

var testDataRoot string

func init() {
	dir, err := os.MkdirTemp("", "cxloop-controllers-")
	if err != nil {
		panic(err)
	}
	testDataRoot = dir
}
