package cli

import (
	"database/sql"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"

	"github.com/cxloop/cxloop/internal/demodata"
)

// plan on the samples over a generated warehouse gives the values a plain
// SQL computation of the same windows gives.
func TestPlanMatchesAnIndependentComputation(t *testing.T) {
	dir := t.TempDir()
	sc := demodata.DefaultScript()
	sc.Scale = 0.3
	if _, err := demodata.Generate(filepath.Join(dir, "warehouse.db"), sc); err != nil {
		t.Fatal(err)
	}
	at := sc.T0.Add(12 * 24 * 3600e9)
	code, out, errOut := runCLI(t, "plan", "-f", filepath.Join("..", "..", "config", "samples"), "--data-root", dir,
		"--at", at.Format("2006-01-02T15:04:05Z"), "-o", "json")
	if code != ExitOK {
		t.Fatalf("plan exited %d: %s", code, errOut)
	}
	var report PlanReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, out)
	}
	byName := map[string]PlanMetric{}
	for _, m := range report.Metrics {
		byName[m.Name] = m
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "warehouse.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	from, to := at.Add(-720*3600e9).Format(demodata.TimeLayout), at.Format(demodata.TimeLayout)

	// CSAT top-2 box over rated answers, by the answer's time.
	var satisfied, rated float64
	if err := db.QueryRow(`SELECT SUM(score >= 4), COUNT(score) FROM survey_responses
		WHERE survey = 'csat' AND responded_at >= ? AND responded_at < ?`, from, to).Scan(&satisfied, &rated); err != nil {
		t.Fatal(err)
	}
	csat := byName["support-csat"]
	if csat.Value == nil || math.Abs(*csat.Value-100*satisfied/rated) > 1e-9 || csat.Samples != int64(rated) {
		t.Fatalf("support-csat: plan %v on %d, SQL %v on %v", csat.Value, csat.Samples, 100*satisfied/rated, rated)
	}

	// Weighted NPS by interaction time: Σw·(promoter − detractor)/Σw.
	var sw, swp, swd float64
	if err := db.QueryRow(`SELECT SUM(revenue_weight), SUM(revenue_weight * (score >= 9)), SUM(revenue_weight * (score <= 6))
		FROM survey_responses WHERE survey = 'nps' AND score IS NOT NULL AND interaction_at >= ? AND interaction_at < ?`,
		from, to).Scan(&sw, &swp, &swd); err != nil {
		t.Fatal(err)
	}
	nps := byName["account-nps"]
	if want := 100 * (swp - swd) / sw; nps.Value == nil || math.Abs(*nps.Value-want) > 1e-9 {
		t.Fatalf("account-nps: plan %v, SQL %v", nps.Value, want)
	}
	if len(nps.Segments) != 3 {
		t.Fatalf("account-nps segments: %+v", nps.Segments)
	}

	// The sample scorecard is scored offline too: every account with
	// data, those at risk most valuable first, each below the target.
	if len(report.Scorecards) != 1 {
		t.Fatalf("scorecards: %+v", report.Scorecards)
	}
	health := report.Scorecards[0]
	if health.Error != "" || health.Index == nil || health.Accounts < 200 || len(health.AtRisk) == 0 {
		t.Fatalf("account-health: %+v", health)
	}
	var atRisk float64
	for i, a := range health.AtRisk {
		if a.Score >= health.Target || a.Value == nil || (i > 0 && *a.Value > *health.AtRisk[i-1].Value) || a.PulledDownBy == "" {
			t.Fatalf("account at risk %d: %+v", i, a)
		}
		atRisk += *a.Value
	}
	if len(health.AtRisk) < cxv1.MaxScorecardAccountsListed && math.Abs(atRisk-health.ValueAtRisk) > 1e-6*atRisk {
		t.Errorf("value at risk %v, the accounts listed sum to %v", health.ValueAtRisk, atRisk)
	}
	// A task would open only for an account whose latest closed window
	// lies beyond the detector's reference, target − minShift/2.
	if health.WouldOpen == nil {
		t.Fatal("account-health: no list of the tasks it would open")
	}
	for _, w := range health.WouldOpen {
		if w.Score >= health.Target-5 || w.EpisodeStart.IsZero() {
			t.Errorf("would open a task for %+v, which is not below %v", w, health.Target-5)
		}
	}

	// Below minSamples a value is null, never a number.
	for _, m := range report.Metrics {
		for _, s := range m.Segments {
			if s.State == "InsufficientData" && s.Value != nil {
				t.Fatalf("%s %s: InsufficientData with value %v", m.Name, s.Segment, *s.Value)
			}
		}
	}
	// A longer replay through the detector finds the same CSAT episode.
	code, out, errOut = runCLI(t, "plan", "-f", filepath.Join("..", "..", "config", "samples", "metric-csat.yaml"),
		"-f", filepath.Join("..", "..", "config", "samples", "datasource-warehouse.yaml"), "--data-root", dir,
		"--at", at.Format("2006-01-02T15:04:05Z"), "--since", "1440h", "-o", "json")
	var longer PlanReport
	if code != ExitOK || json.Unmarshal([]byte(out), &longer) != nil {
		t.Fatalf("plan --since exited %d: %s", code, errOut)
	}
	for _, task := range report.Tasks {
		if task.Metric != "support-csat" {
			continue
		}
		if len(longer.Tasks) != 1 || !longer.Tasks[0].EpisodeStart.Equal(task.EpisodeStart) {
			t.Fatalf("--since 1440h tasks %+v, want the episode from %s", longer.Tasks, task.EpisodeStart)
		}
	}

	// The planted drops of the first days open tasks, nothing else does.
	if len(report.Tasks) == 0 {
		t.Fatal("no task would open 7 days after a 15-point CSAT drop")
	}
	want := map[string]bool{"support-csat/": true, "journey-ces/stage=integration": true, "first-contact-resolution/category=integration": true}
	for _, task := range report.Tasks {
		if !want[task.Metric+"/"+task.Segment] {
			t.Errorf("unexpected task %+v", task)
		}
		if task.EpisodeStart.Before(sc.T0) {
			t.Errorf("task %+v starts before any drop", task)
		}
		// Each task states the fresh volume that would verify its fix.
		if task.FreshSamples <= 0 || task.TimeToVerify == "" {
			t.Errorf("task %+v states no fresh volume to verify", task)
		}
	}
}

// plan, backtest and validate decide offline with the engine: the package
// behind them links no reconciler and no manager (only the demo command,
// which runs the manager, does, from a package of its own).
func TestPlanBacktestAndValidateLinkNoController(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "github.com/cxloop/cxloop/controllers", "github.com/cxloop/cxloop/internal/demo",
			"sigs.k8s.io/controller-runtime/pkg/manager", "sigs.k8s.io/controller-runtime/pkg/envtest":
			t.Errorf("internal/cli imports %s", dep)
		}
	}
}
