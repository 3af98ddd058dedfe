package simulate

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/scorecard"
)

// ScorecardCase is an account-health scorecard simulated: every account
// answers a relationship NPS survey and opens support tickets whose
// first-contact resolution is recorded, each member at the level that
// scores the scorecard's target, so every task opened after the
// calibration is a false one.
type ScorecardCase struct {
	Name     string
	Accounts int
	// NPSPerMonth and TicketsPerMonth are one account's expected
	// responses and tickets per 30 days.
	NPSPerMonth, TicketsPerMonth float64
	// MoodSD and MoodTau shape a common AR(1) mood on both members (in
	// NPS points and percentage points), shared by every account.
	MoodSD, MoodTau float64
	// Campaigns makes accounts of lognormal sizes answer in bursts.
	Campaigns bool
}

// The scorecard every case scores: NPS from −100 to 50 and first-contact
// resolution from 0 to 80 %, weighted alike, with an objective of 60 and
// a smallest drop worth a task of 10 points.
const (
	scorecardTarget = 60
	scorecardShift  = 10
	npsFloor        = -100
	npsTarget       = 50
	fcrTarget       = 80
)

// ScorecardGrid is the scorecard cases: few large accounts and many small
// ones, then a common mood and survey campaigns.
func ScorecardGrid() []ScorecardCase {
	return []ScorecardCase{
		{Name: "scorecard-iid-50", Accounts: 50, NPSPerMonth: 60, TicketsPerMonth: 100},
		{Name: "scorecard-iid-300", Accounts: 300, NPSPerMonth: 20, TicketsPerMonth: 30},
		{Name: "scorecard-mood-sd2-tau30-50", Accounts: 50, NPSPerMonth: 60, TicketsPerMonth: 100, MoodSD: 2, MoodTau: 30},
		{Name: "scorecard-mood-sd4-tau14-300", Accounts: 300, NPSPerMonth: 20, TicketsPerMonth: 30, MoodSD: 4, MoodTau: 14},
		{Name: "scorecard-campaigns-300", Accounts: 300, NPSPerMonth: 20, TicketsPerMonth: 30, Campaigns: true},
	}
}

// level is the member value that scores s on a scale from floor to
// target.
func level(floor, target, s float64) float64 { return floor + s/100*(target-floor) }

// members are the case's two member metrics as the operator runs them,
// segmented by account.
func (c ScorecardCase) members() (nps, fcr Case) {
	npsLevel := level(npsFloor, npsTarget, scorecardTarget)
	// An NPS mix at the level: a fifth passives, the rest split to give it.
	prom := (0.8 + npsLevel/100) / 2
	nps = Case{Name: c.Name + "-nps", Formula: measure.FormulaNPS, Direction: engine.AtLeast, Level: npsLevel, Shift: 5,
		PerMonth: c.NPSPerMonth * float64(c.Accounts), Segments: c.Accounts, MoodSD: c.MoodSD, MoodTau: c.MoodTau,
		Promoters: prom, Detractors: 0.8 - prom}
	fcr = Case{Name: c.Name + "-fcr", Formula: measure.FormulaRate, Direction: engine.AtLeast, Level: level(0, fcrTarget, scorecardTarget),
		Shift: 5, PerMonth: c.TicketsPerMonth * float64(c.Accounts), Segments: c.Accounts, MoodSD: c.MoodSD, MoodTau: c.MoodTau}
	if c.Campaigns {
		nps.Accounts, fcr.Accounts = c.Accounts, c.Accounts
	}
	return nps, fcr
}

// Policy is the scorecard's decision policy with the Scorecard CRD's
// defaults: a 30-day window and a budget of 1 false task per 100
// scorecard-months.
func (c ScorecardCase) Policy() scorecard.Policy {
	return scorecard.Policy{Target: scorecardTarget, Shift: scorecardShift, Budget: 0.01, Window: 30 * day, Location: time.UTC}
}

// scorecardWorld is one draw of a case's two members.
type scorecardWorld struct {
	c        ScorecardCase
	nps, fcr *world
	npsCase  Case
	fcrCase  Case
}

