// Package response measures how many of a survey's invitations were
// answered, overall and per segment: response rates in B2B run from about
// 13 % to 32 %, and a segment whose stakeholders mostly never answer is
// not represented by its score.
package response

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// DefaultMinRate is the response rate, in percent, below which a segment
// is flagged when the Metric names none.
const DefaultMinRate = 20

// Invitations says where a survey's invitations are.
type Invitations struct {
	Table, Time string
	// Count is the column of how many invitations a row stands for; each
	// row is one when empty.
	Count   string
	Filters []source.Filter
	// MinRate in percent.
	MinRate float64
}

// Rate is one segment's (or the population's, Segment "") response rate.
type Rate struct {
	Segment     string
	Responses   int64
	Invitations int64
	// Rate in percent; 0 without invitations.
	Rate float64
	// Low is true when invitations were sent and the rate is below MinRate.
	Low bool
}

// Result is a Metric's response rates over one window.
type Result struct {
	Overall Rate
	// Segments by key, for every segment with invitations or responses.
	Segments map[string]Rate
}

// Lowest are the segments with the lowest rates, at most n, lowest first.
func (r Result) Lowest(n int) []Rate {
	out := make([]Rate, 0, len(r.Segments))
	for _, s := range r.Segments {
		if s.Invitations > 0 {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Rate) int { return cmp.Or(cmp.Compare(a.Rate, b.Rate), cmp.Compare(a.Segment, b.Segment)) })
	return out[:min(n, len(out))]
}

// Read counts metric m's responses (unweighted, as its definition counts
// units) and its invitations over the window ending at windowEnd, with m's
// segments.
func Read(ctx context.Context, src source.Source, m engine.Metric, inv Invitations, windowEnd time.Time) (Result, error) {
	from := engine.AddWall(windowEnd, -m.Window, m.Location)
	rq := m.Query
	rq.Weight, rq.Cluster = "", ""
	responses, err := src.Query(ctx, m.Definition, rq, from, windowEnd)
	if err != nil {
		return Result{}, fmt.Errorf("%w: responses: %v", engine.ErrSourceUnavailable, err)
	}
	iq := source.Query{Table: inv.Table, Time: inv.Time, Value: inv.Count, Filters: inv.Filters, Segments: m.Query.Segments,
		MaxSegments: m.Query.MaxSegments}
	idef := measure.Definition{Formula: measure.FormulaSum, Source: "invitations"}
	if inv.Count == "" {
		iq.Value, idef.Formula = inv.Time, measure.FormulaCount
	}
	invited, err := src.Query(ctx, idef, iq, from, windowEnd)
	if err != nil {
		return Result{}, fmt.Errorf("%w: invitations: %v", engine.ErrSourceUnavailable, err)
	}
	count := func(d measure.Definition, s *measure.Stats) (int64, error) {
		if s == nil {
			return 0, nil
		}
		e, err := measure.Compute(d, s, 0.95, 0)
		if err != nil {
			return 0, err
		}
		if d.Formula == measure.FormulaSum || d.Formula == measure.FormulaCount {
			return int64(e.Value + 0.5), nil
		}
		return e.N, nil
	}
	rate := func(seg string, rs, is *measure.Stats) (Rate, error) {
		r := Rate{Segment: seg}
		var err error
		if r.Responses, err = count(m.Definition, rs); err != nil {
			return r, err
		}
		if r.Invitations, err = count(idef, is); err != nil {
			return r, err
		}
		if r.Invitations > 0 {
			r.Rate = 100 * float64(r.Responses) / float64(r.Invitations)
			r.Low = r.Rate < inv.MinRate
		}
		return r, nil
	}
	res := Result{Segments: map[string]Rate{}}
	if res.Overall, err = rate("", responses.Overall, invited.Overall); err != nil {
		return Result{}, err
	}
	keys := map[string]bool{}
	for k := range responses.Segments {
		keys[k] = true
	}
	for k := range invited.Segments {
		keys[k] = true
	}
	for k := range keys {
		var rs, is *measure.Stats
		if s := responses.Segments[k]; s != nil {
			rs = s.Stats
		}
		if s := invited.Segments[k]; s != nil {
			is = s.Stats
		}
		if res.Segments[k], err = rate(k, rs, is); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}
