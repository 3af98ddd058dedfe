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
	// Segments are the columns the metric is also measured by.
	Segments []string
	Filters  []Filter
}

// Segment is one segment's statistics.
type Segment struct {
	// Key is the segment's column=value pairs sorted by column and joined
	// by commas; "" for the whole population.
	Key    string
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

// SegmentKey renders segment values as the canonical key.
func SegmentKey(values map[string]string) string {
	cols := make([]string, 0, len(values))
	for c := range values {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + "=" + values[c]
	}
	return strings.Join(parts, ",")
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
