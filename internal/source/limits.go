package source

import (
	"fmt"
	"io"
	"strings"
)

// Limits that keep one query's memory bounded, so a DataSource that
// answers too much fails its own Metric with ErrTooLarge instead of
// exhausting the manager that evaluates every tenant's Metrics.
const (
	// MaxCSVRecordBytes bounds one CSV record (a line, or the lines of a
	// record whose quoted field spans several): the reader fails past it
	// rather than buffering the record whole.
	MaxCSVRecordBytes = 1 << 20

	// MaxJSONRecordBytes bounds one JSON record of an HTTP JSON source, and
	// any other single value or token of a response (a skipped field, the
	// next link): the decoder buffers a value whole before decoding it.
	MaxJSONRecordBytes = 1 << 20

	// MaxResponseHeaderBytes bounds the headers of an HTTP source's answer
	// (HTTP JSON and Prometheus).
	MaxResponseHeaderBytes = 64 << 10

	// MaxPrometheusResponseBytes bounds the body of one Prometheus answer;
	// the client reads an answer whole before decoding it.
	MaxPrometheusResponseBytes = 32 << 20

	// MaxPrometheusSeries bounds the series of one Prometheus answer,
	// counted while the body streams in, before anything is decoded: a
	// decoded series takes far more memory than its JSON.
	MaxPrometheusSeries = 100_000

	// MaxSQLValueBytes bounds one string or blob inside an SQLite query
	// (SQLITE_LIMIT_LENGTH), so an expression such as randomblob(900000000)
	// fails at once instead of allocating outside Go's heap.
	MaxSQLValueBytes = 16 << 20

	// MaxSQLResultRows bounds the rows of an aggregation's answer (one per
	// segment and score or sketch bucket).
	MaxSQLResultRows = 1_000_000

	// MaxSegments is the default bound on the segments of one result,
	// whatever the source (each holds its own statistics); Query.MaxSegments
	// sets another (the manager's --max-segments).
	MaxSegments = 10_000
)

// maxSegments is the query's bound on segments.
func (q Query) maxSegments() int {
	if q.MaxSegments > 0 {
		return q.MaxSegments
	}
	return MaxSegments
}

// tooManySegments is the error of a result past a bound of limit segments.
func tooManySegments(limit, n int) error {
	return wrap(ErrTooManySegments, "more than %d segments (--max-segments, %d so far): segment by columns with fewer distinct values, or raise the manager's --max-segments", limit, n)
}

// sizeName renders a byte limit for messages.
func sizeName(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// headersTooLarge reports whether err is net/http's refusal of an answer
// whose headers pass the transport's MaxResponseHeaderBytes; the package
// has no error value for it.
func headersTooLarge(err error) bool {
	return err != nil && strings.Contains(err.Error(), "server response headers exceeded")
}

// itemLimit refuses to read more than max bytes past start, the offset
// where the item being parsed (a CSV record, a JSON value) begins, so a
// parser never buffers an item longer than that. Parsers ask for more
// only while the item has not ended, so everything read past start
// belongs to it; they move start when an item ends.
type itemLimit struct {
	r        io.Reader
	n, start int64
	max      int64
	tripped  bool
}

func (l *itemLimit) Read(p []byte) (int, error) {
	room := l.start + l.max - l.n
	if room <= 0 {
		l.tripped = true
		return 0, ErrTooLarge
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}
