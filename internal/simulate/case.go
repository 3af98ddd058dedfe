package simulate

import (
	"fmt"
	"time"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// Case is one named entry of the grid: a metric as the operator would run
// it, with its defaults, and how its data departs from independent
// answers at a fixed level.
type Case struct {
	// Name identifies the case on the command line and in the table.
	Name string
	// Group is the departure the case probes, such as "mood".
	Group   string
	Formula string
	// Direction is the metric's good direction.
	Direction engine.Direction
	// Level is the data's long-run level: the target, or for a relative
	// objective the level the baseline measures.
	Level float64
	// Shift is δ, the smallest change worth a task.
	Shift float64
	// PerMonth is the expected units per 30 days.
	PerMonth float64
	// Segments is the segment count; 0 or 1 is an unsegmented metric.
	Segments int

	// MoodSD and MoodTau shape a common AR(1) mood on the level: its sd
	// and correlation time in days.
	MoodSD, MoodTau float64
	// Accounts answer in campaigns, each at a fixed offset of
	// +AccountOffset or −AccountOffset, the offsets centred on the
	// accounts' long-run shares.
	Accounts      int
	AccountOffset float64
	// Weighted ties revenue weights to answer variance.
	Weighted bool
	// Weekly adds the weekly cycle.
	Weekly bool
	// BaselineUnits, when positive, makes the objective relative (no worse
	// than the baseline) with a baseline window holding this many units.
	BaselineUnits float64
	// Promoters and Detractors are an NPS case's reference mix of answers
	// at its level; 0.45 and 0.15 when both are zero.
	Promoters, Detractors float64
	// Every, when positive, replaces Poisson volumes by a rota: each
	// segment answers one unit every Every days, segment s on the days d
	// with d mod Every = s mod Every (PerMonth is then ignored).
	Every int
}

func (c Case) segments() int { return max(1, c.Segments) }

// mix is the case's reference NPS mix.
func (c Case) mix() (prom, det float64) {
	if c.Promoters == 0 && c.Detractors == 0 {
		return 0.45, 0.15
	}
	return c.Promoters, c.Detractors
}

// Metric is the engine's metric for the case, with the Metric CRD's
// defaults: a 30-day window evaluated daily, a 30-day verify window, a
// budget of 1 false task per 100 metric-months, two attempts, five open
// tasks.
func (c Case) Metric() engine.Metric {
	def := measure.Definition{Formula: c.Formula, Source: "simulated"}
	q := source.Query{Table: "answers", Value: "score", Time: "at"}
	if c.Formula == measure.FormulaRatio {
		q = source.Query{Table: "renewals", Numerator: "end_revenue", Denominator: "start_revenue", Time: "at"}
	}
	if c.Weighted {
		q.Weight = "revenue"
	}
	if c.Accounts > 0 {
		// Users of one account answer alike: the account is the cluster.
		q.Cluster = AccountColumn
	}
	if c.segments() > 1 {
		q.Segments = []string{SegmentColumn}
	}
	m := engine.Metric{Namespace: "cx", Name: "sim", UID: "uid-sim", Team: "cx", Definition: def, Hash: def.Hash(), Query: q,
		Durations: engine.Durations{Window: 30 * day, Interval: day, VerifyWindow: 30 * day, DueAfter: 14 * day,
			Retention: 90 * day, BaselineWindow: 30 * day},
		Location: time.UTC,
		Objective: engine.Objective{Direction: c.Direction, Confidence: 0.95, MinSamples: 30, MinShift: c.Shift,
			Budget: 0.01},
		Policy: engine.Policy{MinFreshSamples: 30, MaxAttempts: 2, MaxOpenTasks: 5}}
	if c.BaselineUnits > 0 {
		days := max(1, int(c.BaselineUnits/c.PerMonth*30+0.5))
		m.BaselineWindow = time.Duration(days) * day
		m.Objective.Relative = &engine.Relative{MaxChange: 0}
	} else {
		target := c.Level
		m.Objective.Target = &target
	}
	return m
}

const day = 24 * time.Hour

// Grid is every case, iid references first.
func Grid() []Case {
	var out []Case
	iid := []struct {
		formula      string
		level, shift float64
	}{{measure.FormulaNPS, 30, 5}, {measure.FormulaCSAT, 80, 5}, {measure.FormulaCES, 5.5, 0.3}}
	for _, f := range iid {
		for _, vol := range []float64{400, 2000, 10000} {
			for _, segs := range []int{1, 10} {
				out = append(out, Case{Name: fmt.Sprintf("iid-%s-%g-s%d", f.formula, vol, segs), Group: "iid", Formula: f.formula,
					Direction: engine.AtLeast, Level: f.level, Shift: f.shift, PerMonth: vol, Segments: segs})
			}
		}
	}
	nps := Case{Formula: measure.FormulaNPS, Direction: engine.AtLeast, Level: 30, Shift: 5}
	for _, vol := range []float64{2000, 10000} {
		for _, sd := range []float64{1, 2} {
			for _, tau := range []float64{3, 14, 30} {
				c := nps
				c.Name, c.Group = fmt.Sprintf("mood-sd%g-tau%g-%g", sd, tau, vol), "mood"
				c.PerMonth, c.MoodSD, c.MoodTau = vol, sd, tau
				out = append(out, c)
			}
		}
	}
	for _, accounts := range []int{40, 100} {
		c := nps
		c.Name, c.Group = fmt.Sprintf("campaigns-%d", accounts), "campaigns"
		c.PerMonth, c.Accounts, c.AccountOffset = 2000, accounts, 8
		out = append(out, c)
	}
	w := nps
	w.Name, w.Group, w.PerMonth, w.Weighted = "weighted-3000", "weights", 3000, true
	out = append(out, w)
	for _, rate := range []float64{2, 5} {
		for _, vol := range []float64{1500, 6000} {
			out = append(out, Case{Name: fmt.Sprintf("atmost-%gpct-%g", rate, vol), Group: "atmost", Formula: measure.FormulaRate,
				Direction: engine.AtMost, Level: rate, Shift: rate / 2, PerMonth: vol})
		}
	}
	for _, vol := range []float64{10, 100, 400} {
		c := nps
		c.Name, c.Group, c.PerMonth = fmt.Sprintf("small-%g", vol), "small", vol
		out = append(out, c)
	}
	wk := nps
	wk.Name, wk.Group, wk.PerMonth, wk.Weekly = "weekly-2000", "weekly", 2000, true
	out = append(out, wk)
	rel := nps
	rel.Name, rel.Group, rel.PerMonth, rel.BaselineUnits = "relative-2000", "relative", 2000, 2000
	out = append(out, rel)
	out = append(out, Case{Name: "nrr-tumbling-300", Group: "tumbling", Formula: measure.FormulaRatio, Direction: engine.AtLeast,
		Level: 1, Shift: 0.05, PerMonth: 300})
	return out
}

// Find returns the case of the grid with the name.
func Find(name string) (Case, bool) {
	for _, c := range Grid() {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}
