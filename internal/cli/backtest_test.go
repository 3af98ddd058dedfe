package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/testutil"
)

// On a warehouse with a planted CSAT drop at T0+5d, backtest reports one
// episode for the metric, starting after the drop, and none before it.
func TestBacktestFindsThePlantedDropOnly(t *testing.T) {
	dir := t.TempDir()
	sc := demodata.DefaultScript()
	sc.Scale = 0.5
	if _, err := demodata.Generate(filepath.Join(dir, "warehouse.db"), sc); err != nil {
		t.Fatal(err)
	}
	samples := filepath.Join("..", "..", "config", "samples")
	args := []string{"backtest", "-f", filepath.Join(samples, "metric-csat.yaml"), "-f", filepath.Join(samples, "datasource-warehouse.yaml"),
		"--data-root", dir, "--from", sc.T0.Add(-60 * 24 * time.Hour).Format(time.RFC3339), "--to", sc.T0.Add(11 * 24 * time.Hour).Format(time.RFC3339)}
	code, out, errOut := runCLI(t, append(args, "-o", "json")...)
	if code != ExitOK {
		t.Fatalf("backtest exited %d: %s", code, errOut)
	}
	var report BacktestReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	drop := sc.At(sc.SupportCSAT.Start)
	opened := 0
	for _, e := range report.Events {
		if e.Event != "TaskOpened" {
			continue
		}
		if e.Metric == "support-csat" && e.Segment == "" {
			opened++
			if e.EpisodeStart.Before(drop) || e.At.Before(drop) {
				t.Fatalf("episode %+v starts before the drop at %s", e, drop)
			}
		} else {
			t.Fatalf("unexpected episode %+v", e)
		}
	}
	if opened != 1 {
		t.Fatalf("want one episode of support-csat, got %d: %+v", opened, report.Events)
	}

	code, table, _ := runCLI(t, args...)
	if code != ExitOK || !strings.Contains(table, "TaskOpened") || !strings.Contains(table, "support-csat") ||
		strings.Count(table, "TaskOpened") != 1 {
		t.Fatalf("table form:\n%s", table)
	}
}

// csatManifest is support CSAT over the demo warehouse, with extra spec
// lines (indented two spaces) appended.
func csatManifest(extra string) string {
	return `apiVersion: cxloop.dev/v1alpha1
kind: DataSource
metadata:
  name: warehouse
spec:
  type: sqlite
  sqlite:
    path: warehouse.db
---
apiVersion: cxloop.dev/v1alpha1
kind: Metric
metadata:
  name: support-csat
spec:
  owner:
    team: support-operations
  source:
    name: warehouse
  formula: csat
  scale: {min: 1, max: 5}
  satisfiedMin: 4
  query:
    table: survey_responses
    columns:
      value: score
      time: responded_at
    filters:
      - column: survey
        operator: Equals
        values: ["csat"]
  window: 720h
  interval: 24h
  objective:
    target: 80
    minSamples: 50
    minShift: 5
` + extra
}

// backtestWarehouse generates the demo warehouse (its support CSAT drops
// at T0+5d and is restored at T0+12d) and writes manifest next to it.
func backtestWarehouse(t *testing.T, scale float64, manifest string) (dir string, sc demodata.Script) {
	t.Helper()
	dir = t.TempDir()
	sc = demodata.DefaultScript()
	sc.Scale = scale
	if _, err := demodata.Generate(filepath.Join(dir, "warehouse.db"), sc); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "manifests"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifests", "csat.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, sc
}

