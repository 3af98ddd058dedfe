package demodata

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// ticket is one support issue.
type ticket struct {
	createdAt, resolvedAt             time.Time
	account                           *account
	category                          string
	firstResponse, resolution         float64 // seconds
	reopened, escalated, firstContact bool
	handoffs                          int
	// firstContactChance is the chance the ticket was drawn with of being
	// resolved at first contact, once not escalated.
	firstContactChance float64
}

var ticketCategories = newCategorical(
	[]string{"billing", "integration", "bug", "how-to", "access"},
	[]float64{15, 20, 25, 25, 15})

// Durations are log-normal around the Script's medians with these spreads
// of their logarithms: the first reply's 90th percentile is about 2.8 times
// its median, the resolution's about 3.2 times.
const (
	firstResponseSigma = 0.8
	resolutionSigma    = 0.9
)

// reopenedAfterFirstContact is the reopen rate of tickets resolved at the
// first contact; tickets that needed more contacts reopen more often, so
// that the baseline reopen rate is the Script's.
const reopenedAfterFirstContact = 0.04

// generateTickets draws every ticket of the timeline, ordered by creation.
// Escalation is drawn first (an escalated ticket is never resolved at the
// first contact), then first-contact resolution at the level at creation
// time, so a drop in first-contact resolution leaves the escalation rate
// alone.
func generateTickets(r *rand.Rand, src rand.Source, sc Script, episodes []plantedEpisode, picker accountPicker) []ticket {
	base := sc.Baseline
	reopenedOtherwise := (base.Reopen/100 - base.FCR/100*reopenedAfterFirstContact) / (1 - base.FCR/100)
	var all []ticket
	for day := sc.Start(); day.Before(sc.End()); day = day.Add(Day) {
		first := len(all)
		n := poisson(src, sc.Volumes.Tickets*sc.Scale*weekdayFactor(day))
		for range n {
			t := ticket{createdAt: timeInDay(r, day), category: ticketCategories.draw(r)}
			t.account = picker.draw(r, t.createdAt)
			column := func(c string) string {
				switch c {
				case "account":
					return t.account.name
				case "category":
					return t.category
				case "segment":
					return t.account.segment
				}
				return ""
			}
			fcr, _ := level(episodes, MeasureFCR, t.createdAt.Sub(sc.T0), column, base.FCR)
			t.escalated = r.Float64() < base.Escalation/100
			t.firstContactChance = fcr / 100 / (1 - base.Escalation/100)
			t.firstContact = !t.escalated && r.Float64() < t.firstContactChance
			if t.firstContact {
				t.reopened = r.Float64() < reopenedAfterFirstContact
			} else {
				t.reopened = r.Float64() < reopenedOtherwise
				t.handoffs = 1 + poisson(src, 0.8) + boolInt(t.escalated)
			}
			t.firstResponse = math.Round(logNormal(r, base.FirstResponseMedian.Seconds(), firstResponseSigma))
			t.resolution = math.Round(logNormal(r, base.ResolutionMedian.Seconds(), resolutionSigma))
			if t.resolution <= t.firstResponse {
				t.resolution = t.firstResponse + math.Round(logNormal(r, 1800, 1))
			}
			t.resolvedAt = t.createdAt.Add(time.Duration(t.resolution) * time.Second)
			all = append(all, t)
		}
		slices.SortStableFunc(all[first:], func(a, b ticket) int {
			return cmp.Compare(a.createdAt.Unix(), b.createdAt.Unix())
		})
	}
	return all
}
