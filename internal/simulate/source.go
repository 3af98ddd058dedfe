package simulate

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

// SegmentColumn is the column a simulated metric is segmented by.
const SegmentColumn = "segment"

// AccountColumn is the column of the account a simulated response
// belongs to, the cluster of the campaign cases' metrics.
const AccountColumn = "account"

// maxCategories is the most answer categories a formula is drawn in
// (effort scores 1..7).
const maxCategories = 7

// cells is one segment's units over a span of days, by answer category:
// counts, weight sums and squared weight sums, and a ratio's sums.
type cells struct {
	n     [maxCategories]int64
	w, w2 [maxCategories]float64
	ratio measure.RatioSums
}

func (c *cells) add(o *cells) {
	for k := range c.n {
		c.n[k] += o.n[k]
		c.w[k] += o.w[k]
		c.w2[k] += o.w2[k]
	}
	c.ratio.Merge(o.ratio)
}

// Series is simulated daily data held in memory as prefix sums per
// segment, so any range of whole days is answered in constant time. It
// implements source.Source: the engine reads it exactly as it reads a
// warehouse, window by window.
type Series struct {
	// Start is the first day's start; every day is 24 hours in UTC.
	Start   time.Time
	formula string
	// prefix[s][d] sums segment s's days before d.
	prefix [][]cells
	// keys are the segment keys when the data has more than one segment.
	keys []string
	// accounts[a][d] sums account a's days before d, and accountSegment
	// gives each account's segment; nil unless the data is drawn by
	// account (campaigns).
	accounts       [][]cells
	accountSegment []int
}

// withAccounts holds days[d][a], the cells of account a on day d, beside
// the segments' cells, so a clustered query gets each account's sums.
func (s *Series) withAccounts(days [][]cells, segment []int) {
	s.accounts = prefixSums(days, len(segment))
	s.accountSegment = segment
}

// prefixSums is, per column c of days[d][c], the running sums over days:
// out[c][d] holds the cells of days [0, d).
func prefixSums(days [][]cells, columns int) [][]cells {
	out := make([][]cells, columns)
	for c := range out {
		p := make([]cells, len(days)+1)
		for d := range days {
			p[d+1] = p[d]
			p[d+1].add(&days[d][c])
		}
		out[c] = p
	}
	return out
}

// between is the cells of days [lo, hi) from prefix sums.
func between(p []cells, lo, hi int) cells {
	var c cells
	for k := range c.n {
		c.n[k] = p[hi].n[k] - p[lo].n[k]
		if c.n[k] > 0 {
			c.w[k] = max(0, p[hi].w[k]-p[lo].w[k])
			c.w2[k] = max(0, p[hi].w2[k]-p[lo].w2[k])
		}
	}
	r := p[hi].ratio
	o := p[lo].ratio
	c.ratio = measure.RatioSums{SumNum: r.SumNum - o.SumNum, SumDen: r.SumDen - o.SumDen, SumNum2: r.SumNum2 - o.SumNum2,
		SumDen2: r.SumDen2 - o.SumDen2, SumNumDen: r.SumNumDen - o.SumNumDen}
	return c
}

// addClusters adds the cross sums of segment seg's accounts over days
// [lo, hi) to st, as a warehouse answers a query clustered by account:
// the sums measure.Definition.AddCluster gives, computed from each
// account's weights per answer category without building its Stats.
func (s *Series) addClusters(st *measure.Stats, seg, lo, hi int) {
	cl := st.Clusters
	if cl == nil {
		cl = &measure.Clusters{}
		st.Clusters = cl
	}
	scores := categoryScores(s.formula)
	var pairs [maxCategories][maxCategories]float64
	for a, p := range s.accounts {
		if s.accountSegment[a] != seg {
			continue
		}
		var w [maxCategories]float64
		n := int64(0)
		for k := range scores {
			if m := p[hi].n[k] - p[lo].n[k]; m > 0 {
				n += m
				w[k] = max(0, p[hi].w[k]-p[lo].w[k])
			}
		}
		if n == 0 {
			continue
		}
		cl.G++
		switch s.formula {
		case measure.FormulaCES:
			sc, wc := 0.0, 0.0
			for k, score := range scores {
				sc += float64(score) * w[k]
				wc += w[k]
			}
			cl.SumSS += sc * sc
			cl.SumSW += sc * wc
			cl.SumWW += wc * wc
		case measure.FormulaRatio:
			// Renewals are not drawn by account.
		default:
			for i := range scores {
				for j := i; j < len(scores); j++ {
					pairs[i][j] += w[i] * w[j]
				}
			}
		}
	}
	for i := range scores {
		for j := i; j < len(scores); j++ {
			if pairs[i][j] > 0 {
				cl.AddPair(scores[i], scores[j], pairs[i][j])
			}
		}
	}
}