// newScorecardWorld draws both members' worlds from one seed, so they
// share their mood and campaign calendars.
func newScorecardWorld(c ScorecardCase, seed uint64, days int) *scorecardWorld {
	nps, fcr := c.members()
	return &scorecardWorld{c: c, nps: newWorld(nps, seed, days), fcr: newWorld(fcr, seed, days), npsCase: nps, fcrCase: fcr}
}

// sources draws the members' data under a drop of by score points in the
// first account from day from (zero: none), restored from day restore.
func (w *scorecardWorld) sources(seed uint64, from int, by float64, restore int) []scorecard.MemberSource {
	npsBy := by / 100 * (npsTarget - npsFloor)
	fcrBy := by / 100 * fcrTarget
	npsCh := Change{Day: from, By: npsBy, Restore: restore, Segments: 1}
	fcrCh := Change{Day: from, By: fcrBy, Restore: restore, Segments: 1}
	if by == 0 {
		npsCh, fcrCh = Change{}, Change{}
	}
	member := func(name string, c Case, s *Series, floor, target float64) scorecard.MemberSource {
		m := c.Metric()
		return scorecard.MemberSource{Member: scorecard.Member{Name: name, Weight: 1, Scale: scorecard.Scale{Floor: floor, Target: target}},
			Metric: m, Source: s, KeyColumn: SegmentColumn, MinSamples: 5}
	}
	return []scorecard.MemberSource{
		member("nps", w.npsCase, w.nps.draw(seed, npsCh), npsFloor, npsTarget),
		member("fcr", w.fcrCase, w.fcr.draw(seed^0xfc, fcrCh), 0, fcrTarget),
	}
}

// replay runs the scorecard's decisions over the simulated days through
// the operator's code path (scorecard.Policy.Replay: each closed window
// judged once at the first daily scoring after it closes, the first after
// calibrating on the windows before it), owners resolving resolveAfter
// after a task opens when it is positive, on a 30-day verify window, two
// attempts and 30 fresh samples: the Scorecard CRD's defaults.
func replay(c ScorecardCase, members []scorecard.MemberSource, days int, resolveAfter time.Duration) ([]scorecard.ReplayEvent, error) {
	in := scorecard.Input{Target: scorecardTarget, Confidence: 0.95, MinCoverage: 0.5}
	return c.Policy().Replay(context.Background(), members, in, Start.Add(30*day), Start.Add(time.Duration(days)*day),
		scorecard.ReplayOptions{Interval: day, ResolveAfter: resolveAfter, VerifyWindow: 30 * day, MaxAttempts: 2, MinFreshSamples: 30})
}

// ScorecardResult is one scorecard case's measurement.
type ScorecardResult struct {
	Case ScorecardCase
	// ScorecardMonths are the stable scorecard-months counted and
	// FalseTasks the episodes opened on them, across all accounts.
	ScorecardMonths float64
	FalseTasks      int
	// Detected counts drops of 2δ in one account that opened a task
	// within 90 days, of Trials.
	Trials, Detected int
	// FixedNothing counts the detected drops whose fix did nothing but
	// were verified, and Restored those whose fix restored the level and
	// were verified.
	FixedNothing, Restored int
}

// Rate is the false tasks per 100 scorecard-months.
func (r ScorecardResult) Rate() float64 { return 100 * float64(r.FalseTasks) / r.ScorecardMonths }

// Upper is the rate's exact 95 % upper confidence bound.
func (r ScorecardResult) Upper() float64 { return 100 * poissonUpper(r.FalseTasks) / r.ScorecardMonths }

