// Command demodata writes the demo's SQLite warehouse: a deterministic
// customer-experience data set following the default demo script.
//
//	go run ./hack/demodata -o warehouse.db [-seed N] [-scale F] [-json]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/cxloop/cxloop/internal/demodata"
)

func main() {
	sc := demodata.DefaultScript()
	out := flag.String("o", "warehouse.db", "file to write (replaced if present)")
	flag.Uint64Var(&sc.Seed, "seed", sc.Seed, "random seed; the same seed gives the same data")
	flag.Float64Var(&sc.Scale, "scale", sc.Scale, "multiplier of the daily volumes")
	asJSON := flag.Bool("json", false, "print the summary, episode times included, as JSON")
	flag.Parse()

	s, err := demodata.Generate(*out, sc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demodata:", err)
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			fmt.Fprintln(os.Stderr, "demodata:", err)
			os.Exit(1)
		}
		return
	}
	fmt.Printf("wrote %s (%.1f MB) in %s: %d accounts, %d survey responses, %d tickets, %d account periods\n",
		s.Path, float64(s.Bytes)/1e6, s.Elapsed.Round(time.Millisecond),
		s.Accounts, s.SurveyResponses, s.Tickets, s.AccountPeriods)
	fmt.Printf("data from %s to %s, demo starts at T0 %s\n",
		s.Start.Format(time.DateOnly), s.End.Format(time.DateOnly), s.Script.T0.Format(time.DateOnly))
	for _, e := range s.Episodes {
		fmt.Printf("  %-24s %-26s %-22q starts %s", e.Name, e.Metric, e.Segment, e.Start.Format(time.DateOnly))
		for _, r := range e.Resolutions {
			fmt.Printf(", resolved %s", r.Format(time.DateOnly))
		}
		if !e.Restore.IsZero() {
			fmt.Printf(", restored %s", e.Restore.Format(time.DateOnly))
		}
		fmt.Printf(" -> %s\n", e.Outcome)
	}
}
