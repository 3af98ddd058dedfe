package cli

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// taskFixture describes one task the inbox tests create.
type taskFixture struct {
	name     string
	team     string
	priority int32
	due      *time.Time
	phase    cxv1.TaskPhase
	attempt  int32
	current  *float64
}

func day(d int) *time.Time {
	t := time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC)
	return &t
}

func ptr(v float64) *float64 { return &v }

// createTask creates a task as the operator would, then sets its status.
func createTask(t *testing.T, ns string, f taskFixture) *cxv1.ImprovementTask {
	t.Helper()
	ctx := context.Background()
	task := &cxv1.ImprovementTask{
		ObjectMeta: metav1.ObjectMeta{Name: f.name, Namespace: ns, Labels: map[string]string{"cxloop.dev/metric": "account-nps"}},
		Spec: cxv1.ImprovementTaskSpec{
			Metric:         "account-nps",
			Segment:        "persona=admin",
			SegmentValues:  map[string]string{"persona": "admin"},
			Team:           f.team,
			EpisodeStart:   metav1.NewTime(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)),
			DefinitionHash: "abc123",
			Baseline: &cxv1.TaskBaseline{Value: 41.5, Lower: 38, Upper: 45, Samples: 400,
				WindowStart: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
				WindowEnd:   metav1.NewTime(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))},
			Objective: cxv1.TaskObjective{Direction: cxv1.AtLeast, Target: 35, MinShift: 5},
			Priority:  f.priority,
			Playbook:  "call the five unhappiest admins",
		},
	}
	if f.due != nil {
		d := metav1.NewTime(*f.due)
		task.Spec.DueDate = &d
	}
	if f.attempt > 1 {
		// A task reaches a later attempt only by reopening after its
		// owner resolved the one before.
		task.Spec.State = cxv1.TaskResolved
		task.Spec.Resolution = &cxv1.Resolution{Note: "an earlier fix", Attempt: f.attempt - 1}
	}
	if err := k8sClient.Create(ctx, task); err != nil {
		t.Fatalf("create %s: %v", f.name, err)
	}
	if f.phase != "" {
		task.Status.Phase = f.phase
		task.Status.Attempt = f.attempt
		if f.current != nil {
			task.Status.Measurements = []cxv1.TaskMeasurement{
				{Time: metav1.NewTime(time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)), Value: ptr(20), Samples: 10},
				{Time: metav1.NewTime(time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC)), Value: f.current, Samples: 30},
			}
		}
		if err := k8sClient.Status().Update(ctx, task); err != nil {
			t.Fatalf("status of %s: %v", f.name, err)
		}
	}
	return task
}

