// Command scale measures the operator at scale on the embedded control
// plane against SQLite, with a clock stepped by hand: many Metrics of a
// few segments each, one Metric of many segments, and the same load split
// between two sharded managers. Every manager is the real cmd/manager
// binary in its own process (--clock-file, plain-HTTP metrics), measured
// from its own metrics endpoint and /proc: per phase the source round
// trips per Metric, its API writes, the time until every Metric is
// evaluated (also as a ratio to one GROUP BY over the whole table, the
// least work that reads every row once) and reconcile-time quantiles;
// the manager's peak RSS (VmHWM). A drop planted in one Metric's segment
// is replayed offline through the operator's own decisions (engine.Replay
// over the same file and spec, as `kubectl cx backtest` does): the
// interval whose data proves it must be the one whose evaluation opens
// its task in the manager. A drop planted in 20 of the wide Metric's
// segments is found in the manager, in the replay and in the simulation
// of the same configuration (internal/simulate), whose median delays
// must agree within 10 %. Nothing but the clock asks for an evaluation, as in
// production. A quiet interval, in which no rows enter or leave the
// window, must write nothing. It ends with each bound and its measured
// value (bench/scale/results.md).
//
//	go run ./bench/scale                       # 2,000 Metrics of 10 segments, one of 10,000
//	go run ./bench/scale -metrics 200 -namespaces 4 -wide 1000 # a quick look
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

type scaleConfig struct {
	metrics, segments, namespaces, wide, historyDays int
	simTrials                                        int
	assets, memLimit                                 string
}

