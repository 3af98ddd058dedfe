package source

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// Typed errors; callers branch on them with errors.Is.
var (
	// ErrUnreachable: the source could not be reached.
	ErrUnreachable = errors.New("source unreachable")
	// ErrUnauthorized: the credentials were refused.
	ErrUnauthorized = errors.New("source refused the credentials")
	// ErrBadQuery: the query is invalid for this source (an unknown column,
	// an identifier that is not one, a statement that tries to write).
	ErrBadQuery = errors.New("bad query")
	// ErrTimeout: the query ran past the DataSource's timeout.
	ErrTimeout = errors.New("query timed out")
	// ErrPathNotAllowed: a file path leaves the allowed data roots.
	ErrPathNotAllowed = errors.New("path not allowed")
	// ErrAddressNotAllowed: an HTTP source's address (or a redirect's, or
	// a next page's) is one the network policy refuses.
	ErrAddressNotAllowed = errors.New("address not allowed")
	// ErrTooLarge: an answer (a CSV line, a JSON record, a Prometheus
	// result, an SQL value or result) passed one of the limits that keep a
	// query's memory bounded; the message names the limit.
	ErrTooLarge = errors.New("answer too large")
	// ErrTooManySegments: a result has more segments than the query's
	// bound (Query.MaxSegments); the Metric's segment columns have to
	// change, or the manager's bound.
	ErrTooManySegments = errors.New("too many segments")
)

// FilterOperator compares a column with values.
type FilterOperator string

// The filter operators.
const (
	Equals      FilterOperator = "Equals"
	NotEquals   FilterOperator = "NotEquals"
	In          FilterOperator = "In"
	NotIn       FilterOperator = "NotIn"
	LessThan    FilterOperator = "LessThan"
	GreaterThan FilterOperator = "GreaterThan"
)

// Filter keeps rows whose column compares true with the values.
type Filter struct {
	Column   string
	Operator FilterOperator
	Values   []string
}

// Query says where a metric's units are and how they map to roles.
type Query struct {
	// Table holds one row per unit; or SQL is a SELECT used as the table.
	// In-process sources (CSV, HTTP JSON) read their records as the table
	// named "records".
	Table string
	SQL   string
	// PromQL is a Prometheus source's expression of the value, evaluated
	// at the end of the window; SamplesPromQL optionally counts the samples
	// behind it. Both may write $__window where a range selector should
	// cover the window, such as avg_over_time(x[$__window]).
	PromQL, SamplesPromQL string
	// Columns mapped to roles. Weight, Numerator, Denominator and
	// InteractionTime are optional.
	Value, Time, InteractionTime, Weight, Numerator, Denominator string
	// Cluster optionally names the column whose equal values mark units
	// that are not independent (the account a response belongs to): the
	// statistics then carry the per-cluster sums of measure.Clusters,
	// clusters taken within the query's range and segment. Rows without
	// a cluster value form one cluster together. Sources without rows
	// (Prometheus) refuse it.
	Cluster string
	// Segments are the columns the metric is also measured by.
	Segments []string
	Filters  []Filter
	// MaxSegments bounds the segments of the result (MaxSegments when 0):
	// past it the query fails with ErrTooManySegments, nothing dropped.
	MaxSegments int
}

// Segment is one segment's statistics.
type Segment struct {
	// Key is the segment's column=value pairs sorted by column and joined
	// by commas; "" for the whole population.
	Key string
	// Values are the segment's value by column. Results merged from the
	// same buckets share them: they are never written once a result is
	// built.
	Values map[string]string
	Stats  *measure.Stats
}

// Result is what a query returns.
type Result struct {
	// Overall merges every segment.
	Overall *measure.Stats
	// Segments by key; empty when the query has no segment columns.
	Segments map[string]*Segment
	// Statement is the query as run, with placeholders for bound values.
	Statement string
}

// Source is a connected DataSource.
type Source interface {
	// Query returns the statistics of the units whose time lies in
	// [from, to).
	Query(ctx context.Context, d measure.Definition, q Query, from, to time.Time) (*Result, error)
	// Check runs a cheap connectivity check.
	Check(ctx context.Context) error
	// Close releases the source's connections.
	Close() error
}

// SegmentKey renders segment values as the canonical key: column=value
// pairs sorted by column and joined by commas, "" for the whole
// population. A backslash, comma or equals sign inside a column or value
// is escaped with a backslash, so the key is unambiguous and
// ParseSegmentKey gives the values back.
func SegmentKey(values map[string]string) string {
	cols := make([]string, 0, len(values))
	for c := range values {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		keyEscaper.WriteString(&b, c)
		b.WriteByte('=')
		keyEscaper.WriteString(&b, values[c])
	}
	return b.String()
}

var keyEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `=`, `\=`)

// ParseSegmentKey is the inverse of SegmentKey.
func ParseSegmentKey(key string) (map[string]string, error) {
	values := map[string]string{}
	if key == "" {
		return values, nil
	}
	var col, cur strings.Builder
	inValue := false
	flush := func() error {
		if !inValue {
			return fmt.Errorf("segment key %q: a pair without '='", key)
		}
		c := col.String()
		if _, dup := values[c]; dup {
			return fmt.Errorf("segment key %q: column %q twice", key, c)
		}
		values[c] = cur.String()
		col.Reset()
		cur.Reset()
		inValue = false
		return nil
	}
	for i := 0; i < len(key); i++ {
		ch := key[i]
		switch {
		case ch == '\\':
			if i+1 == len(key) {
				return nil, fmt.Errorf("segment key %q: a trailing backslash", key)
			}
			i++
			cur.WriteByte(key[i])
		case ch == '=' && !inValue:
			col.WriteString(cur.String())
			cur.Reset()
			inValue = true
		case ch == '=':
			return nil, fmt.Errorf("segment key %q: an unescaped '=' in a value", key)
		case ch == ',':
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			cur.WriteByte(ch)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return values, nil
}

// newResult returns an empty result.
func newResult(statement string) *Result {
	return &Result{Overall: &measure.Stats{}, Segments: map[string]*Segment{}, Statement: statement}
}

// segment returns the result's segment for values, creating it.
func (r *Result) segment(values map[string]string) *Segment {
	key := SegmentKey(values)
	s, ok := r.Segments[key]
	if !ok {
		s = &Segment{Key: key, Values: values, Stats: &measure.Stats{}}
		r.Segments[key] = s
	}
	return s
}

func wrap(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}
