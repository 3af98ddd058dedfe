package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/cli"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/demodata"
)

// The history both runs see: four regions answer a CSAT survey every day;
// three of them drop, one after another (the whole population drops with
// them), and two of those come back. With maxOpenTasks 1 only one episode
// has a task at a time; the others are held back until that task closes,
// here when its region recovers without action (minFreshSamples is high
// enough that the recovery is proven on the evaluation at which the
// episode ends, where the order of the operator's passes matters).
var (
	eqT0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	// eqDrops is each dropping region's bad days, counted from eqT0.
	eqDrops = map[string][2]int{"apac": {6, 18}, "emea": {10, 60}, "latam": {14, 24}}
	// eqSteps is how many daily evaluations the live operator runs, the
	// first at eqT0.
	eqSteps = 40
)

const (
	eqMetric    = "region-csat"
	eqHistory   = 200 // days of data before eqT0: the detector calibrates on 180 days before its window
	eqPerRegion = 40  // answers per region and day
)

// writeRegionWarehouse writes the history as an SQLite table.
func writeRegionWarehouse(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE answers (responded_at TIMESTAMP NOT NULL, region TEXT NOT NULL, score INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO answers (responded_at, region, score) VALUES (?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 11))
	for d := -eqHistory; d < eqSteps+1; d++ {
		day := eqT0.Add(time.Duration(d) * 24 * time.Hour)
		for _, region := range []string{"apac", "emea", "latam", "na"} {
			satisfied := 0.93
			if w, ok := eqDrops[region]; ok && d >= w[0] && d < w[1] {
				satisfied = 0.55
			}
			for i := 0; i < eqPerRegion; i++ {
				at := day.Add(time.Duration(r.Int64N(int64(24 * time.Hour))))
				score := 1 + r.IntN(3)
				if r.Float64() < satisfied {
					score = 4 + r.IntN(2)
				}
				if _, err := stmt.Exec(demodata.FormatTime(at), region, score); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE INDEX answers_responded_at ON answers (responded_at)`); err != nil {
		t.Fatal(err)
	}
}

// eqObjects are the manifests both runs use.
func eqObjects(ns, dbFile string, settle time.Duration) (*cxv1.DataSource, *cxv1.Team, *cxv1.Metric) {
	target := 80.0
	ds := &cxv1.DataSource{TypeMeta: metav1.TypeMeta{APIVersion: cxv1.GroupVersion.String(), Kind: "DataSource"},
		ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns},
		Spec:       cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: dbFile}}}
	team := &cxv1.Team{TypeMeta: metav1.TypeMeta{APIVersion: cxv1.GroupVersion.String(), Kind: "Team"},
		ObjectMeta: metav1.ObjectMeta{Name: "regions", Namespace: ns}}
	m := &cxv1.Metric{TypeMeta: metav1.TypeMeta{APIVersion: cxv1.GroupVersion.String(), Kind: "Metric"},
		ObjectMeta: metav1.ObjectMeta{Name: eqMetric, Namespace: ns}, Spec: cxv1.MetricSpec{
			Owner: cxv1.MetricOwner{Team: team.Name}, Source: &cxv1.LocalObjectReference{Name: ds.Name},
			Formula: cxv1.FormulaCSAT, Window: "336h", SettleDelay: settle.String(), SegmentBy: []string{"region"},
			Query: &cxv1.MetricQuery{Table: "answers",
				Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at"}},
			Objective:   cxv1.Objective{Target: &target, MinSamples: 30},
			Improvement: &cxv1.ImprovementPolicy{MaxOpenTasks: 1, MinFreshSamples: 200},
		}}
	return ds, team, m
}

// runBacktest runs `kubectl cx backtest -o json` over the manifests.
func runBacktest(t *testing.T, dir string, from, to time.Time) cli.BacktestReport {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), []string{"backtest", "-f", dir, "--data-root", dataRoot,
		"--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "-o", "json"},
		genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if code != cli.ExitOK {
		t.Fatalf("backtest exited %d: %s", code, errOut.String())
	}
	var report cli.BacktestReport
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("backtest output: %v\n%s", err, out.String())
	}
	if len(report.Errors) > 0 {
		t.Fatalf("backtest errors: %v", report.Errors)
	}
	return report
}

// writeManifests writes the objects as a manifest directory.
func writeManifests(t *testing.T, objs ...any) string {
	t.Helper()
	dir := t.TempDir()
	var b bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	if err := os.WriteFile(filepath.Join(dir, "objects.yaml"), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The same history through the live operator and through `kubectl cx
// backtest` decides the same: the same tasks for the same episodes after
// the same evaluation, the same episodes held back for the same reason
// after each evaluation, the same episodes ending and the same tasks
// closing as recovered. Both with evaluations at the boundary, where the
// tasks' look at the new day's data comes before the Metric's plan, and
// with a settle delay, where it comes after it, so the capacity a
// recovery frees is planned a day later.
func TestBacktestDecidesAsTheOperator(t *testing.T) {
	writeRegionWarehouse(t, filepath.Join(dataRoot, "regions.db"))
	for _, settle := range []time.Duration{0, 2 * time.Hour} {
		t.Run("settleDelay="+settle.String(), func(t *testing.T) {
			live, m, last := runLive(t, settle)
			ds, team, manifest := eqObjects(m.Namespace, "regions.db", settle)
			// Task names hash the Metric's UID, which the manifest carries.
			manifest.UID = m.UID
			report := runBacktest(t, writeManifests(t, ds, team, manifest), eqT0.Add(-24*time.Hour), last)
			replayed := decisionsOf(t, report.Events, last)
			replayed.mustExercise(t)
			var lines []string
			for l := range live {
				if !replayed[l] {
					lines = append(lines, "  operator only: "+l)
				}
			}
			for l := range replayed {
				if !live[l] {
					lines = append(lines, "  backtest only: "+l)
				}
			}
			if len(lines) > 0 {
				sort.Strings(lines)
				t.Errorf("the operator and the backtest decided differently:\n%s", strings.Join(lines, "\n"))
			}
		})
	}
}

// runLive runs a manager on a manual clock over eqSteps daily
// evaluations and returns its decisions, the Metric and when it last
// evaluated. The clock stands still between steps, so the test plays the
// operator's timers: at each day's boundary the open tasks wake (the task
// reconciler requeues at the boundary), settleDelay later the Metric
// evaluates (its own requeue), and the step ends once both reconcilers are
// idle.
func runLive(t *testing.T, settle time.Duration) (decisions, *cxv1.Metric, time.Time) {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "equivalence-"}}
	if err := k8sClient.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(eqT0.Add(settle))
	act := startTrackedManager(t, ns.Name, clk)
	ds, team, m := eqObjects(ns.Name, "regions.db", settle)
	for _, o := range []client.Object{ds, team, m} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	d := decisions{}
	seen, open, ended := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var boundary time.Time
	for k := 0; k < eqSteps; k++ {
		boundary = eqT0.Add(time.Duration(k) * 24 * time.Hour)
		stamp := ""
		if k > 0 {
			clk.Set(boundary)
			wakeTasks(t, act, ns.Name, boundary)
			clk.Set(boundary.Add(settle))
			stamp = requestEvaluation(t, team, boundary, settle)
		}
		eventually(t, 30*time.Second, "evaluated "+boundary.Format(time.RFC3339), func() (bool, string) {
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
				return false, err.Error()
			}
			st := m.Status
			var fed *metav1.Time
			if st.Detector != nil {
				fed = st.Detector.FedUntil
			}
			return st.ObservedGeneration == m.Generation && st.LastHandledReconcileAt == stamp && fed != nil && fed.Equal(&metav1.Time{Time: boundary}),
				fmt.Sprintf("generation %d observed %d, handled %q, fed until %v, conditions %v", m.Generation, st.ObservedGeneration,
					st.LastHandledReconcileAt, fed, st.Conditions)
		})
		settleOperator(t, act, ns.Name)

		var tasks cxv1.ImprovementTaskList
		if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns.Name)); err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks.Items {
			if !seen[task.Name] {
				seen[task.Name] = true
				d.add(boundary, "opened", task.Name, " ", episodeKey(task.Spec.Segment, task.Spec.EpisodeStart.Time))
			}
			if final(task.Status.Phase) && !seen[task.Name+" closed"] {
				seen[task.Name+" closed"] = true
				d.add(boundary, strings.ToLower(string(task.Status.Phase)), task.Name)
			}
		}
		for _, h := range m.Status.HeldBackTasks {
			d.add(boundary, "held", episodeKey(h.Segment, h.EpisodeStart.Time), " ", h.Reason)
		}
		current := map[string]bool{}
		for _, s := range m.Status.Detector.Segments {
			if s.EpisodeStart != nil {
				current[episodeKey(s.Segment, s.EpisodeStart.Time)] = true
			}
		}
		for ep := range open {
			if !current[ep] {
				d.add(boundary, "ended", ep)
				ended[ep] = true
			}
		}
		open = current
	}
	episodeEndedEvents(t, ns.Name, ended)
	return d, m, boundary.Add(settle)
}

