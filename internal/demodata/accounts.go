package demodata

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// account is a customer company and its revenue history.
type account struct {
	name    string
	segment string
	region  string
	// revenue is the annual recurring revenue at the start of the data.
	revenue float64
	// activity is how many contacts the account has, relative: it scales
	// the account's share of surveys and tickets.
	activity float64
	// churnAt is when the account left (zero if it stays); it sends no
	// surveys or tickets from then on.
	churnAt time.Time
	periods []accountPeriod
}

// accountPeriod is one calendar month of an account's recurring revenue.
type accountPeriod struct {
	start, end                                      time.Time
	startingARR, expansion, contraction, churnedARR float64
	churned                                         bool
}

// segmentProfile holds what differs between customer segments.
type segmentProfile struct {
	name          string
	share         float64
	revenueMedian float64 // annual revenue, log-normal around this
	revenueSigma  float64
	activity      float64 // relative number of contacts
	monthlyChurn  float64
}

var segmentProfiles = []segmentProfile{
	{"enterprise", 0.15, 600_000, 0.6, 6, 0.001},
	{"mid-market", 0.35, 90_000, 0.5, 2.5, 0.006},
	{"smb", 0.50, 15_000, 0.6, 1, 0.012},
}

var regions = newCategorical([]string{"na", "emea", "apac", "latam"}, []float64{45, 30, 18, 7})

var (
	namePrefixes = []string{
		"Northwind", "Bluebird", "Granite", "Harbor", "Summit", "Cedar", "Ironwood", "Lumen",
		"Meridian", "Nimbus", "Orchid", "Pioneer", "Quarry", "Redwood", "Silverline", "Tidal",
		"Umbra", "Vantage", "Willow", "Zenith", "Atlas", "Beacon", "Copper", "Delta",
		"Evergreen", "Falcon", "Glacier", "Horizon", "Keystone", "Lighthouse",
	}
	nameIndustries = []string{
		"Logistics", "Health", "Foods", "Energy", "Analytics", "Robotics", "Retail", "Labs",
		"Freight", "Insurance", "Media", "Pharma", "Systems", "Motors", "Capital", "Textiles",
		"Telecom", "Software", "Construction", "Aerospace",
	}
)

// newAccounts draws n accounts with unique company-like names.
func newAccounts(r *rand.Rand, n int) []*account {
	names := make([]string, 0, len(namePrefixes)*len(nameIndustries))
	for _, p := range namePrefixes {
		for _, i := range nameIndustries {
			names = append(names, p+" "+i)
		}
	}
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	shares := make([]float64, len(segmentProfiles))
	for i, p := range segmentProfiles {
		shares[i] = p.share
	}
	pick := newCategorical(make([]string, len(shares)), shares)
	accounts := make([]*account, n)
	for i := range accounts {
		name := names[i%len(names)]
		if i >= len(names) {
			name = fmt.Sprintf("%s %d", name, i/len(names)+1)
		}
		p := segmentProfiles[pick.index(r)]
		accounts[i] = &account{
			name:     name,
			segment:  p.name,
			region:   regions.draw(r),
			revenue:  roundMoney(logNormal(r, p.revenueMedian, p.revenueSigma)),
			activity: p.activity * logNormal(r, 1, 0.4),
		}
	}
	sort.Slice(accounts, func(i, j int) bool { return accounts[i].name < accounts[j].name })
	return accounts
}

// planRevenue writes each account's monthly periods from the month holding
// start to the month holding end: expansion by 5-25 % in 12 % of months,
// contraction by 5-20 % in 3 %, and churn at a period's end by the
// segment's monthly rate, after which the account has no more periods. Net
// retention comes to about 1.01 a month, some 14 % a year.
func planRevenue(r *rand.Rand, accounts []*account, start, end time.Time) {
	for _, a := range accounts {
		profile := profileOf(a.segment)
		arr := a.revenue
		for m := monthStart(start); m.Before(end); m = m.AddDate(0, 1, 0) {
			p := accountPeriod{start: m, end: m.AddDate(0, 1, 0), startingARR: arr}
			switch u := r.Float64(); {
			case u < profile.monthlyChurn:
				p.churned, p.churnedARR = true, arr
			case u < profile.monthlyChurn+0.12:
				p.expansion = roundMoney(arr * (0.05 + 0.2*r.Float64()))
			case u < profile.monthlyChurn+0.15:
				p.contraction = roundMoney(arr * (0.05 + 0.15*r.Float64()))
			}
			a.periods = append(a.periods, p)
			if p.churned {
				a.churnAt = p.end
				break
			}
			arr += p.expansion - p.contraction
		}
	}
}

func profileOf(segment string) segmentProfile {
	for _, p := range segmentProfiles {
		if p.name == segment {
			return p
		}
	}
	panic("demodata: unknown segment " + segment)
}

// active reports whether the account is still a customer at t.
func (a *account) active(t time.Time) bool { return a.churnAt.IsZero() || t.Before(a.churnAt) }

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func roundMoney(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

// accountPicker draws the account behind a survey answer or a ticket, in
// proportion to the account's contacts, among accounts still customers.
type accountPicker struct {
	accounts []*account
	pick     categorical
}

func newAccountPicker(accounts []*account) accountPicker {
	weights := make([]float64, len(accounts))
	for i, a := range accounts {
		weights[i] = a.activity
	}
	return accountPicker{accounts: accounts, pick: newCategorical(make([]string, len(accounts)), weights)}
}

// draw returns an account active at t; it redraws past churned accounts
// and falls back to any active one.
func (p accountPicker) draw(r *rand.Rand, t time.Time) *account {
	for range 32 {
		if a := p.accounts[p.pick.index(r)]; a.active(t) {
			return a
		}
	}
	for _, a := range p.accounts {
		if a.active(t) {
			return a
		}
	}
	return p.accounts[0]
}
