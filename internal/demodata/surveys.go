package demodata

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"
)

// response is one survey answer.
type response struct {
	respondedAt, interactionAt time.Time
	survey, persona, stage     string
	score                      int // -1 when skipped
	theme, comment             string
	account                    *account
	weight                     float64
	// level is the NPS level the answer was drawn at (nps only).
	level float64
}

// surveyProfile holds what differs between the four surveys.
type surveyProfile struct {
	name     string
	measure  Measure // the Measure whose episodes move its scores
	volume   func(Volumes) float64
	personas categorical
	stages   categorical
}

var personaLabels = []string{"executive", "admin", "end-user"}
var stageLabels = []string{"onboarding", "integration", "training", "support"}

var surveyProfiles = []surveyProfile{
	{
		// Relational NPS goes to every contact now and then, executives
		// included.
		name: "nps", measure: MeasureNPS, volume: func(v Volumes) float64 { return v.NPS },
		personas: newCategorical(personaLabels, []float64{30, 30, 40}),
		stages:   newCategorical(stageLabels, []float64{15, 20, 15, 50}),
	},
	{
		// CSAT is asked after a support interaction.
		name: "csat", measure: MeasureCSAT, volume: func(v Volumes) float64 { return v.CSAT },
		personas: newCategorical(personaLabels, []float64{5, 45, 50}),
		stages:   newCategorical(stageLabels, []float64{0, 0, 0, 1}),
	},
	{
		// CES is asked at the end of each journey stage.
		name: "ces", measure: MeasureCES, volume: func(v Volumes) float64 { return v.CES },
		personas: newCategorical(personaLabels, []float64{5, 50, 45}),
		stages:   newCategorical(stageLabels, []float64{25, 25, 20, 30}),
	},
	{
		// PSAT is asked inside the product about one feature; its theme is
		// the feature, not the answer's sentiment.
		name: "psat", measure: "", volume: func(v Volumes) float64 { return v.PSAT },
		personas: newCategorical(personaLabels, []float64{10, 30, 60}),
		stages:   newCategorical(stageLabels, []float64{20, 30, 20, 30}),
	},
}

// plantedEpisode is an Episode with its segment parsed, ready to match rows.
type plantedEpisode struct {
	Episode
	pairs []segmentPair
}

// level returns the measure's level for a row at offset d from T0 whose
// columns are read by column: the level of the first active episode that
// matches, else base. The matching episode is returned for its theme.
func level(episodes []plantedEpisode, m Measure, d time.Duration, column func(string) string, base float64) (float64, *plantedEpisode) {
	for i := range episodes {
		e := &episodes[i]
		if e.Measure != m || !e.Active(d) {
			continue
		}
		matches := true
		for _, p := range e.pairs {
			matches = matches && column(p.column) == p.value
		}
		if matches {
			return e.Level, e
		}
	}
	return base, nil
}

// lateAnswer draws how long after the interaction the survey is answered:
// median 8 hours, a tenth after more than a day and a half, at most a week.
func lateAnswer(r *rand.Rand) time.Duration {
	lag := time.Duration(logNormal(r, 8*3600, 1.1)) * time.Second
	return min(max(lag, 5*time.Minute), 7*Day).Truncate(time.Second)
}

// generateResponses draws every survey answer of the timeline, ordered by
// answer time. Each day's answers per survey are Poisson with the weekday's
// rate; scores follow the level at the interaction time.
func generateResponses(r *rand.Rand, src rand.Source, sc Script, episodes []plantedEpisode, picker accountPicker) []response {
	var all []response
	for day := sc.Start(); day.Before(sc.End()); day = day.Add(Day) {
		first := len(all)
		for _, sp := range surveyProfiles {
			n := poisson(src, sp.volume(sc.Volumes)*sc.Scale*weekdayFactor(day))
			for range n {
				all = append(all, drawResponse(r, sc, sp, episodes, picker, timeInDay(r, day)))
			}
		}
		slices.SortStableFunc(all[first:], func(a, b response) int {
			return cmp.Compare(a.respondedAt.Unix(), b.respondedAt.Unix())
		})
	}
	spreadRevenue(all)
	return all
}

func drawResponse(r *rand.Rand, sc Script, sp surveyProfile, episodes []plantedEpisode, picker accountPicker, at time.Time) response {
	resp := response{
		respondedAt: at,
		survey:      sp.name,
		persona:     sp.personas.draw(r),
		stage:       sp.stages.draw(r),
	}
	resp.interactionAt = at.Add(-lateAnswer(r))
	resp.account = picker.draw(r, at)
	column := func(c string) string {
		switch c {
		case "account":
			return resp.account.name
		case "persona":
			return resp.persona
		case "segment":
			return resp.account.segment
		case "stage":
			return resp.stage
		}
		return ""
	}
	offset := resp.interactionAt.Sub(sc.T0)
	var episode *plantedEpisode
	switch sp.name {
	case "nps":
		var l float64
		l, episode = level(episodes, MeasureNPS, offset, column, sc.Baseline.NPS)
		resp.score, resp.level = npsScore(r, l), l
	case "csat":
		var l float64
		l, episode = level(episodes, MeasureCSAT, offset, column, sc.Baseline.CSAT)
		resp.score = satisfactionScore(r, l)
	case "ces":
		var l float64
		l, episode = level(episodes, MeasureCES, offset, column, sc.Baseline.CES)
		resp.score = effortScore(r, l)
	default:
		resp.score = satisfactionScore(r, sc.Baseline.PSAT)
	}
	if r.Float64() < sc.Baseline.SkippedPercent/100 {
		resp.score = -1
		return resp
	}
	if sp.name == "psat" {
		resp.theme = featureThemes.draw(r)
		resp.comment = featureComment(r, resp.theme, sentimentOf(sp.name, resp.score))
		return resp
	}
	resp.theme, resp.comment = openText(r, sentimentOf(sp.name, resp.score), episode)
	return resp
}

// spreadRevenue sets each answer's weight to its account's annual revenue
// divided by the number of that account's answers to the same survey in
// the same UTC calendar month (skipped ones included), so each account
// weighs its revenue in every month it answers, however many of its
// contacts answer.
func spreadRevenue(all []response) {
	type key struct {
		account *account
		survey  string
		month   time.Time
	}
	counts := make(map[key]int)
	for _, r := range all {
		counts[key{r.account, r.survey, monthStart(r.respondedAt)}]++
	}
	for i := range all {
		r := &all[i]
		r.weight = r.account.revenue / float64(counts[key{r.account, r.survey, monthStart(r.respondedAt)}])
	}
}
