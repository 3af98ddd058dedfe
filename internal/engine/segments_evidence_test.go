package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/source"
)

// ledger is a source of exact daily NPS counts per account: answers a
// day per account, split into promoters, passives and detractors by the
// account's mix of the day. It is arithmetic, not drawn, so a thousand
// accounts over a year read fast and every statistic is exact.
type ledger struct {
	start    time.Time
	accounts []string
	perDay   int64
	// mix is an account's promoters and detractors on a day (days since
	// start), the rest of perDay passives; (0, 0) is a day without answers.
	mix func(account, day int) (promoters, detractors int64)
}

func (l *ledger) Query(_ context.Context, d measure.Definition, q source.Query, from, to time.Time) (*source.Result, error) {
	res := &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}, Statement: "ledger"}
	only := ""
	for _, f := range q.Filters {
		if f.Column == "account" {
			only = f.Values[0]
		}
	}
	for day := from; day.Before(to); day = day.Add(24 * time.Hour) {
		i := int(day.Sub(l.start) / (24 * time.Hour))
		if day.Before(l.start) {
			continue
		}
		for a, name := range l.accounts {
			if only != "" && name != only {
				continue
			}
			p, det := l.mix(a, i)
			if l.perDay == 0 || p+det == 0 {
				continue // no answers that day
			}
			st := &measure.Stats{}
			for score, n := range map[int64]int64{10: p, 0: det, 8: l.perDay - p - det} {
				if n > 0 {
					c := measure.Cell{N: n, W: float64(n), W2: float64(n)}
					st.MergeScore(score, c)
					st.Total.Merge(c)
				}
			}
			res.Overall.Merge(st)
			if len(q.Segments) == 0 {
				continue
			}
			key := source.SegmentKey(map[string]string{"account": name})
			seg, ok := res.Segments[key]
			if !ok {
				seg = &source.Segment{Key: key, Values: map[string]string{"account": name}, Stats: &measure.Stats{}}
				res.Segments[key] = seg
			}
			seg.Stats.Merge(st)
		}
	}
	return res, nil
}

func (l *ledger) Check(context.Context) error { return nil }
func (l *ledger) Close() error                { return nil }

// A per-account Metric over 1,200 accounts keeps every account's evidence
// through status: the accounts but one dip early on and then sit exactly
// δ/2 under the target, where the CUSUM neither grows nor decays, so 1,199
// accounts hold evidence from then on; a drop in the last-listed account,
// whose statistic stays below all the others' for its first days, opens
// its episode as soon as it does when the other accounts hold none (their
// dip followed by a day at the top of the scale). A detector that kept
// only the largest statistics would reset the dropped account every day
// and never find it.
func TestEveryAccountKeepsItsEvidence(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	quiet, err := dropDelay(t, start, 1200, false)
	if err != nil {
		t.Fatal(err)
	}
	crowded, err := dropDelay(t, start, 1200, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the drop in the last of 1,200 accounts opened after %d days, %d with the others quiet", crowded, quiet)
	if quiet < 0 || quiet > 20 {
		t.Fatalf("with the other accounts quiet the drop opened after %d days", quiet)
	}
	if crowded < 0 || crowded > quiet+1 {
		t.Fatalf("with 1,199 accounts holding evidence the drop opened after %d days, with them quiet after %d", crowded, quiet)
	}
}

// dropDelay runs a metric of n accounts from its first full window, the
// detector's state carried through status, and returns the days from the
// drop in the last-listed account to its episode (-1 for none within 30
// days). With crowded, the other accounts hold evidence from their dip
// on; the test fails if any of it goes missing.
func dropDelay(t *testing.T, start time.Time, n int, crowded bool) (int, error) {
	t.Helper()
	const dipDay, dropDay = 10, 45
	accounts := make([]string, n)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("acct-%04d", i)
	}
	last := n - 1
	src := &ledger{start: start, accounts: accounts, perDay: 40, mix: func(a, day int) (int64, int64) {
		switch {
		case a == last && day >= dropDay:
			return 6, 14 // NPS −20, 10δ under the target
		case a == last:
			return 18, 6 // NPS 30, the target
		case day == dipDay:
			return 4, 20 // NPS −40
		case day == dipDay+1 && !crowded:
			return 40, 0 // NPS 100: the dip's evidence is gone
		case day > dipDay:
			return 17, 6 // NPS 27.5, δ/2 under: no drift
		}
		return 18, 6
	}}
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	m.Query.Segments = []string{"account"}
	dropKey := source.SegmentKey(map[string]string{"account": accounts[last]})
	drop := start.Add(dropDay * 24 * time.Hour)
	var prior Prior
	for end := start.Add(30 * 24 * time.Hour); !end.After(drop.Add(30 * 24 * time.Hour)); end = end.Add(24 * time.Hour) {
		res, err := Evaluate(context.Background(), src, m, prior, end)
		if err != nil {
			return 0, err
		}
		status := cxv1.MetricStatus{DefinitionHash: res.DefinitionHash, Samples: res.Overall.Samples,
			Detector: metricspec.DetectorStatus(res.Detector)}
		back := stored(t, status)
		prior = metricspec.PriorOf(&back)
		if crowded {
			evidence := map[string]bool{}
			for _, s := range prior.Detector.Segments {
				evidence[s.Segment] = s.Statistic > 0
			}
			for _, a := range accounts[:last] {
				if k := source.SegmentKey(map[string]string{"account": a}); !evidence[k] {
					t.Fatalf("%s: %s lost its evidence (%d segments kept)", end.Format(time.DateOnly), k, len(prior.Detector.Segments))
				}
			}
		}
		for _, ep := range res.Episodes {
			if ep.Segment == dropKey {
				if ep.Start.Before(drop) {
					t.Fatalf("an episode of %s opened at %s, before the drop", dropKey, ep.Start)
				}
				return int(end.Sub(drop) / (24 * time.Hour)), nil
			}
		}
	}
	return -1, nil
}