// MeasureScorecard measures a scorecard case: false tasks over o.Months
// stable scorecard-months, and o.Trials drops of 2δ in one account with
// owners resolving o.ResolveAfter after the task opens, a fix that did
// nothing and one that restored the level; no drops when o.FixDrops is
// empty but not nil (stable data only).
func MeasureScorecard(c ScorecardCase, o Options) (ScorecardResult, error) {
	stableOnly := o.FixDrops != nil && len(o.FixDrops) == 0
	o = o.withDefaults()
	if stableOnly {
		o.Trials = 0
	}
	res := ScorecardResult{Case: c, Trials: o.Trials}
	shards := max(1, o.Months/o.ShardMonths)
	type counted struct {
		n   int
		err error
	}
	falses := Parallel(shards, func(i int) counted {
		n, err := scorecardFalseTasks(c, o, i)
		return counted{n, err}
	})
	for _, f := range falses {
		if f.err != nil {
			return res, f.err
		}
		res.FalseTasks += f.n
		res.ScorecardMonths += float64(o.ShardMonths)
	}
	type trial struct {
		detected, nothing, restored bool
		err                         error
	}
	trials := Parallel(o.Trials, func(i int) trial {
		d, n, r, err := scorecardDropTrial(c, o, i)
		return trial{d, n, r, err}
	})
	for _, t := range trials {
		if t.err != nil {
			return res, t.err
		}
		res.Detected += b2i(t.detected)
		res.FixedNothing += b2i(t.nothing)
		res.Restored += b2i(t.restored)
	}
	return res, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (o Options) scorecardSeed(c ScorecardCase, kind string, i int) uint64 {
	return o.seed(Case{Name: c.Name}, kind, 0, i)
}

// scorecardFalseTasks counts the tasks opened after the calibration on
// one stable history.
func scorecardFalseTasks(c ScorecardCase, o Options, shard int) (int, error) {
	days := o.Calibration + 30*o.ShardMonths
	seed := o.scorecardSeed(c, "stable", shard)
	w := newScorecardWorld(c, seed, days)
	events, err := replay(c, w.sources(seed, 0, 0, 0), days, 0)
	if err != nil {
		return 0, err
	}
	after := Start.Add(time.Duration(o.Calibration) * day)
	n := 0
	for _, e := range events {
		if e.Event == scorecard.EventTaskOpened && !e.At.Before(after) {
			n++
		}
	}
	return n, nil
}

// scorecardDropTrial drops the first account by 2δ after the calibration
// and a random 0 to 60 days. A task for it opened within 90 days is a
// detection; its owner resolves o.ResolveAfter after it opens, and the
// resolution is verified on the fresh data, up to two attempts: once with
// the drop persisting (the fix did nothing) and once with the level
// restored from the first resolution.
func scorecardDropTrial(c ScorecardCase, o Options, i int) (detected, nothing, restored bool, err error) {
	seed := o.scorecardSeed(c, "drop", i)
	r := rand.New(rand.NewPCG(seed, 7))
	dropDay := o.Calibration + r.IntN(61)
	days := dropDay + 90 + 2*(int(o.ResolveAfter/day)+31)
	w := newScorecardWorld(c, seed, days)
	const by = 2 * scorecardShift
	events, err := replay(c, w.sources(seed, dropDay, by, 0), days, o.ResolveAfter)
	if err != nil {
		return false, false, false, err
	}
	account := segmentValue(0)
	dropAt := Start.Add(time.Duration(dropDay) * day)
	var opened *scorecard.ReplayEvent
	for k, e := range events {
		if e.Account == account && e.Event == scorecard.EventTaskOpened && !e.At.Before(dropAt) {
			opened = &events[k]
			break
		}
	}
	if opened == nil || opened.At.After(dropAt.Add(90*day)) {
		return false, false, false, nil
	}
	restore := int(opened.At.Add(o.ResolveAfter).Sub(Start) / day)
	fixed, err := replay(c, w.sources(seed, dropDay, by, restore), days, o.ResolveAfter)
	if err != nil {
		return true, false, false, err
	}
	return true, verified(events, *opened), verified(fixed, *opened), nil
}

// verified reports whether the task opened by the event was verified.
func verified(events []scorecard.ReplayEvent, opened scorecard.ReplayEvent) bool {
	for _, e := range events {
		if e.Account == opened.Account && e.EpisodeStart.Equal(opened.EpisodeStart) && e.Event == scorecard.EventVerified {
			return true
		}
	}
	return false
}
