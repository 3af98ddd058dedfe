package simulate

import (
	"testing"
)

// The scorecard's decisions, through the operator's code path, keep the
// false-task budget on accounts at the target across many accounts,
// under a common mood and with survey campaigns; find most drops of 2δ in
// one account among few well-answered ones; and do not verify a fix that
// did nothing. Bounds: at the budget (1 per 100 scorecard-months) five or
// more false tasks in 100 months happen with probability 0.4 %.
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
		if res.FalseTasks >= 5 {
			t.Errorf("%s: %d false tasks in %.0f scorecard-months, over the budget of 1 per 100", c.Name, res.FalseTasks, res.ScorecardMonths)
		}
		if c.Accounts <= 50 && res.Detected < res.Trials/4 {
			t.Errorf("%s: %d of %d drops of 2δ found within 90 days", c.Name, res.Detected, res.Trials)
		}
		if res.FixedNothing > max(1, res.Detected/10) {
			t.Errorf("%s: %d of %d fixes that did nothing verified", c.Name, res.FixedNothing, res.Detected)
		}
	}
}
