package source

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// MaxHistoryStatistics bounds the statistics one history holds: for
// every interval with units, one for the whole population and one per
// segment (buckets × (segments + 1)). Past it QueryHistory fails with
// ErrTooLarge instead of holding them all; the history is then read in
// shorter spans, or one interval at a time. A statistic with its score
// counts holds about 420 bytes of the manager's heap
// (BenchmarkSQLiteHistoryHeldPerStatistic), so 50,000 keep one history
// near 21 MB: a Metric of 10,000 accounts then reads its first
// evaluation's weeks in spans of a few days (bench/scale: the manager's
// peak RSS 250 MiB instead of 787 MiB at 200,000), and a steady interval
// with its episodes in one, while a five-year daily backtest of a few
// segments still reads in one pass.
const MaxHistoryStatistics = 50_000

// historyStatisticsLimit is MaxHistoryStatistics, lowered by tests.
var historyStatisticsLimit = MaxHistoryStatistics

// historyBucketsPerStatement bounds the buckets one history statement
// assigns rows to. Each inner bound is one bind parameter, well under
// SQLite's 32,766 and PostgreSQL's 65,535; a longer history runs one
// statement per this many buckets, in the same transaction.
const historyBucketsPerStatement = 8192

// sqliteNumbered is SQLite's dialect with numbered placeholders (?NNN),
// which a history's statements need: their bucket expression's bounds
// are bound once and the expression is written twice.
var sqliteNumbered = func() dialect {
	d := sqliteDialect
	d.placeholder = func(n int) string { return "?" + strconv.Itoa(n) }
	d.numbered = true
	return d
}()

