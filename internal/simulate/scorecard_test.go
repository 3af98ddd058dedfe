package simulate

import (
	"testing"
)

// The scorecard's decisions keep the false-task budget on stable
// accounts, across many accounts and under a common mood, find a drop of
// 2δ in one account, and verify a fix only when it restored the level.
func TestScorecardDecisions(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	o := Options{Months: 100, ShardMonths: 20, Trials: 40}
	for _, c := range ScorecardGrid() {
		res, err := MeasureScorecard(c, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d false tasks in %.0f scorecard-months (%.2f per 100, upper %.2f); detected %d of %d, fixes that did nothing verified %d, restored verified %d",
			c.Name, res.FalseTasks, res.ScorecardMonths, res.Rate(), res.Upper(), res.Detected, res.Trials, res.FixedNothing, res.Restored)
	}
}
