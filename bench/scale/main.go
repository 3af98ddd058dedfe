// Command scale measures the operator at scale on the embedded control
// plane against SQLite, with a manual clock: many Metrics of a few
// segments each, one Metric of many segments, and the same load split
// between two sharded managers. It prints, per phase, the source round
// trips per Metric, the API writes, the time until every Metric is
// evaluated (also as a ratio to one GROUP BY over the whole table, the
// least work that reads every row once), reconcile-time quantiles, the
// intervals from a drop's first day to its task, and the manager's peak
// RSS.
//
//	go run ./bench/scale                       # 2,000 Metrics of 10 segments, one of 10,000
//	go run ./bench/scale -metrics 200 -wide 1000 # a quick look
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
	assets                                           string
}

func main() {
	var c scaleConfig
	home, _ := os.UserHomeDir()
	flag.IntVar(&c.metrics, "metrics", 2000, "Metrics of the many-Metrics phase")
	flag.IntVar(&c.segments, "segments", 10, "segments (accounts) of each of them")
	flag.IntVar(&c.namespaces, "namespaces", 20, "namespaces they are spread over")
	flag.IntVar(&c.wide, "wide", 10000, "segments of the one wide Metric (0 skips it)")
	flag.IntVar(&c.historyDays, "history", 60, "days of data before the first evaluation")
	flag.StringVar(&c.assets, "assets", filepath.Join(home, ".cache", "cxloop", "k8s", "1.37.2"), "kube-apiserver and etcd binaries (make envtest-assets)")
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
	// The warehouse and the baseline run in a child process, so the peak
	// RSS this process reports is the manager's (and the bench's own
	// bookkeeping), not the SQLite writer's.
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
	if err := cp.apply(ctx, c, w); err != nil {
		return err
	}

	one, err := cp.startManager(ctx, "")
	if err != nil {
		return err
	}
	total := c.metrics
	if c.wide > 0 {
		total++
	}
	first, err := one.evaluateAll(ctx, cp, t0, total)
	if err != nil {
		return err
	}
	first.print("first evaluation, one manager", total, groupBy)
	for day := 1; day <= steadyDays; day++ {
		p, err := one.evaluateAll(ctx, cp, t0.AddDate(0, 0, day), total)
		if err != nil {
			return err
		}
		p.print(fmt.Sprintf("steady interval %d, one manager", day), total, groupBy)
	}
	if c.wide > 0 {
		size, err := cp.statusBytes(ctx, wideNamespace, "wide")
		if err != nil {
			return err
		}
		fmt.Printf("  the %d-segment Metric's status: %.0f KiB\n", c.wide, float64(size)/1024)
	}
	if err := one.detectDrop(ctx, cp, t0.AddDate(0, 0, steadyDays), total); err != nil {
		return err
	}
	one.stop()

	// The same load split between two managers by a Namespace label.
	if err := cp.labelShards(ctx, c.namespaces); err != nil {
		return err
	}
	a, err := cp.startManager(ctx, shardLabel+"=a")
	if err != nil {
		return err
	}
	b, err := cp.startManager(ctx, "!"+shardLabel)
	if err != nil {
		return err
	}
	next := t0.AddDate(0, 0, steadyDays+dropDays+1)
	cp.clock.Set(next)
	if err := cp.requestAll(ctx, next); err != nil {
		return err
	}
	if err := cp.waitEvaluated(ctx, next, total); err != nil {
		return err
	}
	sa, sb := a.sample(), b.sample()
	fmt.Printf("two shards, one interval: shard a %.0f round trips over %d namespaces, shard b %.0f over %d, namespaces in both: %d\n",
		sa.queries, len(sa.namespaces), sb.queries, len(sb.namespaces), overlap(sa.namespaces, sb.namespaces))
	a.stop()
	b.stop()
	fmt.Printf("manager peak RSS (this process: the managers, the control plane's clients and the bench's bookkeeping; the warehouse is written by a child): %.0f MiB\n", peakRSS()/(1<<20))
	return nil
}

// newWarehouse is the warehouse the configuration asks for, at path.
func newWarehouse(c scaleConfig, path string) warehouse {
	return warehouse{path: path, metrics: c.metrics, segments: c.segments, wide: c.wide,
		start: t0.AddDate(0, 0, -c.historyDays), end: t0.AddDate(0, 0, steadyDays+dropDays+1)}
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
