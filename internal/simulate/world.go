package simulate

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
)

// Start is the first simulated day, a Thursday.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// The shape of the account campaigns: each account surveys its users in
// campaigns of about a week, a fifth of the time.
const (
	campaignDays  = 7
	campaignShare = 0.2
)

// The weighted case: strategic accounts answer a fifth of the responses
// with a revenue weight of 10 and polarised answers (60 % promoters, 30 %
// detractors); small accounts answer calmly (35 %, 5 %); both sit at the
// same NPS.
const (
	strategicShare  = 0.2
	strategicWeight = 10
)

// The weekly cycle: weekend days bring a fifth of a weekday's volume at a
// level 3 points lower.
const (
	weekendVolume = 0.2
	weekendDrop   = 3
)

// Change is a step the data takes away from its long-run level.
type Change struct {
	// Day is the first changed day; zero means no change.
	Day int
	// By is how far the level moves, toward the bad side.
	By float64
	// Restore is the first day back at the long-run level (a fix that
	// worked); zero means never.
	Restore int
	// Segments, when positive, limits the change to the segments below
	// it; zero changes every segment.
	Segments int
	// PerDay, when positive, is the changed segments' expected units a
	// day (Poisson) while the change lasts, in place of their own volume.
	PerDay float64
}

// active reports whether the change holds on day d in segment seg.
func (ch Change) active(d, seg int) bool {
	return ch.Day > 0 && d >= ch.Day && (ch.Restore <= 0 || d < ch.Restore) && (ch.Segments <= 0 || seg < ch.Segments)
}

// effect is the change's move of the level on day d in segment seg,
// signed.
func (ch Change) effect(d, seg int, dir engine.Direction) float64 {
	if !ch.active(d, seg) {
		return 0
	}
	if dir == engine.AtMost {
		return ch.By
	}
	return -ch.By
}

// stream is a group of units that answer alike: one segment's responses,
// one account's, or one class of accounts'.
type stream struct {
	segment int
	// perDay is the expected units on an active day.
	perDay float64
	// offset moves the stream's level from the metric's.
	offset float64
	// prom and det are the NPS reference mix of the stream's answers.
	prom, det float64
	weight    float64
	// active is the stream's campaign schedule; nil is always active.
	active []bool
}

// world is one draw of a case's latent structure: its streams, mood and
// calendar, fixed for the whole simulated history.
type world struct {
	c       Case
	streams []stream
	mood    []float64
	ces     map[float64][7]float64
	// quiet are days on which nobody answers.
	quiet map[int]bool
}

// newWorld draws a case's latent structure for days days.
func newWorld(c Case, seed uint64, days int) *world {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	w := &world{c: c, mood: Mood(r, days, c.MoodSD, c.MoodTau), ces: map[float64][7]float64{}}
	perDay := c.PerMonth / 30
	prom, det := c.mix()
	switch {
	case c.Accounts > 0:
		sizes := make([]float64, c.Accounts)
		total := 0.0
		for a := range sizes {
			sizes[a] = math.Exp(r.NormFloat64())
			total += sizes[a]
		}
		mean := 0.0
		for a := range sizes {
			sizes[a] /= total
			off := c.AccountOffset
			if r.IntN(2) == 0 {
				off = -off
			}
			mean += sizes[a] * off
			w.streams = append(w.streams, stream{segment: a % c.segments(), perDay: sizes[a] * perDay / campaignShare,
				offset: off, prom: prom, det: det, weight: 1, active: Campaigns(r, days, campaignDays, campaignShare)})
		}
		// Centre the offsets on the accounts' long-run shares.
		for a := range w.streams {
			w.streams[a].offset -= mean
		}
	case c.Weighted:
		w.streams = []stream{
			{perDay: strategicShare * perDay, prom: 0.60, det: 0.30, weight: strategicWeight},
			{perDay: (1 - strategicShare) * perDay, prom: 0.35, det: 0.05, weight: 1},
		}
	default:
		for s := range c.segments() {
			w.streams = append(w.streams, stream{segment: s, perDay: perDay / float64(c.segments()), prom: prom, det: det, weight: 1})
		}
	}
	return w
}

