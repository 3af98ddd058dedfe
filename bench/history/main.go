// Command history measures a backtest over years of history against one
// GROUP BY over the same SQLite file: `kubectl cx backtest` (run in
// process, the very command) over five years of eleven daily Metrics,
// 2.4 million survey responses indexed on (survey, responded_at), against
// the one aggregate that answers every Metric's daily buckets by segment,
// run in process through the same driver the source uses (and, for
// reference, by the sqlite3 shell when it is installed).
//
// A replay reads each query's interval buckets once (source.History) and
// merges them for every window, baseline, calibration step and interval
// of the feed, so its reads cost about one pass per query over the file;
// the decisions themselves are the rest. It prints both times and their
// ratio.
//
//	go run ./bench/history [-rows 2400000] [-metrics 11] [-years 5]
//	make bench
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	_ "modernc.org/sqlite"

	"github.com/cxloop/cxloop/internal/cli"
	"github.com/cxloop/cxloop/internal/demodata"
)

// groupBy answers every Metric's daily buckets by stage in one pass.
const groupBy = `SELECT survey, stage, substr(responded_at, 1, 10) AS day, score, count(*)
FROM survey_responses GROUP BY survey, stage, day, score`

var stages = []string{"onboarding", "integration", "training", "support"}

func main() {
	dir := flag.String("dir", filepath.Join(os.TempDir(), "cxloop-bench-history"), "directory of the SQLite file and manifests (the file is reused when its size matches)")
	rows := flag.Int("rows", 2_400_000, "survey responses in all")
	metrics := flag.Int("metrics", 11, "daily Metrics, one survey each")
	years := flag.Int("years", 5, "years of history, all replayed")
	cpuProfile := flag.String("cpuprofile", "", "write the backtest's CPU profile to this file")
	index := flag.Bool("index", true, "keep the index on (survey, responded_at); -index=false measures a copy without it")
	flag.Parse()
	end := time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(-*years, 0, 0)
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fail("%v", err)
	}
	db := filepath.Join(*dir, fmt.Sprintf("history-%d-%d-%d.db", *rows, *metrics, *years))
	if _, err := os.Stat(db); err != nil {
		began := time.Now()
		if err := generate(db, *rows, *metrics, start, end); err != nil {
			os.Remove(db)
			fail("generate: %v", err)
		}
		fmt.Printf("wrote %s in %s\n", db, time.Since(began).Round(time.Second))
	}
	if !*index {
		bare := strings.TrimSuffix(db, ".db") + "-noindex.db"
		if err := withoutIndex(db, bare); err != nil {
			fail("copy without the index: %v", err)
		}
		db = bare
	}
	if err := writeManifests(*dir, filepath.Base(db), *metrics); err != nil {
		fail("manifests: %v", err)
	}
	info, err := os.Stat(db)
	if err != nil {
		fail("%v", err)
	}
	fmt.Printf("%s: %.0f MB, %d responses, %d Metrics over %d years\n", db, float64(info.Size())/1e6, *rows, *metrics, *years)

	if shell, shellCPU, ok, err := shellBaseline(db); err != nil {
		fail("baseline: %v", err)
	} else if ok {
		fmt.Printf("one GROUP BY, sqlite3 shell (C SQLite, for reference): %s, %s CPU\n", shell.Round(time.Millisecond), shellCPU.Round(time.Millisecond))
	}
	base, baseCPU, err := baseline(db)
	if err != nil {
		fail("baseline: %v", err)
	}
	fmt.Printf("one GROUP BY, in process through modernc.org/sqlite (the source's driver): %s, %s CPU\n", base.Round(time.Millisecond), baseCPU.Round(time.Millisecond))

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fail("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail("%v", err)
		}
	}
	cpu0 := cpuTime()
	began := time.Now()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), []string{"backtest", "-f", filepath.Join(*dir, "manifests"), "--data-root", *dir,
		"--from", start.Format(time.RFC3339), "--to", end.Format(time.RFC3339), "-o", "json"},
		genericiooptions.IOStreams{In: os.Stdin, Out: &out, ErrOut: &errOut})
	took, cpu := time.Since(began), cpuTime()-cpu0
	pprof.StopCPUProfile()
	if code != 0 {
		fail("backtest exited %d: %s", code, errOut.String())
	}
	var report cli.BacktestReport
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		fail("backtest report: %v", err)
	}
	if len(report.Errors) > 0 {
		fail("backtest errors: %v", report.Errors)
	}
	counts := map[string]int{}
	for _, e := range report.Events {
		counts[e.Event]++
	}
	fmt.Printf("kubectl cx backtest, %d Metrics x %d years: %s, %s CPU, events %v\n", *metrics, *years,
		took.Round(time.Millisecond), cpu.Round(time.Millisecond), counts)
	// CPU time too: on a shared machine the wall clock measures the neighbours.
	fmt.Printf("ratio backtest / one GROUP BY: %.1f wall, %.1f CPU\n", took.Seconds()/base.Seconds(), cpu.Seconds()/baseCPU.Seconds())
}

// cpuTime is the user and system time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// baseline times the one GROUP BY in process through the driver the
// SQLite source uses, wall clock and CPU: the pass the bound is measured
// against.
func baseline(db string) (time.Duration, time.Duration, error) {
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	cpu0 := cpuTime()
	began := time.Now()
	rs, err := conn.Query(groupBy)
	if err != nil {
		return 0, 0, err
	}
	defer rs.Close()
	var survey, stage, day string
	var score sql.NullInt64
	var n int64
	for rs.Next() {
		if err := rs.Scan(&survey, &stage, &day, &score, &n); err != nil {
			return 0, 0, err
		}
	}
	return time.Since(began), cpuTime() - cpu0, rs.Err()
}