// Evidence beyond the manager's bound on segments is never dropped: the
// evaluation is rejected TooManySegments instead.
func TestEvidenceBeyondMaxSegmentsIsTooManySegments(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	accounts := make([]string, 30)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("acct-%04d", i)
	}
	// Every account dips once, then sits δ/2 under the target; from day
	// 20 on only the first ten answer at all, so a month later the window
	// holds ten segments while thirty hold evidence.
	src := &ledger{start: start, accounts: accounts, perDay: 40, mix: func(a, day int) (int64, int64) {
		switch {
		case day >= 20 && a >= 10:
			return 0, 0 // no answers
		case day == 10:
			return 14, 6
		case day > 10:
			return 17, 6
		}
		return 18, 6
	}}
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	m.Query.Segments = []string{"account"}
	m.Query.MaxSegments = 30
	var prior Prior
	end := start.Add(15 * 24 * time.Hour)
	for ; end.Before(start.Add(50 * 24 * time.Hour)); end = end.Add(24 * time.Hour) {
		res, err := Evaluate(context.Background(), src, m, prior, end)
		if err != nil {
			t.Fatalf("%s: %v", end.Format(time.DateOnly), err)
		}
		prior = res.Prior()
	}
	if w, _ := src.Query(context.Background(), m.Definition, m.Query, end.Add(-m.Window), end); len(w.Segments) != 10 {
		t.Fatalf("the window holds %d segments, want 10", len(w.Segments))
	}
	if got := len(prior.Detector.Segments); got < 30 {
		t.Fatalf("%d segments hold evidence, want the 30 accounts'", got)
	}
	m.Query.MaxSegments = 20
	res, err := Evaluate(context.Background(), src, m, prior, end)
	if err == nil {
		t.Fatalf("30 segments with evidence under a bound of 20 evaluated: %d kept", len(res.Detector.Segments))
	}
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.Reason != ReasonTooManySegments || !errors.Is(err, source.ErrTooManySegments) {
		t.Fatalf("error %v, want a TooManySegments rejection", err)
	}
}

// Under a relative objective every account keeps its own frozen baseline
// through status, beyond the 200 a status once held: a month later, with
// every account's level moved, each is still judged against the level
// measured first.
func TestEveryAccountKeepsItsBaseline(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	accounts := make([]string, 300)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("acct-%04d", i)
	}
	src := &ledger{start: start, accounts: accounts, perDay: 40, mix: func(a, day int) (int64, int64) {
		if day >= 60 {
			return 20, 4 // every account better than its baseline
		}
		return 18, 6
	}}
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	m.Query.Segments = []string{"account"}
	m.Objective.Target, m.Objective.Relative, m.BaselineWindow = nil, &Relative{MaxChange: 5}, 30*24*time.Hour
	var prior Prior
	var first []SegmentBaseline
	for end := start.Add(60 * 24 * time.Hour); !end.After(start.Add(100 * 24 * time.Hour)); end = end.Add(24 * time.Hour) {
		res, err := Evaluate(context.Background(), src, m, prior, end)
		if err != nil {
			t.Fatal(err)
		}
		prior = persist(t, res)
		if first == nil {
			first = prior.SegmentBaselines
			if len(first) != len(accounts) {
				t.Fatalf("%d of %d accounts have a baseline", len(first), len(accounts))
			}
			continue
		}
		if len(prior.SegmentBaselines) != len(first) {
			t.Fatalf("%s: %d baselines kept, %d at first", end.Format(time.DateOnly), len(prior.SegmentBaselines), len(first))
		}
		for i, b := range prior.SegmentBaselines {
			if b != first[i] {
				t.Fatalf("%s: %s's baseline moved from %+v to %+v", end.Format(time.DateOnly), b.Segment, first[i].Baseline, b.Baseline)
			}
		}
	}
}