// calendar is day d's volume factor and level offset of the weekly
// cycle, which keeps the month's volume and its response-weighted mean.
func (w *world) calendar(d int) (volume, level float64) {
	if !w.c.Weekly {
		return 1, 0
	}
	weekly := 5 + 2*weekendVolume
	weekendShare := 2 * weekendVolume / weekly
	wd := Start.AddDate(0, 0, d).Weekday()
	if wd == time.Saturday || wd == time.Sunday {
		return 7 * weekendVolume / weekly, weekendShare*weekendDrop - weekendDrop
	}
	return 7 / weekly, weekendShare * weekendDrop
}

// draw simulates every day of the world under the change, each day from
// its own random stream, so two histories that differ from some day on
// (a fix that worked) share every day before it.
func (w *world) draw(seed uint64, ch Change) *Series {
	days := make([][]cells, len(w.mood))
	counts := make([]int64, maxCategories)
	// Campaigns keep each account's units too: the account is the
	// cluster a clustered query asks about.
	var accounts [][]cells
	if w.c.Accounts > 0 {
		accounts = make([][]cells, len(w.mood))
	}
	for d := range days {
		r := rand.New(rand.NewPCG(seed, uint64(d)+1<<32))
		days[d] = make([]cells, w.c.segments())
		vol, cal := w.calendar(d)
		if accounts != nil {
			accounts[d] = make([]cells, len(w.streams))
		}
		for i, s := range w.streams {
			if (s.active != nil && !s.active[d]) || w.quiet[d] {
				continue
			}
			n := w.units(r, s, d, vol, ch)
			if n == 0 {
				continue
			}
			level := w.c.Level + s.offset + w.mood[d] + cal + ch.effect(d, s.segment, w.c.Direction)
			c := &days[d][s.segment]
			if w.c.Formula == measure.FormulaRatio {
				drawAccounts(r, n, level, c)
				continue
			}
			p := w.shares(level, s)
			Multinomial(r, n, p, counts[:len(p)])
			for k, m := range counts[:len(p)] {
				f := float64(m)
				c.n[k] += m
				c.w[k] += f * s.weight
				c.w2[k] += f * s.weight * s.weight
				if accounts != nil {
					a := &accounts[d][i]
					a.n[k] += m
					a.w[k] += f * s.weight
					a.w2[k] += f * s.weight * s.weight
				}
			}
		}
	}
	series := newSeries(Start, w.c.Formula, days, w.c.segments())
	if accounts != nil {
		segmentOf := make([]int, len(w.streams))
		for i, s := range w.streams {
			segmentOf[i] = s.segment
		}
		series.withAccounts(accounts, segmentOf)
	}
	return series
}

// units draws stream s's units on day d, whose volume factor is vol:
// the change's volume where it holds, else the rota's one unit or a
// Poisson count.
func (w *world) units(r *rand.Rand, s stream, d int, vol float64, ch Change) int64 {
	switch {
	case ch.PerDay > 0 && ch.active(d, s.segment):
		return Poisson(r, ch.PerDay)
	case w.c.Every > 0:
		if d%w.c.Every == s.segment%w.c.Every {
			return 1
		}
		return 0
	}
	return Poisson(r, s.perDay*vol)
}

// shares are the answer categories' probabilities at a level.
func (w *world) shares(level float64, s stream) []float64 {
	switch w.c.Formula {
	case measure.FormulaNPS:
		p := npsShares(level, s.prom, s.det)
		return p[:]
	case measure.FormulaCES:
		p, ok := w.ces[level]
		if !ok {
			p = cesShares(level)
			w.ces[level] = p
		}
		return p[:]
	}
	p := clamp(level/100, 0, 1)
	return []float64{1 - p, p}
}

// The accounts behind a revenue ratio: renewals churn, contract, stay flat
// or expand, multinomially, on lognormal starting revenue; the mix's
// revenue-weighted ratio is 1.
var (
	accountShares = []float64{0.05, 0.10, 0.60, 0.25}
	accountRatios = []float64{0, 0.8, 1, 1.28}
)

// drawAccounts adds n accounts whose revenue ratio averages level: a
// change moves every account's ratio in proportion.
func drawAccounts(r *rand.Rand, n int64, level float64, c *cells) {
	counts := make([]int64, len(accountShares))
	Multinomial(r, n, accountShares, counts)
	for k, m := range counts {
		for range m {
			den := math.Round(1000 * math.Exp(r.NormFloat64()))
			num := den * accountRatios[k] * level
			c.n[0]++
			c.w[0]++
			c.w2[0]++
			c.ratio.Merge(measure.RatioSums{SumNum: num, SumDen: den, SumNum2: num * num, SumDen2: den * den, SumNumDen: num * den})
		}
	}
}
