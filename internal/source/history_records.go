package source

import (
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// MaxHistoryStats bounds the statistics an in-process source (CSV, HTTP
// JSON) holds for one history of several intervals: each interval with
// units holds its whole population's and one per segment met in it, so
// the bound is on intervals × segments. Past it QueryHistory fails with
// ErrTooLarge rather than growing without bound; a history of a single
// interval is a Query, bounded by the query's segments alone. The clusters
// of all the intervals count together against MaxClusters.
const MaxHistoryStats = 500_000

// recordBuckets are the statistics of a plan's intervals, filled as the
// records stream past in any order of time.
type recordBuckets struct {
	statement string
	bounds    []time.Time
	buckets   []*recordBucket
	// segmentIDs numbers the segments met in any interval by their values
	// joined with a byte text fields cannot hold; segmentKeys and
	// segmentValues describe each.
	segmentIDs    map[string]int32
	segmentKeys   []string
	segmentValues []map[string]string
	// bySegment finds an interval's statistics of a segment without
	// building anything per record.
	bySegment map[segmentCell]*measure.Stats
	keyBuf    []byte
	maxSegs   int
	// held counts the statistics of every interval, clusters the clusters.
	held, clusters int
	clustered      bool
}

// recordBucket is one interval's result, created by its first record.
type recordBucket struct {
	res      *Result
	clusters *recordClusters
}

type segmentCell struct {
	bucket, segment int32
}

func (b *recordBuckets) init(p *recordPlan, bounds []time.Time, statement string) error {
	if len(bounds) < 2 {
		return wrap(ErrBadQuery, "a history needs at least two bounds")
	}
	for i := 1; i < len(bounds); i++ {
		if !bounds[i].After(bounds[i-1]) {
			return wrap(ErrBadQuery, "history bounds not increasing at %s", bounds[i].UTC().Format(time.RFC3339))
		}
	}
	if len(bounds)-1 > MaxHistoryStats {
		return historyTooLarge(len(bounds) - 1)
	}
	b.statement, b.bounds = statement, bounds
	b.buckets = make([]*recordBucket, len(bounds)-1)
	b.maxSegs = p.q.maxSegments()
	b.clustered = p.cluster >= 0
	if len(p.segments) > 0 {
		b.segmentIDs = map[string]int32{}
		b.bySegment = map[segmentCell]*measure.Stats{}
	}
	return nil
}

func historyTooLarge(intervals int) error {
	return wrap(ErrTooLarge, "a history of %d intervals holds more than %d statistics (MaxHistoryStats, one per interval and segment): ask for fewer intervals or segment by columns with fewer values",
		intervals, MaxHistoryStats)
}

// interval returns the interval at lies in, -1 when it is before the
// first bound or at or after the last.
func (b *recordBuckets) interval(at time.Time) int {
	lo, hi := 0, len(b.bounds) // bounds[lo] <= at < bounds[hi] once found
	if at.Before(b.bounds[0]) || !at.Before(b.bounds[hi-1]) {
		return -1
	}
	hi--
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if at.Before(b.bounds[mid]) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return lo
}

// bucket returns interval i's result, creating it.
func (b *recordBuckets) bucket(i int) (*recordBucket, error) {
	if k := b.buckets[i]; k != nil {
		return k, nil
	}
	if err := b.hold(); err != nil {
		return nil, err
	}
	k := &recordBucket{res: newResult(b.statement)}
	if b.clustered {
		k.clusters = &recordClusters{bySegment: map[*measure.Stats]*segmentClusters{}, count: &b.clusters}
	}
	b.buckets[i] = k
	return k, nil
}

// hold counts one more statistics held; a history of one interval is
// bounded by its segments alone, as a Query is.
func (b *recordBuckets) hold() error {
	if b.held >= MaxHistoryStats && len(b.buckets) > 1 {
		return historyTooLarge(len(b.buckets))
	}
	b.held++
	return nil
}

// segmentOf returns the statistics of the record's segment in interval
// i; a new segment past the query's bound in that interval is an error.
func (p *recordPlan) segmentOf(i int, k *recordBucket, rec []field) (*measure.Stats, error) {
	b := &p.recordBuckets
	b.keyBuf = b.keyBuf[:0]
	for _, slot := range p.segments {
		b.keyBuf = append(append(b.keyBuf, rec[slot].text...), 0)
	}
	id, ok := b.segmentIDs[string(b.keyBuf)]
	if ok {
		if s, ok := b.bySegment[segmentCell{int32(i), id}]; ok {
			return s, nil
		}
	}
	if len(k.res.Segments) >= b.maxSegs {
		return nil, tooManySegments(b.maxSegs, len(k.res.Segments))
	}
	if err := b.hold(); err != nil {
		return nil, err
	}
	if !ok {
		// The texts may be views of the source's buffer: keep copies.
		values := make(map[string]string, len(p.q.Segments))
		for j, c := range p.q.Segments {
			values[c] = strings.Clone(rec[p.segments[j]].text)
		}
		id = int32(len(b.segmentKeys))
		b.segmentIDs[string(b.keyBuf)] = id
		b.segmentKeys = append(b.segmentKeys, SegmentKey(values))
		b.segmentValues = append(b.segmentValues, values)
	}
	values := make(map[string]string, len(b.segmentValues[id]))
	for c, v := range b.segmentValues[id] {
		values[c] = v
	}
	seg := &Segment{Key: b.segmentKeys[id], Values: values, Stats: &measure.Stats{}}
	k.res.Segments[seg.Key] = seg
	b.bySegment[segmentCell{int32(i), id}] = seg.Stats
	return seg.Stats, nil
}

// result finishes interval i: its statistics, with the clusters' cross
// sums added; nil when no record of the query fell in it.
func (b *recordBuckets) result(i int, def measure.Definition, segmented bool) *Result {
	k := b.buckets[i]
	if k == nil {
		return nil
	}
	if k.clusters != nil {
		k.clusters.addTo(def, k.res)
	}
	if !segmented {
		k.res.Segments = map[string]*Segment{}
	}
	return k.res
}

// result finishes a plan of one interval (a Query): its statistics, empty
// when no record fell in the window.
func (p *recordPlan) result() *Result {
	if r := p.recordBuckets.result(0, p.def, len(p.segments) > 0); r != nil {
		return r
	}
	r := newResult(p.statement)
	if p.clustered {
		(&recordClusters{}).addTo(p.def, r)
	}
	return r
}

// history finishes every interval of the plan, nil for one without
// records.
func (p *recordPlan) history() []*Result {
	out := make([]*Result, len(p.buckets))
	for i := range out {
		out[i] = p.recordBuckets.result(i, p.def, len(p.segments) > 0)
	}
	return out
}
