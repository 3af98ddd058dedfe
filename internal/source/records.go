package source

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// RecordsTable is the table name a Metric gives for an in-process source
// (CSV, HTTP JSON), whose records are the only table it has.
const RecordsTable = "records"

// field is one field of a record as text: a CSV cell, a JSON string,
// number (its literal text) or boolean. Present is false for a missing
// field, an empty CSV cell and JSON null, which read as SQL's NULL does.
type field struct {
	text    string
	present bool
}

// record returns a record's field by its name (a CSV header) or path (a
// JSON dot path).
type record func(name string) field

// recordPlan is a Query compiled for sources that aggregate in-process:
// it folds one record at a time, so memory stays flat however many records
// stream past, and it applies the same rules as the SQL builder (window on
// the time column, filters, NULL as unrated, segments as text).
type recordPlan struct {
	def      measure.Definition
	q        Query
	fam      measure.Family
	timeCol  string
	from, to time.Time
	filters  []compiledFilter
	res      *Result
	// bySegment finds a record's segment by its values joined with a byte
	// that text fields cannot hold, without building a map per record.
	bySegment map[string]*measure.Stats
	keyBuf    []byte
	// clusters holds, when the query is clustered, each segment's
	// clusters (the whole population's without segments).
	clusters *recordClusters
}

type compiledFilter struct {
	Filter
	numbers []float64 // the values as numbers, when all of them are
}

// planRecords checks that q can be answered from records and prepares it.
func planRecords(def measure.Definition, q Query, from, to time.Time, statement string) (*recordPlan, error) {
	fam := def.Family()
	if fam == 0 || fam == measure.Derived {
		return nil, wrap(ErrBadQuery, "formula %q has no statistics of its own", def.Formula)
	}
	if fam == measure.Gauge {
		return nil, wrap(ErrBadQuery, "formula %q reads a gauge, which only Prometheus sources have", def.Formula)
	}
	switch {
	case q.SQL != "" || q.PromQL != "":
		return nil, wrap(ErrBadQuery, "this source reads records: map their fields with table %q and columns, not SQL or PromQL", RecordsTable)
	case q.Table != "" && q.Table != RecordsTable:
		return nil, wrap(ErrBadQuery, "this source has one table, %q, not %q", RecordsTable, q.Table)
	}
	p := &recordPlan{def: def, q: q, fam: fam, timeCol: q.Time, from: from, to: to, res: newResult(statement)}
	if clustered(def, q) {
		p.clusters = &recordClusters{bySegment: map[*measure.Stats]*segmentClusters{}}
	}
	if q.InteractionTime != "" {
		p.timeCol = q.InteractionTime
	}
	if p.timeCol == "" {
		return nil, wrap(ErrBadQuery, "the time field is required")
	}
	if fam == measure.RatioOfSums {
		if q.Numerator == "" || q.Denominator == "" {
			return nil, wrap(ErrBadQuery, "formula %q needs numerator and denominator fields", def.Formula)
		}
	} else if q.Value == "" {
		return nil, wrap(ErrBadQuery, "formula %q needs a value field", def.Formula)
	}
	for _, f := range q.Filters {
		cf := compiledFilter{Filter: f}
		switch f.Operator {
		case Equals, NotEquals, LessThan, GreaterThan:
			if len(f.Values) != 1 {
				return nil, wrap(ErrBadQuery, "filter on %s: %s takes exactly one value", f.Column, f.Operator)
			}
		case In, NotIn:
			if len(f.Values) == 0 {
				return nil, wrap(ErrBadQuery, "filter on %s: %s needs values", f.Column, f.Operator)
			}
		default:
			return nil, wrap(ErrBadQuery, "filter on %s: unknown operator %q", f.Column, f.Operator)
		}
		for _, v := range f.Values {
			x, ok := parseNumber(v)
			if !ok {
				cf.numbers = nil
				break
			}
			cf.numbers = append(cf.numbers, x)
		}
		p.filters = append(p.filters, cf)
	}
	return p, nil
}

// fold counts one record. A time that cannot be read is an error, since
// nothing can say which window the record belongs to; a value that cannot
// be read is counted as rejected, never dropped.
func (p *recordPlan) fold(get record, where func() string) error {
	tf := get(p.timeCol)
	if !tf.present {
		return nil // as SQL's NULL: in no window
	}
	at, err := parseTime(tf.text)
	if err != nil {
		return wrap(ErrBadQuery, "%s: field %s: %v", where(), p.timeCol, err)
	}
	if at.Before(p.from) || !at.Before(p.to) {
		return nil
	}
	for i := range p.filters {
		if !p.filters[i].keeps(get(p.filters[i].Column)) {
			return nil
		}
	}
	targets := [2]*measure.Stats{p.res.Overall}
	if len(p.q.Segments) > 0 {
		if targets[1], err = p.segmentOf(get); err != nil {
			return err
		}
	}
	row, ok := p.row(get)
	if ok && p.clusters != nil {
		seg := targets[0]
		if targets[1] != nil {
			seg = targets[1]
		}
		c, err := p.clusters.of(seg, get(p.q.Cluster).text)
		if err != nil {
			return err
		}
		p.def.Fold(c, row)
	}
	for _, s := range targets {
		if s == nil {
			continue
		}
		if !ok {
			s.Rejected.Add(1)
			continue
		}
		p.def.Fold(s, row)
	}
	return nil
}

