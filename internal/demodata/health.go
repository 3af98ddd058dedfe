package demodata

import (
	"math"
	"math/rand/v2"
)

// Accounts differ in health: a latent level per account that moves its
// NPS answers, and, less closely, its tickets' first-contact resolution,
// so account scorecards rank real differences and driver analysis finds
// first-contact resolution behind NPS. The reopen and escalation rates
// are left alone: a non-driver beside the driver. The health is applied
// after the tables are drawn, from its own random stream, so every other
// draw of the warehouse is what it was without it; each account's health
// is centred on the answers' and tickets' mix of accounts, so the
// population's levels, and the story's episodes, stay where they were.
const (
	// healthNPS is the NPS points one standard deviation of health moves
	// an account's answers by, before the 0-10 scale bounds it.
	healthNPS = 10.0
	// healthFCR is the first-contact resolution points one standard
	// deviation of the FCR driver moves an account's tickets by.
	healthFCR = 6.0
	// fcrHealth is the correlation of the FCR driver with health.
	fcrHealth = 0.8
)

// accountHealth draws each account's health and its FCR driver, centred
// on activity (the share of answers and tickets an account draws).
func accountHealth(r *rand.Rand, accounts []*account) (health, fcr map[*account]float64) {
	health, fcr = map[*account]float64{}, map[*account]float64{}
	var w, mh, mf float64
	for _, a := range accounts {
		h := r.NormFloat64()
		health[a] = h
		fcr[a] = fcrHealth*h + math.Sqrt(1-fcrHealth*fcrHealth)*r.NormFloat64()
		w += a.activity
		mh += a.activity * health[a]
		mf += a.activity * fcr[a]
	}
	for _, a := range accounts {
		health[a] -= mh / w
		fcr[a] -= mf / w
	}
	return health, fcr
}

// applyHealth moves each NPS answer by its account's health, one category
// at a time (detractor, passive, promoter) with the probability that
// shifts the account's NPS by about healthNPS points per unit, and each
// ticket's first contact by the account's FCR driver.
func applyHealth(r *rand.Rand, accounts []*account, responses []response, tickets []ticket) {
	health, fcr := accountHealth(r, accounts)
	// The tickets draw from a stream of their own, so a change to the
	// answers' planting leaves the tickets' as it was.
	rt := rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))
	// A move up is open to detractors and passives, a move down to
	// promoters and passives: each side's probability is scaled by the
	// share it acts on at the level the answer was drawn at, so an
	// account's NPS moves by the same points either way, whatever the
	// level, and the population's, episodes included, stays where it was.
	for i := range responses {
		resp := &responses[i]
		if resp.survey != "nps" || resp.score < 0 {
			continue
		}
		p := healthNPS * health[resp.account] / 100
		up := 1 - (0.6+resp.level/100)/2   // not a promoter
		down := 1 - (0.6-resp.level/100)/2 // not a detractor
		if p > 0 && r.Float64() >= p/up || p < 0 && r.Float64() >= -p/down {
			continue
		}
		before := sentimentOf("nps", resp.score)
		switch {
		case p > 0 && resp.score <= 6:
			resp.score = 7 + boolInt(r.Float64() < 0.5)
		case p > 0 && resp.score <= 8:
			resp.score = 9 + boolInt(r.Float64() < 0.55)
		case p < 0 && resp.score >= 9:
			resp.score = 7 + boolInt(r.Float64() < 0.5)
		case p < 0 && resp.score >= 7:
			resp.score = detractorScores.index(r)
		}
		if after := sentimentOf("nps", resp.score); after != before && resp.comment != "" {
			resp.theme, resp.comment = openText(r, after, nil)
		}
	}
	for i := range tickets {
		t := &tickets[i]
		if t.escalated {
			continue
		}
		// Scaled by the share each side acts on at the ticket's own chance.
		p := healthFCR * fcr[t.account] / 100
		f := t.firstContactChance
		if p > 0 && rt.Float64() >= p/(1-f) || p < 0 && rt.Float64() >= -p/f {
			continue
		}
		switch {
		case p > 0 && !t.firstContact:
			t.firstContact, t.handoffs = true, 0
			t.reopened = rt.Float64() < reopenedAfterFirstContact
		case p < 0 && t.firstContact:
			t.firstContact, t.handoffs = false, 1
		}
	}
}