// shellBaseline times the same GROUP BY in the sqlite3 shell, when it is
// installed (its process start included, a few milliseconds), for
// reference: C SQLite against the pure-Go driver.
func shellBaseline(db string) (time.Duration, time.Duration, bool, error) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		return 0, 0, false, nil
	}
	cmd := exec.Command(shell, "-readonly", db, groupBy)
	cmd.Stdout = io.Discard
	began := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, true, fmt.Errorf("sqlite3: %w", err)
	}
	return time.Since(began), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), true, nil
}

// generate writes rows responses spread evenly over metrics surveys and
// the days from start to end, with scores around each survey's level and
// two planted three-week drops a year in one stage, so tasks open,
// episodes end and baselines move as in production.
func generate(path string, rows, metrics int, start, end time.Time) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, stmt := range []string{"PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF",
		`CREATE TABLE survey_responses (
			id INTEGER PRIMARY KEY,
			responded_at TIMESTAMP NOT NULL,
			survey TEXT NOT NULL,
			score INTEGER,
			account TEXT NOT NULL,
			stage TEXT NOT NULL
		)`} {
		if _, err := db.Exec(stmt); err != nil {
			return err
		}
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	ins, err := tx.Prepare(`INSERT INTO survey_responses (responded_at, survey, score, account, stage) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	span := end.Sub(start)
	days := int(span / (24 * time.Hour))
	perSurvey := rows / metrics
	for m := 0; m < metrics; m++ {
		survey := surveyName(m)
		nps := m%2 == 1
		// Two drops a year, each in one stage, for three weeks.
		type drop struct {
			from, to time.Time
			stage    string
		}
		var drops []drop
		for y := 0; y < days/365; y++ {
			for k := 0; k < 2; k++ {
				at := start.AddDate(y, 0, 30+r.IntN(300))
				drops = append(drops, drop{at, at.AddDate(0, 0, 21), stages[r.IntN(len(stages))]})
			}
		}
		for i := 0; i < perSurvey; i++ {
			at := start.Add(time.Duration(r.Int64N(int64(span))) / time.Second * time.Second)
			stage := stages[r.IntN(len(stages))]
			down := false
			for _, d := range drops {
				if d.stage == stage && !at.Before(d.from) && at.Before(d.to) {
					down = true
				}
			}
			var score any
			if r.Float64() >= 0.04 { // 4% skip the question
				score = draw(r, nps, down)
			}
			if _, err := ins.Exec(demodata.FormatTime(at), survey, score, fmt.Sprintf("acct-%04d", r.IntN(2000)), stage); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, stmt := range []string{`CREATE INDEX survey_responses_survey_responded_at ON survey_responses (survey, responded_at)`,
		"ANALYZE", "PRAGMA journal_mode = DELETE"} {
		if _, err := db.Exec(stmt); err != nil {
			return err
		}
	}
	return nil
}

// withoutIndex copies the file at from to to, once, and drops the copy's
// index, so each Metric's history scans the whole table.
func withoutIndex(from, to string) error {
	if _, err := os.Stat(to); err == nil {
		return nil
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to + ".tmp")
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+to+".tmp")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, stmt := range []string{"DROP INDEX survey_responses_survey_responded_at", "ANALYZE"} {
		if _, err := db.Exec(stmt); err != nil {
			return err
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	return os.Rename(to+".tmp", to)
}

// draw is one score: NPS 0..10 or CSAT 1..5, lower during a drop.
func draw(r *rand.Rand, nps, down bool) int64 {
	u := r.Float64()
	if down {
		u = math.Pow(u, 1.6)
	}
	if nps {
		return int64(math.Min(10, math.Floor(11*math.Pow(u, 0.45))))
	}
	return int64(math.Min(5, 1+math.Floor(5*math.Pow(u, 0.35))))
}

func surveyName(m int) string { return fmt.Sprintf("survey-%02d", m) }

// writeManifests writes the DataSource and the Metrics the backtest reads.
func writeManifests(dir, file string, metrics int) error {
	mdir := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(mdir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: cxloop.dev/v1alpha1
kind: DataSource
metadata:
  name: history
spec:
  type: sqlite
  sqlite:
    path: %s
  queryTimeout: 10m
`, file)
	for m := 0; m < metrics; m++ {
		formula, scale, target := "csat\n  scale: {min: 1, max: 5}\n  satisfiedMin: 4", "", 80
		if m%2 == 1 {
			formula, target = "nps", 30
		}
		fmt.Fprintf(&b, `---
apiVersion: cxloop.dev/v1alpha1
kind: Metric
metadata:
  name: %s
spec:
  owner:
    team: team-%02d
  source:
    name: history
  formula: %s%s
  query:
    table: survey_responses
    columns:
      value: score
      time: responded_at
    filters:
      - column: survey
        operator: Equals
        values: [%q]
  window: 720h
  interval: 24h
  segmentBy: [stage]
  objective:
    target: %d
    minSamples: 50
    minShift: 5
  improvement:
    maxOpenTasks: 3
`, surveyName(m), m, formula, scale, surveyName(m), target)
	}
	return os.WriteFile(filepath.Join(mdir, "metrics.yaml"), []byte(b.String()), 0o644)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "history: "+format+"\n", args...)
	os.Exit(1)
}