// newSeries holds days[d][s], the cells of segment s on day d.
func newSeries(start time.Time, formula string, days [][]cells, segments int) *Series {
	s := &Series{Start: start, formula: formula, prefix: prefixSums(days, segments)}
	if segments > 1 {
		for seg := range segments {
			s.keys = append(s.keys, source.SegmentKey(map[string]string{SegmentColumn: segmentValue(seg)}))
		}
	}
	return s
}

func segmentValue(seg int) string { return fmt.Sprintf("s%02d", seg) }

// Days is how many days the series holds.
func (s *Series) Days() int { return len(s.prefix[0]) - 1 }

// dayIndex is the first day starting at or after t, within [0, Days].
func (s *Series) dayIndex(t time.Time) int {
	d := t.Sub(s.Start)
	i := int(d / (24 * time.Hour))
	if d%(24*time.Hour) > 0 {
		i++
	}
	return max(0, min(s.Days(), i))
}

// Query returns the statistics of the days that start in [from, to): a
// day's units all carry its start as their time.
func (s *Series) Query(_ context.Context, d measure.Definition, q source.Query, from, to time.Time) (*source.Result, error) {
	lo, hi := s.dayIndex(from), s.dayIndex(to)
	if hi < lo {
		hi = lo
	}
	only := -1
	for _, f := range q.Filters {
		if f.Column != SegmentColumn || len(f.Values) != 1 {
			return nil, fmt.Errorf("simulated data filters on %q only", SegmentColumn)
		}
		i, err := strconv.Atoi(f.Values[0][1:])
		if err != nil {
			return nil, fmt.Errorf("segment %q: %w", f.Values[0], err)
		}
		only = i
	}
	res := &source.Result{Overall: &measure.Stats{}, Segments: map[string]*source.Segment{}, Statement: "simulated"}
	if hi == lo {
		// No whole day: no rows, as a warehouse groups none (a year of
		// calibration before the first day costs nothing).
		return res, nil
	}
	for seg, p := range s.prefix {
		if only >= 0 && seg != only {
			continue
		}
		c := between(p, lo, hi)
		st := s.stats(&c)
		if q.Cluster == AccountColumn && s.accounts != nil {
			s.addClusters(st, seg, lo, hi)
		}
		res.Overall.Merge(st)
		if len(q.Segments) > 0 && s.keys != nil {
			res.Segments[s.keys[seg]] = &source.Segment{Key: s.keys[seg], Values: map[string]string{SegmentColumn: segmentValue(seg)}, Stats: st}
		}
	}
	return res, nil
}

// stats renders cells as the statistics a warehouse query returns for
// the formula.
func (s *Series) stats(c *cells) *measure.Stats {
	st := &measure.Stats{}
	scores := categoryScores(s.formula)
	first := true
	for k, score := range scores {
		if c.n[k] == 0 {
			continue
		}
		cell := measure.Cell{N: c.n[k], W: c.w[k], W2: c.w2[k]}
		st.Total.Merge(cell)
		switch s.formula {
		case measure.FormulaCES:
			x := float64(score)
			if first {
				st.Moments.Min, first = x, false
			}
			st.Moments.Max = x
			st.Moments.SumWX += cell.W * x
			st.Moments.SumWX2 += cell.W * x * x
			st.Moments.SumW2X += cell.W2 * x
			st.Moments.SumW2X2 += cell.W2 * x * x
		case measure.FormulaRatio:
		default:
			st.MergeScore(score, cell)
		}
	}
	if s.formula == measure.FormulaRatio {
		st.Ratio = c.ratio
	}
	return st
}

// categoryScores are the scores a formula's answer categories are
// recorded as, in the order the draws fill them.
func categoryScores(formula string) []int64 {
	switch formula {
	case measure.FormulaNPS:
		return []int64{0, 7, 10} // detractor, passive, promoter
	case measure.FormulaCSAT:
		return []int64{1, 5} // dissatisfied, satisfied
	case measure.FormulaRate:
		return []int64{0, 1}
	case measure.FormulaCES:
		return []int64{1, 2, 3, 4, 5, 6, 7}
	}
	return []int64{0} // a ratio's accounts
}

// Check implements source.Source.
func (s *Series) Check(context.Context) error { return nil }

// Close implements source.Source.
func (s *Series) Close() error { return nil }

// Total is every unit in the series, for tests: counts by category over
// all segments.
func (s *Series) Total() []int64 {
	scores := categoryScores(s.formula)
	out := make([]int64, len(scores))
	for _, p := range s.prefix {
		for k := range scores {
			out[k] += p[len(p)-1].n[k]
		}
	}
	return out
}