func main() {
	var c scaleConfig
	home, _ := os.UserHomeDir()
	flag.IntVar(&c.metrics, "metrics", 2000, "Metrics of the many-Metrics phase")
	flag.IntVar(&c.segments, "segments", 10, "segments (accounts) of each of them")
	flag.IntVar(&c.namespaces, "namespaces", 20, "namespaces they are spread over")
	flag.IntVar(&c.wide, "wide", 10000, "segments of the one wide Metric (0 skips it)")
	flag.IntVar(&c.historyDays, "history", 60, "days of data before the first evaluation")
	flag.IntVar(&c.simTrials, "sim-trials", 20, "simulations of the wide Metric's drop, each over every segment")
	flag.StringVar(&c.assets, "assets", filepath.Join(home, ".cache", "cxloop", "k8s", "1.37.2"), "kube-apiserver and etcd binaries (make envtest-assets)")
	flag.StringVar(&c.memLimit, "gomemlimit", "", "GOMEMLIMIT of the managers (such as 200MiB; the deployed manager derives one from its container's limit, CXLOOP_MEMORY_LIMIT); inherited when empty")
	var prepare string
	flag.StringVar(&prepare, "prepare", "", "internal: write the warehouse at this path, time the baseline, print both and exit")
	flag.Parse()
	if prepare != "" {
		if err := prepareHere(context.Background(), c, prepare); err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		return
	}
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel), zap.WriteTo(os.Stderr)))
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c scaleConfig) error {
	dir, err := os.MkdirTemp("", "cxloop-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	w := newWarehouse(c, filepath.Join(dir, "scale.db"))
	// The warehouse and the baseline run in a child process, and every
	// manager in its own (the real cmd/manager), so its peak RSS is its
	// own.
	rows, groupBy, err := prepareInChild(ctx, c, w.path)
	if err != nil {
		return err
	}
	fmt.Printf("warehouse: %d rows, %d Metrics of %d segments and one of %d, %d days of history; one GROUP BY over it: %s\n",
		rows, c.metrics, c.segments, c.wide, c.historyDays, groupBy.Round(time.Millisecond))

	cp, err := startCluster(ctx, c.assets, dir)
	if err != nil {
		return err
	}
	defer cp.stop()
	cp.memLimit = c.memLimit
	if err := cp.apply(ctx, c, w); err != nil {
		return err
	}
	total := c.metrics
	if c.wide > 0 {
		total++
	}
	var one *manager
	only := func() []*manager {
		if one == nil {
			return nil
		}
		return []*manager{one}
	}
	first, err := evaluateAt(ctx, cp, only, t0, total, func() (err error) {
		one, err = cp.startManager(ctx, "one", "")
		return err
	})
	if err != nil {
		return err
	}
	defer func() {
		if one != nil {
			one.stop()
		}
	}()
	first.print("first evaluation, one manager", total, groupBy)
	var steady phase
	for day := 1; day <= steadyDays; day++ {
		if steady, err = evaluateAt(ctx, cp, only, t0.AddDate(0, 0, day), total, nil); err != nil {
			return err
		}
		steady.print(fmt.Sprintf("steady interval %d, one manager", day), total, groupBy)
	}
	quietPhase, err := evaluateAt(ctx, cp, only, quietDay.AddDate(0, 0, 1), total, nil)
	if err != nil {
		return err
	}
	quietPhase.print("quiet interval (no new rows, none leaving the window), one manager", total, groupBy)
	if c.wide > 0 {
		size, err := cp.statusBytes(ctx, wideNamespace, "wide")
		if err != nil {
			return err
		}
		fmt.Printf("  the %d-segment Metric's status: %.0f KiB\n", c.wide, float64(size)/1024)
	}
	segs := plantedSegments(cp, c)
	opened, err := detectDrop(ctx, cp, one, dropFrom, total, segs)
	if err != nil {
		return err
	}
	rss, err := one.peakRSS()
	if err != nil {
		return err
	}
	heap, atPeak := one.peakHeap, one.atPeak
	one.stop()
	one = nil

	// The same load split between two managers by a Namespace label.
	if err := cp.labelShards(ctx, c.namespaces); err != nil {
		return err
	}
	var shards []*manager
	defer func() {
		for _, m := range shards {
			m.stop()
		}
	}()
	for _, s := range []struct{ name, selector string }{{"a", shardLabel + "=a"}, {"b", "!" + shardLabel}} {
		m, err := cp.startManager(ctx, s.name, s.selector)
		if err != nil {
			return err
		}
		shards = append(shards, m)
	}
	split, err := evaluateAt(ctx, cp, func() []*manager { return shards }, dropFrom.AddDate(0, 0, dropDays+1), total, nil)
	if err != nil {
		return err
	}
	sa, sb := split.shards[0], split.shards[1]
	fmt.Printf("two shards, one interval: shard a %.0f round trips over %d namespaces, shard b %.0f over %d, namespaces in both: %d\n",
		sa.queries, len(sa.namespaces), sb.queries, len(sb.namespaces), overlap(sa.namespaces, sb.namespaces))
	split.printWide("  the wide Metric's round trips")
	for _, m := range shards {
		r, err := m.peakRSS()
		if err != nil {
			return err
		}
		fmt.Printf("shard %s peak RSS (VmHWM): %.0f MiB; largest sample %s\n", m.name, r/(1<<20), m.atPeak)
	}
	for _, m := range shards {
		m.stop()
	}
	shards = nil
	drop, err := findDrop(ctx, cp, c, segs, opened, c.simTrials)
	if err != nil {
		return err
	}

	fmt.Printf("\nbounds, %d Metrics of %d segments (and one of %d):\n", c.metrics, c.segments, c.wide)
	bound := func(name string, got, limit float64, unit string) {
		verdict := "met"
		if got > limit {
			verdict = "NOT met"
		}
		fmt.Printf("  %-58s %8.2f %-8s (bound %g) %s\n", name, got, unit, limit, verdict)
	}
	bound("source round trips per Metric, first evaluation", first.queries/float64(total), 2, "")
	bound("source round trips per Metric, steady interval", steady.queries/float64(total), 1, "")
	bound("API writes, quiet interval", quietPhase.writes, 0, "")
	bound("manager peak RSS (VmHWM of cmd/manager)", rss/(1<<20), 256, "MiB")
	fmt.Printf("  %-58s %8.2f MiB (GOMEMLIMIT %q)\n", "  of which Go heap in use at most (sampled)", heap/(1<<20), c.memLimit)
	fmt.Printf("  largest sample: %s\n", atPeak)
	drop.print(bound)
	return nil
}

// newWarehouse is the warehouse the configuration asks for, at path.
func newWarehouse(c scaleConfig, path string) warehouse {
	return warehouse{path: path, metrics: c.metrics, segments: c.segments, wide: c.wide,
		start: t0.AddDate(0, 0, -c.historyDays), end: dropFrom.AddDate(0, 0, dropDays+2)}
}

// prepareHere writes the warehouse and times one GROUP BY over it, and
// prints the rows and the time for the parent.
func prepareHere(ctx context.Context, c scaleConfig, path string) error {
	w := newWarehouse(c, path)
	rows, err := w.generate()
	if err != nil {
		return fmt.Errorf("generate the warehouse: %w", err)
	}
	took, err := w.groupByOnce(ctx)
	if err != nil {
		return err
	}
	fmt.Println(rows, int64(took))
	return nil
}

// prepareInChild runs prepareHere in a child process of this binary.
func prepareInChild(ctx context.Context, c scaleConfig, path string) (int, time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	args := []string{"-prepare", path, "-metrics", fmt.Sprint(c.metrics), "-segments", fmt.Sprint(c.segments),
		"-wide", fmt.Sprint(c.wide), "-history", fmt.Sprint(c.historyDays)}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("prepare the warehouse: %w", err)
	}
	var rows int
	var took int64
	if _, err := fmt.Sscan(string(out), &rows, &took); err != nil {
		return 0, 0, fmt.Errorf("prepare the warehouse: read %q: %w", out, err)
	}
	return rows, time.Duration(took), nil
}

func overlap(a, b map[string]float64) int {
	n := 0
	for ns := range a {
		if _, ok := b[ns]; ok {
			n++
		}
	}
	return n
}