// backtestJSON runs backtest -o json over the manifests of dir from
// T0−60d for days days past T0, and decodes its report; raw is the JSON.
func backtestJSON(t *testing.T, dir string, sc demodata.Script, days int, extra ...string) (report BacktestReport, raw string) {
	t.Helper()
	args := append([]string{"backtest", "-f", filepath.Join(dir, "manifests"), "--data-root", dir,
		"--from", sc.T0.Add(-60 * 24 * time.Hour).Format(time.RFC3339),
		"--to", sc.T0.Add(time.Duration(days) * 24 * time.Hour).Format(time.RFC3339), "-o", "json"}, extra...)
	code, out, errOut := runCLI(t, args...)
	if code != ExitOK {
		t.Fatalf("backtest exited %d: %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(report.Errors) != 0 {
		t.Fatalf("backtest errors: %v", report.Errors)
	}
	return report, out
}

// Every TaskOpened names the task the operator would create, and the
// events that follow that task carry the same name.
func TestBacktestEventsNameTheirTask(t *testing.T) {
	dir, sc := backtestWarehouse(t, 0.5, csatManifest(""))
	report, raw := backtestJSON(t, dir, sc, 30, "--resolve-after", "72h")
	// The name is the JSON's "task", what scripts read.
	var generic struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal([]byte(raw), &generic); err != nil {
		t.Fatal(err)
	}
	for _, e := range generic.Events {
		if name, _ := e["task"].(string); e["event"] == "TaskOpened" && name == "" {
			t.Fatalf("TaskOpened without a \"task\": %v", e)
		}
	}
	byEpisode := map[string]string{}
	for _, e := range report.Events {
		if e.Event != "TaskOpened" {
			continue
		}
		if !strings.HasPrefix(e.Task, "support-csat-") {
			t.Fatalf("TaskOpened without the task's name: %+v", e)
		}
		byEpisode[e.Segment+"@"+e.EpisodeStart.String()] = e.Task
	}
	if len(byEpisode) == 0 {
		t.Fatalf("no task opened: %+v", report.Events)
	}
	followed := 0
	for _, e := range report.Events {
		if e.Event == "TaskOpened" || e.Event == "HeldBack" || e.Event == "EpisodeEnded" {
			continue
		}
		followed++
		if want := byEpisode[e.Segment+"@"+e.EpisodeStart.String()]; e.Task != want {
			t.Fatalf("%s names task %q, the episode's task is %q", e.Event, e.Task, want)
		}
	}
	if followed == 0 {
		t.Fatalf("no event followed a task: %+v", report.Events)
	}
}

// With maxOpenTasks 1 and the drop in every account segment (CSAT falls
// for all of them), one task opens and the other episodes, two segments
// at least, are held back for the metric's capacity.
func TestBacktestHoldsBackBeyondTheMetricsCapacity(t *testing.T) {
	dir, sc := backtestWarehouse(t, 1, csatManifest("  segmentBy: [segment]\n  improvement:\n    maxOpenTasks: 1\n"))
	report, _ := backtestJSON(t, dir, sc, 16)
	// Capacity holds at every moment: a task that closes (Recovered) frees
	// its slot for a held-back episode, as in the operator.
	open, most, heldSegments := 0, 0, map[string]bool{}
	for _, e := range report.Events {
		switch e.Event {
		case "TaskOpened":
			open++
			most = max(most, open)
		case "Recovered", "Verified", "Dismissed", "Cancelled":
			open--
		case "HeldBack":
			if e.Reason != "MetricCapacity" {
				t.Errorf("held back for %q: %+v", e.Reason, e)
			}
			heldSegments[e.Segment] = true
		}
	}
	if most != 1 || len(heldSegments) < 2 {
		t.Fatalf("up to %d tasks open at once, held back %v; want one at a time and the other drops held back: %+v", most, heldSegments, report.Events)
	}
}

// Owners played by --resolve-after: each task is resolved 72h after it
// opens, and verification on the data that follows says whether the fix
// held (Verified) or not (Reopened).
func TestBacktestResolvesAndVerifies(t *testing.T) {
	dir, sc := backtestWarehouse(t, 0.5, csatManifest(""))
	report, _ := backtestJSON(t, dir, sc, 40, "--resolve-after", "72h")
	var opened, resolved *time.Time
	judged := map[string]bool{}
	for _, e := range report.Events {
		switch e.Event {
		case "TaskOpened":
			if opened == nil {
				opened = &e.At
			}
		case "Resolved":
			if opened == nil {
				t.Fatalf("resolved before any task opened: %+v", e)
			}
			if resolved == nil {
				resolved = &e.At
				if got := e.At.Sub(*opened); got < 72*time.Hour {
					t.Fatalf("resolved %s after opening, want 72h", got)
				}
			}
		case "Verified", "Reopened":
			if resolved == nil || e.At.Before(*resolved) {
				t.Fatalf("%s before any resolution: %+v", e.Event, e)
			}
			judged[e.Event] = true
		}
	}
	if resolved == nil || len(judged) == 0 {
		t.Fatalf("want Resolved then Verified or Reopened: %+v", report.Events)
	}
	// The warehouse's fix lands at T0+12d: a resolution after it is
	// verified, whatever was reopened before.
	if !judged["Verified"] {
		t.Fatalf("the restored CSAT was never verified: %+v", report.Events)
	}
}

// A Metric that leaves improvement out gets the CRD schema's defaults
// offline, as the API server would give it: the backtest runs and opens
// the task.
func TestBacktestAppliesTheSchemaDefaults(t *testing.T) {
	manifest := csatManifest("")
	if strings.Contains(manifest, "improvement") || strings.Contains(manifest, "timeZone") {
		t.Fatal("the manifest is meant to rely on the schema's defaults")
	}
	dir, sc := backtestWarehouse(t, 0.5, manifest)
	report, _ := backtestJSON(t, dir, sc, 11)
	opened := 0
	for _, e := range report.Events {
		if e.Event == "TaskOpened" && e.Segment == "" {
			opened++
		}
	}
	if opened != 1 {
		t.Fatalf("%d tasks of the whole population opened, want 1: %+v", opened, report.Events)
	}
}

// healthManifests are an account-health Scorecard over the warehouse
// health.db (testutil.WriteHealth) with its DataSource and two Metrics,
// judged on 72h windows.
const healthManifests = `apiVersion: cxloop.dev/v1alpha1
kind: DataSource
metadata: {name: accounts}
spec: {type: sqlite, sqlite: {path: health.db}}
---
apiVersion: cxloop.dev/v1alpha1
kind: Metric
metadata: {name: account-nps}
spec:
  owner: {team: customer-success}
  source: {name: accounts}
  formula: nps
  window: 72h
  query: {table: responses, columns: {value: score, time: responded_at}}
  objective: {target: 30, minSamples: 30}
---
apiVersion: cxloop.dev/v1alpha1
kind: Metric
metadata: {name: first-contact-resolution}
spec:
  owner: {team: customer-success}
  source: {name: accounts}
  formula: rate
  window: 72h
  query: {table: tickets, columns: {value: first_contact, time: resolved_at}}
  objective: {target: 80, minSamples: 30}
---
apiVersion: cxloop.dev/v1alpha1
kind: Scorecard
metadata: {name: account-health}
spec:
  owner: {team: customer-success}
  key: account
  members:
    - {name: nps, metric: account-nps, keyColumn: account}
    - {name: fcr, metric: first-contact-resolution, keyColumn: account}
  objective: {target: 60, window: 72h}
  improvement: {verifyWindow: 240h}
`

// One account of twenty falls from a healthy 70 to 15 on day 9 and stays
// there: backtest replays the Scorecard's windows and reports one task,
// for that account, when the window [9, 12) closes; with owners resolving
// a day after each opening the fix, which changed nothing, is never
// verified.
func TestBacktestReplaysAScorecardsAccounts(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Truncate(72 * time.Hour)
	day := func(d int) time.Time { return start.Add(time.Duration(d) * 24 * time.Hour) }
	testutil.WriteHealth(t, filepath.Join(dir, "health.db"), start, 40, func(a, d int) float64 {
		if a == 1 && d >= 9 {
			return 15
		}
		return 70
	})
	manifests := filepath.Join(dir, "health.yaml")
	if err := os.WriteFile(manifests, []byte(healthManifests), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "backtest", "-f", manifests, "--data-root", dir, "--from", day(3).Format(time.RFC3339),
		"--to", day(40).Format(time.RFC3339), "--resolve-after", "24h", "-o", "json")
	if code != ExitOK {
		t.Fatalf("backtest exited %d: %s", code, errOut)
	}
	var report BacktestReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(report.Errors) > 0 {
		t.Fatalf("errors: %v", report.Errors)
	}
	var opened, resolved int
	for _, e := range report.Events {
		if e.Metric != "scorecard/account-health" {
			continue
		}
		switch e.Event {
		case "TaskOpened":
			opened++
			if e.Segment != "account=acct-01" || !e.EpisodeStart.Equal(day(9)) || e.At.Before(day(12)) {
				t.Errorf("task opened %+v, want acct-01's for the window from %s", e, day(9))
			}
		case "Resolved":
			resolved++
		case "Verified":
			t.Errorf("a fix that changed nothing was verified: %+v", e)
		}
	}
	if opened != 1 || resolved < 1 {
		t.Fatalf("%d tasks opened and %d resolutions, want one task resolved: %+v", opened, resolved, report.Events)
	}
}