// segmentOf returns the statistics of the record's segment; a new segment
// past the query's bound is an error.
func (p *recordPlan) segmentOf(get record) (*measure.Stats, error) {
	p.keyBuf = p.keyBuf[:0]
	for _, c := range p.q.Segments {
		p.keyBuf = append(append(p.keyBuf, get(c).text...), 0)
	}
	if s, ok := p.bySegment[string(p.keyBuf)]; ok {
		return s, nil
	}
	if len(p.bySegment) >= p.q.maxSegments() {
		return nil, tooManySegments(p.q.maxSegments(), len(p.bySegment))
	}
	values := make(map[string]string, len(p.q.Segments))
	for _, c := range p.q.Segments {
		values[c] = get(c).text
	}
	s := p.res.segment(values).Stats
	if p.bySegment == nil {
		p.bySegment = map[string]*measure.Stats{}
	}
	p.bySegment[string(p.keyBuf)] = s
	return s, nil
}

// row reads a record's value, weight, numerator and denominator; ok is
// false when a present field is not a number.
func (p *recordPlan) row(get record) (measure.Row, bool) {
	r := measure.Row{Weight: 1}
	if p.q.Weight != "" {
		wf := get(p.q.Weight)
		w, ok := parseNumber(wf.text)
		if !wf.present || !ok {
			return r, false
		}
		r.Weight = w
		if w == 0 {
			// measure.Fold reads a zero weight as "unweighted"; in the data it
			// means a unit that should not count, so it is rejected rather
			// than counted with weight 1.
			return r, false
		}
	}
	if p.fam == measure.RatioOfSums {
		nf, df := get(p.q.Numerator), get(p.q.Denominator)
		if !nf.present || !df.present {
			return r, true // unrated
		}
		n, ok1 := parseNumber(nf.text)
		d, ok2 := parseNumber(df.text)
		if !ok1 || !ok2 {
			return r, false
		}
		r.Num, r.Den, r.Valid = n, d, true
		return r, true
	}
	vf := get(p.q.Value)
	if !vf.present {
		return r, true // unrated
	}
	v, ok := parseNumber(vf.text)
	if !ok {
		return r, false
	}
	r.Value, r.Valid = v, true
	return r, true
}

// keeps applies the filter the way SQL does: a missing field compares
// false under every operator; numbers compare as numbers when the field
// and every value are numbers, text otherwise.
func (f *compiledFilter) keeps(v field) bool {
	if !v.present {
		return false
	}
	x, numeric := 0.0, f.numbers != nil
	if numeric {
		x, numeric = parseNumber(v.text)
	}
	cmp := func(i int) int {
		if numeric {
			switch {
			case x < f.numbers[i]:
				return -1
			case x > f.numbers[i]:
				return 1
			}
			return 0
		}
		return strings.Compare(v.text, f.Values[i])
	}
	switch f.Operator {
	case Equals:
		return cmp(0) == 0
	case NotEquals:
		return cmp(0) != 0
	case LessThan:
		return cmp(0) < 0
	case GreaterThan:
		return cmp(0) > 0
	case In, NotIn:
		found := false
		for i := range f.Values {
			if cmp(i) == 0 {
				found = true
				break
			}
		}
		return found == (f.Operator == In)
	}
	return false
}

// result finishes the plan.
func (p *recordPlan) result() *Result {
	if p.clusters != nil {
		p.clusters.addTo(p.def, p.res)
	}
	if len(p.q.Segments) == 0 {
		p.res.Segments = map[string]*Segment{}
	}
	return p.res
}

// parseNumber reads a decimal number; JSON booleans read as 1 and 0 so a
// true/false outcome can be a rate's value.
func parseNumber(s string) (float64, bool) {
	switch s {
	case "true":
		return 1, true
	case "false":
		return 0, true
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

// timeLayouts are the time formats records may use. Times without a zone
// are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999", "2006-01-02"}

// parseTime reads an RFC 3339 time (or its space-separated form, or a date,
// UTC when no zone is given) or Unix seconds.
func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
		sec, frac := math.Modf(x)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time, a date or Unix seconds", s)
}

// checkEvery is how many records pass between looks at the context, so a
// long file is cancelled at the timeout without a syscall per record.
const checkEvery = 4096

func cancelled(ctx context.Context, n int) error {
	if n%checkEvery != 0 {
		return nil
	}
	return ctx.Err()
}
