package source

import (
	"math/bits"

	"github.com/cxloop/cxloop/internal/measure"
)

// blocks holds a history's buckets pre-merged in aligned runs of a power
// of two: run (level, n) is the merge of buckets [n·2^level,
// (n+1)·2^level). Any span [i, j) is the merge of at most 2·log2(j-i)
// such runs, so a replay that reads a 30-day window every day merges a
// handful of runs instead of 30 buckets, and a year's read a dozen
// instead of 365. Runs are built on first use, each from its two halves,
// and never change once built.
type blocks struct {
	// runs[level][n] is run (level, n); nil until built, and a run
	// without units is kept as an empty Result.
	runs [][]*Result
}

// run returns run (level, n) of b's buckets, building it and its halves
// as needed. Level 0 is the bucket itself (nil when it has no units).
func (b *historyBuckets) run(def measure.Definition, q Query, level, n int) *Result {
	if level == 0 {
		return b.results[n]
	}
	for len(b.blocks.runs) <= level {
		b.blocks.runs = append(b.blocks.runs, nil)
	}
	runs := b.blocks.runs[level]
	if runs == nil {
		runs = make([]*Result, len(b.results)>>level)
		b.blocks.runs[level] = runs
	}
	if r := runs[n]; r != nil {
		return r
	}
	r := newResult(b.statement)
	if clustered(def, q) {
		r.Overall.MarkClustered()
	}
	mergeInto(r, b.run(def, q, level-1, 2*n))
	mergeInto(r, b.run(def, q, level-1, 2*n+1))
	runs[n] = r
	return r
}

// spans calls f with the aligned runs that tile [i, j), in order: at each
// position the longest run that starts there and fits.
func spans(i, j int, f func(level, n int) error) error {
	for k := i; k < j; {
		level := bits.Len(uint(j-k)) - 1
		if k != 0 {
			level = min(level, bits.TrailingZeros(uint(k)))
		}
		if err := f(level, k>>level); err != nil {
			return err
		}
		k += 1 << level
	}
	return nil
}

// buckets calls f with the buckets of [i, j) one by one, as runs of level
// 0: the tiling of a span that builds no runs.
func buckets(i, j int, f func(level, n int) error) error {
	for k := i; k < j; k++ {
		if err := f(0, k); err != nil {
			return err
		}
	}
	return nil
}

// mergeInto merges the statistics of from into out, overall and per
// segment; from is left as it is. A nil from merges nothing. A segment
// new to out shares from's Values, which no one writes once a result is
// built: a window of 10,000 accounts merged from its buckets holds their
// values once, not once per merge.
func mergeInto(out, from *Result) {
	if from == nil {
		return
	}
	out.Overall.Merge(from.Overall)
	for key, s := range from.Segments {
		cur, ok := out.Segments[key]
		if !ok {
			cur = &Segment{Key: s.Key, Values: s.Values, Stats: &measure.Stats{}}
			if s.Stats.Clusters != nil {
				cur.Stats.MarkClustered()
			}
			out.Segments[key] = cur
		}
		cur.Stats.Merge(s.Stats)
	}
}
