package source

import (
	"strings"

	"github.com/cxloop/cxloop/internal/measure"
)

// recordClusters are the clusters of an in-process query's records: each
// cluster's units are folded into a Stats of their own while the records
// stream past, and their cross sums added to the segment's statistics
// when the range is read (measure.Definition.AddCluster), the same sums
// the SQL sources compute in the database.
type recordClusters struct {
	bySegment map[*measure.Stats]*segmentClusters
	// order keeps the segments in the order they were met, so the sums
	// are added in the same order on every run.
	order []*measure.Stats
	// count is the clusters met so far, shared by the intervals of a
	// history; nil counts here alone.
	count *int
	n     int
}

// segmentClusters are one segment's clusters, in the order they were met.
type segmentClusters struct {
	byValue map[string]*measure.Stats
	order   []string
}

// of returns the statistics of the cluster named value within the
// segment seg; a cluster past MaxClusters is an error. A record without
// a cluster value is in the cluster "", with every other such record.
func (r *recordClusters) of(seg *measure.Stats, value string) (*measure.Stats, error) {
	sc, ok := r.bySegment[seg]
	if !ok {
		sc = &segmentClusters{byValue: map[string]*measure.Stats{}}
		r.bySegment[seg] = sc
		r.order = append(r.order, seg)
	}
	if c, ok := sc.byValue[value]; ok {
		return c, nil
	}
	count := r.count
	if count == nil {
		count = &r.n
	}
	if *count >= MaxClusters {
		return nil, wrap(ErrTooLarge, "more than %d clusters in one query (MaxClusters): narrow the window or the cluster column", MaxClusters)
	}
	*count++
	// value may be a view of the source's buffer: keep a copy.
	value = strings.Clone(value)
	c := &measure.Stats{}
	sc.byValue[value] = c
	sc.order = append(sc.order, value)
	return c, nil
}

// addTo adds every cluster's cross sums to its segment's statistics and
// the segments' to the whole population's, as the SQL sources do: a
// cluster is taken within its segment.
func (r *recordClusters) addTo(def measure.Definition, res *Result) {
	res.Overall.MarkClustered()
	for _, s := range res.Segments {
		s.Stats.MarkClustered()
	}
	for _, seg := range r.order {
		sc := r.bySegment[seg]
		for _, v := range sc.order {
			def.AddCluster(seg, sc.byValue[v])
		}
		if seg != res.Overall {
			res.Overall.Clusters.Merge(seg.Clusters)
		}
	}
}
