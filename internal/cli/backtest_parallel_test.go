package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/demodata"
)

// Metrics replayed at once give the very report one at a time gives,
// events in the same order.
func TestBacktestInParallelGivesTheSequentialReport(t *testing.T) {
	dir := t.TempDir()
	sc := demodata.DefaultScript()
	sc.Scale = 0.5
	if _, err := demodata.Generate(filepath.Join(dir, "warehouse.db"), sc); err != nil {
		t.Fatal(err)
	}
	args := []string{"backtest", "-f", filepath.Join("..", "..", "config", "samples"), "--data-root", dir,
		"--from", sc.T0.Add(-40 * 24 * time.Hour).Format(time.RFC3339), "--to", sc.T0.Add(11 * 24 * time.Hour).Format(time.RFC3339),
		"--resolve-after", "72h", "-o", "json"}
	run := func(procs int) string {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		code, out, errOut := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("backtest exited %d: %s", code, errOut)
		}
		return out
	}
	sequential, parallel := run(1), run(4)
	var report BacktestReport
	if err := json.Unmarshal([]byte(sequential), &report); err != nil {
		t.Fatal(err)
	}
	metrics := map[string]bool{}
	for _, e := range report.Events {
		metrics[e.Metric] = true
	}
	if len(metrics) < 2 {
		t.Fatalf("events of %d Metrics, want several to interleave: %s", len(metrics), sequential)
	}
	if parallel != sequential {
		t.Fatalf("parallel report differs:\n%s\nsequential:\n%s", parallel, sequential)
	}
}

// Two Metrics of one table that differ only in their survey share one
// history statement in backtest, and each gets exactly the events it
// gets when backtested alone.
func TestBacktestSharedHistoryGivesEachMetricItsOwnEvents(t *testing.T) {
	psat := strings.NewReplacer("name: support-csat", "name: product-psat", `values: ["csat"]`, `values: ["psat"]`, "target: 80", "target: 95",
		"kind: DataSource", "kind: Ignored").Replace(csatManifest(""))
	psat = psat[strings.Index(psat, "---\n")+4:]
	together, sc := backtestWarehouse(t, 0.5, csatManifest("")+"---\n"+psat)
	both, _ := backtestJSON(t, together, sc, 20, "--resolve-after", "72h")
	alone := []BacktestReport{}
	for _, name := range []string{"support-csat", "product-psat"} {
		dir := t.TempDir()
		manifest := csatManifest("")
		if name == "product-psat" {
			manifest = manifest[:strings.Index(manifest, "---\n")+4] + psat
		}
		if err := os.Link(filepath.Join(together, "warehouse.db"), filepath.Join(dir, "warehouse.db")); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "manifests"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "manifests", "m.yaml"), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		r, _ := backtestJSON(t, dir, sc, 20, "--resolve-after", "72h")
		alone = append(alone, r)
	}
	byMetric := map[string][]string{}
	for _, e := range both.Events {
		b, _ := json.Marshal(e)
		byMetric[e.Metric] = append(byMetric[e.Metric], string(b))
	}
	for i, name := range []string{"support-csat", "product-psat"} {
		var want []string
		for _, e := range alone[i].Events {
			b, _ := json.Marshal(e)
			want = append(want, string(b))
		}
		if len(want) == 0 {
			t.Fatalf("%s alone: no events, the comparison would be empty", name)
		}
		if strings.Join(byMetric[name], "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s together:\n%s\nalone:\n%s", name, strings.Join(byMetric[name], "\n"), strings.Join(want, "\n"))
		}
	}
}
