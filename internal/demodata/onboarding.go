package demodata

import (
	"cmp"
	"context"
	"database/sql"
	"math/rand/v2"
	"slices"
	"time"
)

// onboardingStages are the six stages of a new customer's onboarding, in
// journey order.
var onboardingStages = []string{"contract", "kickoff", "integration", "data-import", "training", "go-live"}

// onboardingAnswer is one effort answer at the end of an onboarding
// stage.
type onboardingAnswer struct {
	answeredAt time.Time
	account    *account
	stage      string
	score      int
}

// generateOnboarding draws the effort answers given at the end of each
// onboarding stage (a stage drawn alike among the six), on the 1-7
// agreement scale of the CES survey, from a stream of their own: every
// other table's rows stay as they were.
func generateOnboarding(r *rand.Rand, src rand.Source, sc Script, episodes []plantedEpisode, picker accountPicker) []onboardingAnswer {
	var all []onboardingAnswer
	for day := sc.Start(); day.Before(sc.End()); day = day.Add(Day) {
		n := poisson(src, sc.Volumes.Onboarding*sc.Scale*weekdayFactor(day))
		first := len(all)
		for range n {
			a := onboardingAnswer{answeredAt: timeInDay(r, day), stage: onboardingStages[r.IntN(len(onboardingStages))]}
			a.account = picker.draw(r, a.answeredAt)
			column := func(c string) string {
				switch c {
				case "account":
					return a.account.name
				case "stage":
					return a.stage
				}
				return ""
			}
			l, _ := level(episodes, MeasureOnboarding, a.answeredAt.Sub(sc.T0), column, sc.Baseline.CES)
			a.score = effortScore(r, l)
			all = append(all, a)
		}
		slices.SortStableFunc(all[first:], func(a, b onboardingAnswer) int {
			return cmp.Compare(a.answeredAt.Unix(), b.answeredAt.Unix())
		})
	}
	return all
}

func (w *warehouse) insertOnboarding(ctx context.Context, tx *sql.Tx) error {
	return inserter(ctx, tx, "onboarding_responses",
		`INSERT INTO onboarding_responses (id, answered_at, account, stage, score) VALUES (?, ?, ?, ?, ?)`,
		func(exec func(...any) error) error {
			for i, a := range w.onboarding {
				if err := exec(i+1, FormatTime(a.answeredAt), a.account.name, a.stage, a.score); err != nil {
					return err
				}
			}
			return nil
		})
}
