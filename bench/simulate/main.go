// Command simulate measures the operator's decisions on simulated data
// with fixed seeds, through the operator's own code path (engine.Replay:
// Evaluate every day with the detector state carried as status keeps it,
// PlanTasks, and the task reconciler's Verify with owners resolving a week
// after a task opens). Per case of internal/simulate's grid it prints
// false tasks per 100 metric-months on data whose long-run level sits at
// the target (with the exact 95 % upper bound), the share of step drops
// detected within 7, 14 and 30 days, how often a fix that did nothing
// closes as Verified or Recovered, and how often a fix that restored the
// level is Verified.
//
//	go run ./bench/simulate                  # the whole grid
//	go run ./bench/simulate -quick           # fewer metric-months and drops, for a look
//	go run ./bench/simulate -case mood-sd2-tau14-2000 -months 2000
//	go run ./bench/simulate -stable -months 5000  # false tasks only
//	go run ./bench/simulate -list            # the case names
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/simulate"
)

func main() {
	quick := flag.Bool("quick", false, "simulate fewer metric-months and drops")
	only := flag.String("case", "", "simulate the cases whose name starts with this only")
	months := flag.Int("months", 0, "stable metric-months per case (default 1,000; 200 with -quick)")
	trials := flag.Int("trials", 0, "drops simulated per drop size (default 400; 40 with -quick)")
	calibration := flag.Int("calibration", 0, "days of history not counted (default 180)")
	stable := flag.Bool("stable", false, "measure false tasks on stable data only, no drops")
	list := flag.Bool("list", false, "list the case names and exit")
	seed := flag.Uint64("seed", 1, "seed of every draw")
	flag.Parse()

	o := simulate.DefaultOptions()
	if *quick {
		o.Months, o.Trials = 200, 40
	}
	if *months > 0 {
		o.Months = *months
	}
	if *trials > 0 {
		o.Trials = *trials
	}
	if *calibration > 0 {
		o.Calibration = *calibration
	}
	o.Seed = *seed
	if *stable {
		o.Drops, o.FixDrops = []float64{}, []float64{}
	}

	var cases []simulate.Case
	for _, c := range simulate.Grid() {
		if strings.HasPrefix(c.Name, *only) {
			cases = append(cases, c)
		}
	}
	var cards []simulate.ScorecardCase
	for _, c := range simulate.ScorecardGrid() {
		if strings.HasPrefix(c.Name, *only) {
			cards = append(cards, c)
		}
	}
	if *list {
		for _, c := range cases {
			fmt.Println(c.Name)
		}
		for _, c := range cards {
			fmt.Println(c.Name)
		}
		return
	}
	if len(cases) == 0 && len(cards) == 0 {
		fmt.Fprintf(os.Stderr, "no case named %q (see -list)\n", *only)
		os.Exit(2)
	}

	start := time.Now()
	shownTrials := o.Trials
	if *stable {
		shownTrials = 0
	}
	if len(cases) > 0 {
		metrics(cases, o, shownTrials)
	}
	if len(cards) > 0 {
		scorecards(cards, o, shownTrials)
	}
	fmt.Fprintf(os.Stderr, "\nsimulated in %s on %d cores\n", time.Since(start).Round(time.Second), runtime.GOMAXPROCS(0))
}

// metrics prints the Metric cases' table.
func metrics(cases []simulate.Case, o simulate.Options, shownTrials int) {
	fmt.Printf("## Decisions on simulated data (budget 1 false task per 100 metric-months; %d stable metric-months and %d drops a size per case; calibration %d days)\n\n",
		o.Months, shownTrials, o.Calibration)
	head := "| case | responses / 30 days | segments | false tasks | per 100 metric-months | 95 % upper bound |"
	rule := "| --- | --- | --- | --- | --- | --- |"
	for _, d := range o.Drops {
		head += fmt.Sprintf(" drop %s: within 7 / 14 / 30 days | median delay | into an open episode |", delta(d))
		rule += " --- | --- | --- |"
	}
	for _, d := range o.FixDrops {
		head += fmt.Sprintf(" fix did nothing after %s: closed (Verified, Recovered) |", delta(d))
		rule += " --- |"
	}
	if len(o.FixDrops) > 0 {
		head += " fix restored the target: verified |"
		rule += " --- |"
	}
	fmt.Println(head)
	fmt.Println(rule)
	worst, worstCase := 0.0, ""
	for _, c := range cases {
		r, err := simulate.Measure(c, o)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		row := fmt.Sprintf("| %s | %g | %d | %d / %.0f | %.2f | %.2f |", c.Name, c.PerMonth, max(1, c.Segments),
			r.FalseTasks, r.MetricMonths, r.Rate(), r.Upper())
		for _, d := range r.Detection {
			row += fmt.Sprintf(" %s / %s / %s | %s | %s |", pct(d.Within7), pct(d.Within14), pct(d.Within30), days(d.Median), pct(d.Masked))
		}
		for _, f := range r.FixedNothing {
			row += fmt.Sprintf(" %s of %d (%d V, %d R) |", pct(f.Closed()), f.Tasks, f.Verified, f.Recovered)
		}
		if len(o.FixDrops) > 0 {
			row += fmt.Sprintf(" %s of %d |", pct(r.Restored.VerifiedShare()), r.Restored.Tasks)
		}
		fmt.Println(row)
		if r.Upper() > worst {
			worst, worstCase = r.Upper(), c.Name
		}
	}
	fmt.Printf("\nWorst 95 %% upper bound: %.2f per 100 metric-months (%s).\n", worst, worstCase)
}

// scorecards prints the Scorecard cases' table: their decisions run on
// non-overlapping windows (internal/scorecard's Policy), so a drop is
// found at the close of a window, and verification reads every member's
// fresh data per account.
func scorecards(cases []simulate.ScorecardCase, o simulate.Options, shownTrials int) {
	fmt.Printf("\n## Scorecard decisions on simulated accounts (budget 1 false task per 100 scorecard-months; %d stable scorecard-months and %d drops of 2δ in one account per case)\n\n",
		o.Months, shownTrials)
	fmt.Println("| case | accounts | responses / tickets per account-month | mood sd / τ days | campaigns | false tasks | per 100 scorecard-months | 95 % upper bound | drop 2δ: task within 90 days | fix did nothing: verified | fix restored the level: verified |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, c := range cases {
		r, err := simulate.MeasureScorecard(c, o)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		share := func(k, n int) string {
			if n == 0 {
				return "–"
			}
			return fmt.Sprintf("%s of %d", pct(float64(k)/float64(n)), n)
		}
		fmt.Printf("| %s | %d | %g / %g | %g / %g | %t | %d / %.0f | %.2f | %.2f | %s | %s | %s |\n", c.Name, c.Accounts,
			c.NPSPerMonth, c.TicketsPerMonth, c.MoodSD, c.MoodTau, c.Campaigns, r.FalseTasks, r.ScorecardMonths, r.Rate(), r.Upper(),
			share(r.Detected, r.Trials), share(r.FixedNothing, r.Detected), share(r.Restored, r.Detected))
	}
}

// delta names a drop in units of δ.
func delta(d float64) string {
	switch d {
	case 0.5:
		return "δ/2"
	case 0.75:
		return "3δ/4"
	case 1:
		return "δ"
	}
	return fmt.Sprintf("%gδ", d)
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.0f %%", 100*x)
}

func days(d float64) string {
	if math.IsInf(d, 1) {
		return "> horizon"
	}
	return fmt.Sprintf("%.0f", d)
}