// requestEvaluation makes the Metric evaluate now and returns the reconcile
// request it then reports handled. Without a settle delay it asks with
// the reconcile annotation, as a user would; the annotation is a write to
// the Metric, which wakes its tasks too, a repeat of their pass at the
// boundary. With one, nothing may wake the tasks between the boundary and
// the evaluation (in the cluster nothing does), so the request goes
// through the owning Team, whose change re-evaluates its Metrics.
func requestEvaluation(t *testing.T, team *cxv1.Team, boundary time.Time, settle time.Duration) string {
	t.Helper()
	ctx := context.Background()
	if settle == 0 {
		stamp := boundary.Format(time.RFC3339)
		obj := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: eqMetric, Namespace: team.Namespace,
			Annotations: map[string]string{cxv1.ReconcileRequestAnnotation: stamp}}}
		if err := k8sClient.Patch(ctx, obj, client.MergeFrom(&cxv1.Metric{})); err != nil {
			t.Fatal(err)
		}
		return stamp
	}
	obj := &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: team.Name, Namespace: team.Namespace},
		Spec: cxv1.TeamSpec{DisplayName: "Regions, evaluated " + boundary.Format(time.RFC3339)}}
	if err := k8sClient.Patch(ctx, obj, client.MergeFrom(&cxv1.Team{})); err != nil {
		t.Fatal(err)
	}
	return ""
}

