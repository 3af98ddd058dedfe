package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/demodata"
)

// Piped or redirected, progress writes nothing: the report alone is the
// output.
func TestProgressIsSilentWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "backtest", 2, 10)
	p.evaluated(5)
	p.metricDone()
	p.finish()
	if buf.Len() != 0 {
		t.Fatalf("progress wrote %q to a pipe", buf.String())
	}
}

// On a terminal it rewrites one line with the Metrics done, the
// evaluations replayed and the time left at the rate so far, and clears
// it at the end.
func TestProgressLineShowsWorkAndTimeLeft(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	p := newProgressTo(&buf, "backtest", 4, 100, func() time.Time { return clock })
	clock = clock.Add(time.Second)
	p.metricDone()
	if line := buf.String(); strings.Contains(line, "left") {
		t.Fatalf("a time left after a second: %q", line)
	}
	p.done = 0
	clock = clock.Add(29 * time.Second)
	p.evaluated(25)
	p.metricDone()
	line := buf.String()
	last := line[strings.LastIndex(line, "\r")+1:]
	if want := "backtest: 1/4 Metrics, 25/100 evaluations, about 1m30s left"; strings.TrimRight(last, " ") != want {
		t.Fatalf("line %q, want %q", last, want)
	}
	// Redraws are throttled between forced ones.
	before := buf.Len()
	p.evaluated(1)
	if buf.Len() != before {
		t.Fatalf("redrew within %s: %q", p.every, buf.String()[before:])
	}
	p.finish()
	end := buf.String()[before:]
	if !strings.HasPrefix(end, "\r") || !strings.HasSuffix(end, "\r") || strings.TrimSpace(end) != "" {
		t.Fatalf("finish wrote %q, want the line blanked", end)
	}
}

// forEach calls f once for every index, on up to GOMAXPROCS goroutines.
func TestForEachRunsEveryIndexOnce(t *testing.T) {
	const n = 57
	var calls [n]atomic.Int32
	var running, most atomic.Int32
	forEach(n, func(i int) {
		r := running.Add(1)
		for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
		}
		time.Sleep(time.Millisecond)
		calls[i].Add(1)
		running.Add(-1)
	})
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("index %d called %d times", i, c)
		}
	}
	if m := most.Load(); int(m) > runtime.GOMAXPROCS(0) {
		t.Fatalf("%d at once, GOMAXPROCS is %d", m, runtime.GOMAXPROCS(0))
	}
}

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