// QueryHistory answers every interval [bounds[i], bounds[i+1]) with the
// statistics Query would return for it, in one statement (plus one for
// cluster sums) per historyBucketsPerStatement intervals, all in one
// transaction: each row is assigned its interval in the database by a
// binary search over the bound parameters, with the comparisons Query
// makes on the same time column (t >= bounds[i] AND t < bounds[i+1]), and
// the rows are grouped by interval as well as by segment and score. The
// bounds may be any increasing instants (days of 23 or 25 hours in a time
// zone). Cluster sums are taken within each interval, as Query over that
// interval takes them. MaxSegments applies to each interval; more than
// MaxHistoryStatistics statistics in all fail with ErrTooLarge. The
// statements share the DataSource's timeout each.
//
// PostgreSQL groups by hashing, so the history costs about one scan of
// its rows. SQLite groups by sorting: a year's rows sorted at once cost
// more than 365 small sorts (BenchmarkSQLiteHistoryVersusPerInterval), so
// on SQLite the history gains where windows overlap (each row is read
// once, not once per window that covers it), not over disjoint intervals.
func (s *sqlSource) QueryHistory(ctx context.Context, def measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	if len(bounds) < 2 {
		return nil, nil
	}
	out, err := s.QueryHistories(ctx, def, []HistoryRead{{Query: q, Bounds: bounds}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// QueryHistories answers several histories of def in one round trip, each
// as QueryHistory answers it: reads without cluster sums, of the same
// segment columns and within historyBucketsPerStatement buckets in all,
// are one statement, their aggregations joined by UNION ALL and each
// read's buckets numbered after the previous read's; other reads run
// their own statements, in the same read-only transaction.
// MaxHistoryStatistics bounds all the answers together.
func (s *sqlSource) QueryHistories(ctx context.Context, def measure.Definition, reads []HistoryRead) ([][]*Result, error) {
	offsets := make([]int, len(reads)+1)
	for i, r := range reads {
		for k := 1; k < len(r.Bounds); k++ {
			if !r.Bounds[k].After(r.Bounds[k-1]) {
				return nil, wrap(ErrBadQuery, "history bounds not increasing at %s", r.Bounds[k].UTC().Format(time.RFC3339))
			}
		}
		offsets[i+1] = offsets[i] + max(len(r.Bounds)-1, 0)
	}
	d := s.dialect
	if !d.numbered {
		d = sqliteNumbered
	}
	h := &historyResults{results: make([]*Result, offsets[len(reads)])}
	var queries []query
	var texts []string
	if union(def, reads, offsets[len(reads)]) {
		st := &statement{d: d}
		parts := 0
		for i, r := range reads {
			if len(r.Bounds) < 2 {
				continue
			}
			if parts++; parts > 1 {
				st.text.WriteString(" UNION ALL ")
			}
			if err := aggregateInto(st, def, r.Query, span{bounds: r.Bounds, bucketed: true, offset: offsets[i]}); err != nil {
				return nil, err
			}
		}
		if parts > 0 {
			// The reads share their segment columns (union), so any of
			// them scans every part's rows.
			q := reads[0].Query
			queries = []query{{st, func(rows *sql.Rows) error {
				return scanAggregate(rows, def, q, &resultSink{h: h, n: len(h.results)})
			}}}
			texts = append(texts, st.text.String())
		}
	} else {
		for i, r := range reads {
			qs, ts, err := historyStatements(d, def, r.Query, r.Bounds, h, offsets[i])
			if err != nil {
				return nil, err
			}
			queries, texts = append(queries, qs...), append(texts, ts...)
		}
	}
	if len(queries) == 0 {
		return make([][]*Result, len(reads)), nil
	}
	h.statement = strings.Join(texts, ";\n")
	ctx, cancel := context.WithTimeout(ctx, s.timeout*time.Duration(len(queries)))
	defer cancel()
	if err := s.withQuery(ctx, queries); err != nil {
		return nil, s.classify(ctx, err)
	}
	for i, r := range h.results {
		// As History's per-interval answers: an interval without units is
		// nil.
		if r.Empty() {
			h.results[i] = nil
		}
	}
	out := make([][]*Result, len(reads))
	for i := range reads {
		if offsets[i+1] > offsets[i] {
			out[i] = h.results[offsets[i]:offsets[i+1]:offsets[i+1]]
		}
	}
	return out, nil
}

// union says whether reads are answered by one statement: none takes
// cluster sums, all group by the same segment columns under the same
// bound on segments (the rows are scanned alike), and their buckets fit
// one statement.
func union(def measure.Definition, reads []HistoryRead, buckets int) bool {
	if buckets > historyBucketsPerStatement || len(reads) == 0 {
		return false
	}
	for _, r := range reads {
		if clustered(def, r.Query) || !slices.Equal(r.Query.Segments, reads[0].Query.Segments) ||
			r.Query.maxSegments() != reads[0].Query.maxSegments() {
			return false
		}
	}
	return true
}

// historyStatements are the statements of one history whose answers are
// h's results from offset on: one per historyBucketsPerStatement
// intervals, and as many again for cluster sums.
func historyStatements(d dialect, def measure.Definition, q Query, bounds []time.Time, h *historyResults, offset int) ([]query, []string, error) {
	var queries []query
	var texts []string
	for base := 0; base < len(bounds)-1; base += historyBucketsPerStatement {
		end := min(base+historyBucketsPerStatement, len(bounds)-1)
		sp := span{bounds: bounds[base : end+1], bucketed: true}
		sink := &resultSink{h: h, base: offset + base, n: end - base}
		st, err := aggregateOver(d, def, q, sp)
		if err != nil {
			return nil, nil, err
		}
		texts = append(texts, st.text.String())
		queries = append(queries, query{st, func(rows *sql.Rows) error { return scanAggregate(rows, def, q, sink) }})
		if clustered(def, q) {
			cst, err := clusterAggregateOver(d, def, q, sp)
			if err != nil {
				return nil, nil, err
			}
			texts = append(texts, cst.text.String())
			csink := &resultSink{h: h, base: offset + base, n: end - base}
			queries = append(queries, query{cst, func(rows *sql.Rows) error { return scanClusters(rows, def, q, csink) }})
		}
	}
	return queries, texts, nil
}

// bucketExpr returns the SQL expression of the index i of the bucket
// [bounds[i], bounds[i+1]) that the time column t falls in, for a row the
// statement's WHERE has already kept within [bounds[0], bounds[n]): a
// binary search, so each row makes about log₂ n comparisons and each
// inner bound is bound once.
func bucketExpr(st *statement, t string, bounds []time.Time, offset int) string {
	var b strings.Builder
	var search func(lo, hi int)
	search = func(lo, hi int) {
		if hi-lo == 1 {
			b.WriteString(strconv.Itoa(offset + lo))
			return
		}
		mid := (lo + hi) / 2
		b.WriteString("CASE WHEN " + st.d.bucketTime(t) + " < " + st.bind(st.d.timeArg(bounds[mid])) + " THEN ")
		search(lo, mid)
		b.WriteString(" ELSE ")
		search(mid, hi)
		b.WriteString(" END")
	}
	if len(bounds) == 2 {
		// One bucket: a bare integer in GROUP BY would name a column.
		return "CAST(" + strconv.Itoa(offset) + " AS INTEGER)"
	}
	search(0, len(bounds)-1)
	return b.String()
}

// historyResults are a history's results, one per interval, nil until
// a row of the interval arrives.
type historyResults struct {
	results   []*Result
	statement string
	// statistics counts the Stats held, against MaxHistoryStatistics.
	statistics int
}

// resultSink is where the rows of one statement go: the result of a
// window, or the results of a history's buckets base to base+n-1, the
// statement's first column giving the bucket.
type resultSink struct {
	one *Result
	h   *historyResults
	// base and n are the statement's buckets within h.
	base, n int
	// rows counts the statement's rows per bucket (one count for a
	// window), against MaxSQLResultRows: a history's interval is bounded
	// as Query over it would be.
	rows []int
	// values are a history's segments' values by key, shared by its
	// buckets (Segment.Values is never written once a result is built).
	values map[string]map[string]string
}

func (k *resultSink) bucketed() bool { return k.h != nil }

// result counts a row of the statement (what names it in errors) and
// returns the result of its bucket.
func (k *resultSink) result(bucket int64, what string) (*Result, error) {
	if !k.bucketed() {
		if k.rows == nil {
			k.rows = make([]int, 1)
		}
		if k.rows[0]++; k.rows[0] > MaxSQLResultRows {
			return nil, wrap(ErrTooLarge, "%s answers more than %d rows (MaxSQLResultRows)", what, MaxSQLResultRows)
		}
		return k.one, nil
	}
	if bucket < 0 || bucket >= int64(k.n) {
		return nil, wrap(ErrBadQuery, "%s answers a row for interval %d of %d", what, bucket, k.n)
	}
	if k.rows == nil {
		k.rows = make([]int, k.n)
	}
	if k.rows[bucket]++; k.rows[bucket] > MaxSQLResultRows {
		return nil, wrap(ErrTooLarge, "%s answers more than %d rows (MaxSQLResultRows) for the interval from %s", what, MaxSQLResultRows,
			k.start(bucket))
	}
	i := k.base + int(bucket)
	if k.h.results[i] == nil {
		if err := k.hold(); err != nil {
			return nil, err
		}
		r := newResult(k.h.statement)
		k.h.results[i] = r
	}
	return k.h.results[i], nil
}

// start names a bucket in messages by its index in the history.
func (k *resultSink) start(bucket int64) string {
	return "interval " + strconv.Itoa(k.base+int(bucket))
}

// hold counts one more Stats of a history against MaxHistoryStatistics.
func (k *resultSink) hold() error {
	k.h.statistics++
	if k.h.statistics > historyStatisticsLimit {
		return wrap(ErrTooLarge, "the history holds more than %d statistics (MaxHistoryStatistics: intervals × (segments + 1)): read a shorter span, or segment by columns with fewer values", historyStatisticsLimit)
	}
	return nil
}

// segment returns res's segment of values, creating it within the
// query's bound on segments (per interval, for a history). values may be
// the caller's scratch map, refilled for every row: a new segment keeps a
// copy, one per segment of a history (its buckets share it), since every
// score's row of a segment names the same values.
func (k *resultSink) segment(res *Result, values map[string]string, q Query) (*Segment, error) {
	key := SegmentKey(values)
	if seg, ok := res.Segments[key]; ok {
		return seg, nil
	}
	own, ok := k.values[key]
	if !ok {
		own = make(map[string]string, len(values))
		for c, v := range values {
			own[c] = v
		}
		if k.bucketed() {
			if k.values == nil {
				k.values = map[string]map[string]string{}
			}
			k.values[key] = own
		}
	}
	seg := &Segment{Key: key, Values: own, Stats: &measure.Stats{}}
	res.Segments[key] = seg
	if len(res.Segments) > q.maxSegments() {
		return nil, tooManySegments(q.maxSegments(), len(res.Segments))
	}
	if k.bucketed() {
		if err := k.hold(); err != nil {
			return nil, err
		}
	}
	return seg, nil
}

// each calls f on every result the statement's rows may go to that
// exists already.
func (k *resultSink) each(f func(*Result)) {
	if !k.bucketed() {
		f(k.one)
		return
	}
	for _, r := range k.h.results[k.base : k.base+k.n] {
		if r != nil {
			f(r)
		}
	}
}