func TestTasksListsTheInboxMostUrgentFirst(t *testing.T) {
	ns := newNamespace(t)
	createTask(t, ns, taskFixture{name: "p3-old", team: "success", priority: 3})
	// Creation times have a resolution of one second; age must differ.
	time.Sleep(1100 * time.Millisecond)
	createTask(t, ns, taskFixture{name: "p3-new", team: "success", priority: 3, phase: cxv1.PhaseOpen, attempt: 1})
	createTask(t, ns, taskFixture{name: "p2-late", team: "success", priority: 2, due: day(20)})
	createTask(t, ns, taskFixture{name: "p2-early", team: "success", priority: 2, due: day(10),
		phase: cxv1.PhaseVerifying, attempt: 2, current: ptr(33.25)})
	createTask(t, ns, taskFixture{name: "p1-nodue", team: "success", priority: 1, phase: cxv1.PhaseInProgress, attempt: 1})
	createTask(t, ns, taskFixture{name: "p1-verified", team: "success", priority: 1, phase: cxv1.PhaseVerified, attempt: 1})
	createTask(t, ns, taskFixture{name: "p1-billing", team: "billing", priority: 1})

	code, out, errOut := runCLI(t, "--kubeconfig", testKubeconfig, "-n", ns, "tasks", "--team", "success", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rows []TaskRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.Name)
	}
	want := []string{"p1-nodue", "p2-early", "p2-late", "p3-old", "p3-new"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("order %v, want %v", names, want)
	}
	early := rows[1]
	if early.Phase != cxv1.PhaseVerifying || early.Attempt != 2 || early.Current == nil || *early.Current != 33.25 ||
		early.Baseline == nil || *early.Baseline != 41.5 || early.Target != 35 || early.Due == nil || !early.Due.Equal(*day(10)) ||
		early.Namespace != ns || early.Team != "success" || early.Metric != "account-nps" || early.Segment != "persona=admin" {
		t.Fatalf("row does not carry the task's values: %+v", early)
	}
	if rows[3].Phase != cxv1.PhaseOpen || rows[3].Current != nil {
		t.Fatalf("a task without status is Open with no current value: %+v", rows[3])
	}

	// The table: same order, the documented columns, no namespace column.
	code, out, errOut = runCLI(t, "--kubeconfig", testKubeconfig, "--namespace", ns, "tasks", "--team=success")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	header := strings.Fields(lines[0])
	wantHeader := []string{"NAME", "PRIORITY", "TEAM", "METRIC", "SEGMENT", "PHASE", "ATTEMPT", "BASELINE", "TARGET", "CURRENT", "DUE"}
	if !reflect.DeepEqual(header, wantHeader) || len(lines) != 6 {
		t.Fatalf("table:\n%s", out)
	}
	second := strings.Fields(lines[2])
	if !reflect.DeepEqual(second, []string{"p2-early", "2", "success", "account-nps", "persona=admin", "Verifying", "2", "41.5", ">=35", "33.25", "2026-03-10"}) {
		t.Fatalf("second row %q", second)
	}

	// -A adds the namespace; --phase selects closed tasks too.
	code, out, _ = runCLI(t, "--kubeconfig", testKubeconfig, "tasks", "-A", "--phase", "verified")
	if code != ExitOK || !strings.HasPrefix(out, "NAMESPACE") || !strings.Contains(out, ns) || !strings.Contains(out, "p1-verified") || strings.Contains(out, "p1-nodue") {
		t.Fatalf("-A --phase verified: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "--kubeconfig", testKubeconfig, "-n", ns, "tasks", "--phase", "all", "-o", "yaml")
	var all []TaskRow
	if err := yaml.Unmarshal([]byte(out), &all); code != ExitOK || err != nil || len(all) != 7 {
		t.Fatalf("--phase all -o yaml: exit %d, %v, %d rows\n%s", code, err, len(all), out)
	}
	if code, _, _ := runCLI(t, "--kubeconfig", testKubeconfig, "tasks", "--phase", "Closed"); code != ExitUsage {
		t.Fatalf("unknown phase: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := runCLI(t, "--kubeconfig", testKubeconfig, "tasks", "-o", "xml"); code != ExitUsage {
		t.Fatalf("unknown output: exit %d, want %d", code, ExitUsage)
	}
}

// getTask reads a task back from the API server.
func getTask(t *testing.T, ns, name string) *cxv1.ImprovementTask {
	t.Helper()
	task := &cxv1.ImprovementTask{}
	if err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, task); err != nil {
		t.Fatal(err)
	}
	return task
}

// assertOnlyOwnerFieldsChanged compares two versions of a task with the
// owner's fields blanked: nothing else may differ.
func assertOnlyOwnerFieldsChanged(t *testing.T, before, after *cxv1.ImprovementTask) {
	t.Helper()
	b, a := before.DeepCopy(), after.DeepCopy()
	for _, x := range []*cxv1.ImprovementTask{b, a} {
		x.Spec.State, x.Spec.Resolution, x.Spec.DismissReason = "", nil, ""
		x.ResourceVersion, x.Generation, x.ManagedFields = "", 0, nil
		// Who acted is recorded beside the owner's fields.
		delete(x.Annotations, ResolvedByAnnotation)
		delete(x.Annotations, DismissedByAnnotation)
		if len(x.Annotations) == 0 {
			x.Annotations = nil
		}
	}
	if !reflect.DeepEqual(b.Spec, a.Spec) || !reflect.DeepEqual(b.Status, a.Status) ||
		!reflect.DeepEqual(b.Labels, a.Labels) || !reflect.DeepEqual(b.Annotations, a.Annotations) {
		t.Fatalf("more than the owner's fields changed\nbefore: %+v\n after: %+v", b, a)
	}
}

func TestOwnerActionsPatchOnlyOwnerFields(t *testing.T) {
	ns := newNamespace(t)
	kc := []string{"--kubeconfig", testKubeconfig, "-n", ns}
	cli := func(args ...string) (int, string, string) { return runCLI(t, append(kc, args...)...) }

	createTask(t, ns, taskFixture{name: "fresh", team: "success", priority: 2})
	createTask(t, ns, taskFixture{name: "reopened", team: "success", priority: 1, phase: cxv1.PhaseReopened, attempt: 2})
	createTask(t, ns, taskFixture{name: "noise", team: "success", priority: 3, phase: cxv1.PhaseOpen, attempt: 1})

	// start
	before := getTask(t, ns, "fresh")
	code, out, errOut := cli("start", "fresh")
	if code != ExitOK || !strings.Contains(out, "improvementtask.cxloop.dev/fresh started") {
		t.Fatalf("start: exit %d\n%s%s", code, out, errOut)
	}
	after := getTask(t, ns, "fresh")
	if after.Spec.State != cxv1.TaskInProgress {
		t.Fatalf("state %q after start", after.Spec.State)
	}
	assertOnlyOwnerFieldsChanged(t, before, after)

	// resolve without status.attempt answers attempt 1.
	before = after
	if code, out, errOut = cli("resolve", "fresh", "--note", "rewrote the admin onboarding email"); code != ExitOK {
		t.Fatalf("resolve: exit %d\n%s%s", code, out, errOut)
	}
	after = getTask(t, ns, "fresh")
	if after.Spec.State != cxv1.TaskResolved || after.Spec.Resolution == nil ||
		after.Spec.Resolution.Note != "rewrote the admin onboarding email" || after.Spec.Resolution.Attempt != 1 {
		t.Fatalf("resolution %+v, state %q", after.Spec.Resolution, after.Spec.State)
	}
	assertOnlyOwnerFieldsChanged(t, before, after)

	// resolve a reopened task answers its current attempt.
	before = getTask(t, ns, "reopened")
	if code, out, errOut = cli("resolve", "reopened", "--note", "second fix"); code != ExitOK {
		t.Fatalf("resolve reopened: exit %d\n%s%s", code, out, errOut)
	}
	after = getTask(t, ns, "reopened")
	if after.Spec.Resolution == nil || after.Spec.Resolution.Attempt != 2 {
		t.Fatalf("want attempt 2, got %+v", after.Spec.Resolution)
	}
	assertOnlyOwnerFieldsChanged(t, before, after)

	// dismiss needs a reason; with one, only the owner's fields change.
	if code, _, _ = cli("dismiss", "noise"); code != ExitUsage {
		t.Fatalf("dismiss without --reason: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ = cli("resolve", "noise", "--note", "  "); code != ExitUsage {
		t.Fatalf("resolve with a blank note: exit %d, want %d", code, ExitUsage)
	}
	before = getTask(t, ns, "noise")
	if code, out, errOut = cli("dismiss", "noise", "--reason", "survey sent twice"); code != ExitOK {
		t.Fatalf("dismiss: exit %d\n%s%s", code, out, errOut)
	}
	after = getTask(t, ns, "noise")
	if after.Spec.State != cxv1.TaskDismissed || after.Spec.DismissReason != "survey sent twice" {
		t.Fatalf("after dismiss: %+v", after.Spec)
	}
	assertOnlyOwnerFieldsChanged(t, before, after)

	// The API server's refusal is shown, and nothing changes.
	code, _, errOut = cli("start", "noise")
	if code != ExitError || !strings.Contains(errOut, "a dismissed task stays dismissed") {
		t.Fatalf("start a dismissed task: exit %d, stderr %q", code, errOut)
	}
	if got := getTask(t, ns, "noise"); got.Spec.State != cxv1.TaskDismissed {
		t.Fatalf("refused start changed the task: %q", got.Spec.State)
	}
	code, _, errOut = cli("resolve", "missing", "--note", "x")
	if code != ExitError || !strings.Contains(errOut, `no improvement task "missing"`) {
		t.Fatalf("missing task: exit %d, stderr %q", code, errOut)
	}
	// Completion offers the tasks still open: not the dismissed one.
	code, out, _ = cli("__complete", "resolve", "")
	if code != ExitOK || !strings.Contains(out, "fresh\n") || !strings.Contains(out, "reopened\n") || strings.Contains(out, "noise") {
		t.Fatalf("completion: exit %d\n%s", code, out)
	}
	if code, _, _ = cli("start"); code != ExitUsage {
		t.Fatalf("start without TASK: exit %d, want %d", code, ExitUsage)
	}
}

func TestSortTaskRowsPutsUndatedTasksLast(t *testing.T) {
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := []TaskRow{
		{Name: "undated", Priority: 2, Created: old},
		{Name: "dated", Priority: 2, Due: day(30), Created: old.Add(time.Hour)},
		{Name: "b", Priority: 4, Created: old},
		{Name: "a", Priority: 4, Created: old},
	}
	SortTaskRows(rows)
	var got []string
	for _, r := range rows {
		got = append(got, r.Name)
	}
	if want := []string{"dated", "undated", "a", "b"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestResolvePatchIsRefusedOnAStaleRead(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	stale := createTask(t, ns, taskFixture{name: "raced", team: "success", priority: 2, phase: cxv1.PhaseOpen, attempt: 1})
	// The operator reopens the task between the owner's read and patch.
	fresh := getTask(t, ns, "raced")
	fresh.Status.Phase, fresh.Status.Attempt = cxv1.PhaseReopened, 2
	if err := k8sClient.Status().Update(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(resolvePatch(stale, "fix for attempt 1"))
	if err != nil {
		t.Fatal(err)
	}
	err = k8sClient.Patch(ctx, stale.DeepCopy(), client.RawPatch(types.MergePatchType, body))
	if !apierrors.IsConflict(err) {
		t.Fatalf("a resolution of a stale attempt must conflict, got %v", err)
	}
	if got := getTask(t, ns, "raced"); got.Spec.Resolution != nil {
		t.Fatalf("stale resolution written: %+v", got.Spec.Resolution)
	}
	patch := resolvePatch(&cxv1.ImprovementTask{}, "n")
	if a := patch["spec"].(map[string]any)["resolution"].(map[string]any)["attempt"]; a != int32(1) {
		t.Fatalf("attempt without status: %v, want 1", a)
	}
}
