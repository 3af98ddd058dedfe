package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The demo warehouse's support CSAT drops at T0+5d and is restored at
// T0+12d. Excluding exactly that period, the backtest opens no task and
// reports the exclusion once, as Excluded, when the first excluded
// interval is evaluated.
func TestBacktestReportsExcludedPeriodsAndOpensNothingInThem(t *testing.T) {
	dir, sc := backtestWarehouse(t, 0.5, csatManifest(""))
	drop, restore := sc.At(sc.SupportCSAT.Start), sc.At(sc.SupportCSAT.Restore)
	report, _ := backtestJSON(t, dir, sc, 30)
	opened := 0
	for _, e := range report.Events {
		if e.Event == "TaskOpened" {
			opened++
		}
	}
	if opened == 0 {
		t.Fatalf("the drop opened no task without an exclusion: the test proves nothing: %+v", report.Events)
	}

	exclusion := fmt.Sprintf("  exclusions:\n  - name: support-outage\n    start: %q\n    end: %q\n    reason: ticketing system down\n",
		drop.Format(time.RFC3339), restore.Format(time.RFC3339))
	dir, sc = backtestWarehouse(t, 0.5, csatManifest(exclusion))
	report, _ = backtestJSON(t, dir, sc, 30)
	var excluded []string
	for _, e := range report.Events {
		switch e.Event {
		case "TaskOpened", "HeldBack":
			t.Fatalf("the excluded drop opened a task: %+v", e)
		case "Excluded":
			if !e.At.Equal(drop.Add(24*time.Hour)) || !strings.Contains(e.Reason, "support-outage") ||
				!strings.Contains(e.Reason, restore.UTC().Format(time.RFC3339)) || !strings.Contains(e.Reason, "ticketing system down") {
				t.Errorf("Excluded event %+v: want it at the end of the first excluded day, naming the exclusion, its end and reason", e)
			}
			excluded = append(excluded, e.Reason)
		}
	}
	if len(excluded) != 1 {
		t.Fatalf("want one Excluded event for the one occurrence, got %q", excluded)
	}

	args := []string{"backtest", "-f", dir + "/manifests", "--data-root", dir,
		"--from", sc.T0.Add(-60 * 24 * time.Hour).Format(time.RFC3339), "--to", sc.T0.Add(30 * 24 * time.Hour).Format(time.RFC3339)}
	code, table, errOut := runCLI(t, args...)
	if code != ExitOK || strings.Count(table, "Excluded") != 1 || strings.Contains(table, "0001-01-01") {
		t.Fatalf("table form (exit %d, %s):\n%s", code, errOut, table)
	}
}