// episodeEndedEvents checks that the Metric announced each segment whose
// episode ended with an EpisodeEnded event.
func episodeEndedEvents(t *testing.T, ns string, ended map[string]bool) {
	t.Helper()
	eventually(t, 10*time.Second, "EpisodeEnded events", func() (bool, string) {
		var list eventsv1.EventList
		if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		notes := ""
		for _, e := range list.Items {
			if e.Reason == "EpisodeEnded" && e.Regarding.Name == eqMetric {
				notes += e.Note + "\n"
			}
		}
		for ep := range ended {
			seg, err := strconv.Unquote(ep[:strings.LastIndex(ep, "@")])
			if err != nil {
				return false, err.Error()
			}
			if seg == "" {
				seg = "(all)"
			}
			if !strings.Contains(notes, "episode in "+seg+" ended") {
				return false, "no EpisodeEnded event for " + seg + "; events: " + notes
			}
		}
		return true, ""
	})
}

// wakeTasks plays the task reconciler's requeue at the boundary: every
// open task is reconciled at the new time, on the Metric's status of the
// previous evaluation.
func wakeTasks(t *testing.T, act *activity, ns string, now time.Time) {
	t.Helper()
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(context.Background(), &tasks, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	before := map[string]int{}
	for _, task := range tasks.Items {
		if final(task.Status.Phase) {
			continue
		}
		before[task.Name] = act.reads(task.Name)
		obj := &cxv1.ImprovementTask{ObjectMeta: metav1.ObjectMeta{Name: task.Name, Namespace: ns,
			Annotations: map[string]string{"e2e.cxloop.dev/wake": now.Format(time.RFC3339)}}}
		if err := k8sClient.Patch(context.Background(), obj, client.MergeFrom(&cxv1.ImprovementTask{})); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "tasks woken at "+now.Format(time.RFC3339), func() (bool, string) {
		for name, n := range before {
			if act.reads(name) <= n {
				return false, name + " not reconciled yet"
			}
		}
		return true, ""
	})
	settleOperator(t, act, ns)
}

// settleOperator waits until every task has been reconciled at its latest
// generation and the manager has been idle for a while.
func settleOperator(t *testing.T, act *activity, ns string) {
	t.Helper()
	eventually(t, 20*time.Second, "the operator settled", func() (bool, string) {
		var tasks cxv1.ImprovementTaskList
		if err := k8sClient.List(context.Background(), &tasks, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		for _, task := range tasks.Items {
			if task.Status.Phase == "" || task.Status.ObservedGeneration != task.Generation {
				return false, "task " + task.Name + " not reconciled"
			}
		}
		return act.idle(300 * time.Millisecond), "manager busy"
	})
}
