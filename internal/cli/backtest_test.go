package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/demodata"
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
